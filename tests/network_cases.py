"""Network configurations shared by the tests of the layers and networks: every cell variant,
the shapes that matter (layers, directions, merges, ragged lengths) and a float64
finite-difference check of a whole network."""
import numpy as np

import rnnkit
from rnnkit.gradcheck import gradcheck

B, T, D, H = 3, 4, 5, 3
LENGTHS = np.array([4, 2, 3])

VARIANTS = [
    ("rnn-tanh", rnnkit.RNN, {}),
    ("rnn-relu", rnnkit.RNN, {"nonlinearity": "relu"}),
    ("rnn-sigmoid", rnnkit.RNN, {"nonlinearity": "sigmoid"}),
    ("gru", rnnkit.GRU, {}),
    ("gru-reset-before", rnnkit.GRU, {"reset_after": False}),
    ("gru-update-only", rnnkit.GRU, {"reset_gate": False}),
    ("lstm", rnnkit.LSTM, {}),
    ("lstm-peephole", rnnkit.LSTM, {"peephole": True}),
]
IDS = [v[0] for v in VARIANTS]

SHAPES = [  # (num_layers, bidirectional, merge, lengths)
    (1, False, "concat", None),
    (2, False, "concat", LENGTHS),
    (1, True, "concat", LENGTHS),
    (2, True, "concat", None),
    (1, True, "sum", LENGTHS),
    (1, True, "mean", None),
    (1, True, "product", LENGTHS),
]


def make(cls, options, num_layers=1, bidirectional=False, merge="concat", dtype=np.float64, seed=0):
    net = cls(D, H, num_layers, bidirectional, merge=merge, seed=seed, dtype=dtype, **options)
    rng = np.random.default_rng(seed + 1)
    for key, value in net.params.items():
        if key.endswith(".p"):  # peepholes start at zero; make them matter
            value[...] = rng.normal(size=value.shape)
    return net


def check_network(net, x, lengths, rng, with_state=True):
    state0 = tuple(rng.normal(size=s.shape) for s in net.zero_state(x.shape[0])) if with_state else None
    y, state, cache = net.forward(x, state0, lengths)
    gy = rng.normal(size=y.shape)
    gs = tuple(rng.normal(size=s.shape) for s in state)   # non-zero final-state gradient

    def loss():
        y, s, _ = net.forward(x, state0, lengths)
        return (y * gy).sum() + sum((a * b).sum() for a, b in zip(s, gs))

    dx, dstate0, grads = net.backward(gy, gs, cache)
    assert set(grads) == set(net.params)
    for k in grads:
        assert grads[k].shape == net.params[k].shape
    arrays = {**net.params, "x": x}
    analytic = {**grads, "x": dx}
    if with_state:
        arrays.update({f"state{i}": s for i, s in enumerate(state0)})
        analytic.update({f"state{i}": s for i, s in enumerate(dstate0)})
    errors = gradcheck(loss, arrays, analytic)
    bad = {k: v for k, v in errors.items() if v > 1e-6}
    assert not bad, f"gradient mismatch: {bad}"
    return grads
