"""The recurrent networks: finite-difference gradients, equivalences, the call contract, bad input."""
import numpy as np
import pytest

import rnnkit
from rnnkit.gradcheck import gradcheck
from rnnkit.layers.recurrent import Recurrent

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


@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
@pytest.mark.parametrize("num_layers,bidirectional,merge,lengths", SHAPES)
def test_finite_differences(name, cls, options, num_layers, bidirectional, merge, lengths, rng):
    net = make(cls, options, num_layers, bidirectional, merge)
    x = rng.normal(size=(B, T, D))
    grads = check_network(net, x, lengths, rng)
    assert all(np.abs(g).max() > 0 for g in grads.values()), "a gradient is identically zero"


@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
def test_finite_differences_without_initial_state(name, cls, options, rng):
    check_network(make(cls, options, 2, True), rng.normal(size=(B, T, D)), LENGTHS, rng, with_state=False)


@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
def test_layer_equals_plain_loop_over_cell(name, cls, options, rng):
    net = make(cls, options)
    cell = net.layers[0].cell
    x = rng.normal(size=(B, T, D))
    y, (h, *rest), _ = net.forward(x)
    state = cell.zero_state(B)
    for t in range(T):
        state, _ = cell.step(x[:, t] @ cell.params["Wx"] + cell.params["bx"], state)
        np.testing.assert_allclose(y[:, t], state[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h[0], state[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
def test_reverse_equals_forward_on_flipped_input(name, cls, options, rng):
    net = make(cls, options, bidirectional=True)
    x = rng.normal(size=(B, T, D))
    y, (h, *_), _ = net.forward(x)
    forward_only = Recurrent(net.layers[0].bwd.cell, reverse=False)
    y_flip, (h_flip, *_), _ = forward_only.forward(x[:, ::-1].copy())
    np.testing.assert_allclose(y[:, :, H:], y_flip[:, ::-1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h[1], h_flip[0], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
def test_ragged_batch_equals_each_sequence_alone(name, cls, options, rng):
    net = make(cls, options, num_layers=2, bidirectional=True)
    x = rng.normal(size=(B, T, D))
    x_padded = x.copy()
    for b, L in enumerate(LENGTHS):
        x_padded[b, L:] = 1e3  # padding content must not matter
    y, state, cache = net.forward(x_padded, lengths=LENGTHS)
    dy = rng.normal(size=y.shape)
    dx, _, grads = net.backward(dy, None, cache)
    total = {k: np.zeros_like(v) for k, v in grads.items()}
    for b, L in enumerate(LENGTHS):
        yb, sb, cb = net.forward(x[b:b + 1, :L])
        np.testing.assert_allclose(y[b, :L], yb[0], rtol=1e-10, atol=1e-12)
        assert np.all(y[b, L:] == 0), "outputs at padded steps must be zero"
        for s_all, s_one in zip(state, sb):
            np.testing.assert_allclose(s_all[:, b], s_one[:, 0], rtol=1e-10, atol=1e-12)
        dxb, _, gb = net.backward(dy[b:b + 1, :L], None, cb)
        np.testing.assert_allclose(dx[b, :L], dxb[0], rtol=1e-9, atol=1e-12)
        assert np.all(dx[b, L:] == 0), "padded steps must receive no gradient"
        for k in total:
            total[k] += gb[k]
    for k in grads:
        np.testing.assert_allclose(grads[k], total[k], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
def test_two_forwards_then_two_backwards(name, cls, options, rng):
    net = make(cls, options, num_layers=2, bidirectional=True)
    x1, x2 = rng.normal(size=(B, T, D)), rng.normal(size=(B, T + 1, D))
    y1, _, c1 = net.forward(x1)
    y2, _, c2 = net.forward(x2)
    dy1, dy2 = rng.normal(size=y1.shape), rng.normal(size=y2.shape)
    dx2, _, g2 = net.backward(dy2, None, c2)
    dx1, _, g1 = net.backward(dy1, None, c1)
    fresh1 = net.backward(dy1, None, net.forward(x1)[2])
    np.testing.assert_array_equal(dx1, fresh1[0])
    for k in g1:
        np.testing.assert_array_equal(g1[k], fresh1[2][k])
    assert dx2.shape == x2.shape


def test_dropout_between_layers_is_deterministic_and_checked(rng):
    net = rnnkit.LSTM(D, H, num_layers=3, dropout=0.5, seed=0, dtype=np.float64)
    x = rng.normal(size=(B, T, D))
    y_eval, _, _ = net.forward(x, training=False)
    y_a, _, _ = net.forward(x, training=True, rng=np.random.default_rng(7))
    y_b, _, cache = net.forward(x, training=True, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(y_a, y_b)
    assert not np.allclose(y_a, y_eval)
    # the gradient with a fixed dropout mask is exact
    gy = rng.normal(size=y_a.shape)

    def loss():
        return (net.forward(x, training=True, rng=np.random.default_rng(7))[0] * gy).sum()

    dx, _, grads = net.backward(gy, None, cache)
    errors = gradcheck(loss, {**net.params, "x": x}, {**grads, "x": dx})
    assert max(errors.values()) < 1e-6, errors


def test_float32_default_and_same_numbers_as_float64(rng):
    net32 = rnnkit.GRU(D, H, num_layers=2, seed=3)
    net64 = rnnkit.GRU(D, H, num_layers=2, seed=3, dtype=np.float64)
    assert all(v.dtype == np.float32 for v in net32.params.values())
    x = rng.normal(size=(B, T, D))
    y32, _, c32 = net32.forward(x.astype(np.float32))
    y64, _, c64 = net64.forward(x)
    assert y32.dtype == np.float32
    # float32 rounding grows with what is summed (a random walk: eps32 * sqrt(terms) times the
    # magnitude; BLAS builds add in different orders), not a fixed bound that one CPU's order
    # happens to meet: each output sums over D + H inputs per step, each gradient over B * T
    # steps, carried through both layers
    eps = np.finfo(np.float32).eps
    scale = max(np.abs(y64).max(), 1.0)
    np.testing.assert_allclose(y32, y64, rtol=0, atol=16 * eps * np.sqrt(D + H) * scale)
    _, _, g32 = net32.backward(np.ones_like(y32), None, c32)
    _, _, g64 = net64.backward(np.ones_like(y64), None, c64)
    for k in g32:
        assert g32[k].dtype == np.float32
        scale = max(np.abs(g64[k]).max(), 1.0)
        np.testing.assert_allclose(g32[k], g64[k], rtol=0, atol=16 * eps * np.sqrt(B * T * (D + H)) * scale, err_msg=k)


def test_same_seed_same_weights_different_seed_different():
    a, b, c = (rnnkit.LSTM(D, H, 2, True, seed=s).params for s in (5, 5, 6))
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_init_options():
    net = rnnkit.LSTM(D, H, init="xavier", forget_bias=1.0, seed=0)
    Wh = net.params["layers.0.Wh"]
    for g in range(4):  # orthogonal recurrent blocks
        block = Wh[:, g * H:(g + 1) * H].astype(np.float64)
        np.testing.assert_allclose(block.T @ block, np.eye(H), atol=1e-6)
    np.testing.assert_array_equal(net.params["layers.0.bx"][H:2 * H], 1.0)
    np.testing.assert_array_equal(net.params["layers.0.bh"][H:2 * H], 0.0)
    bound = 1 / np.sqrt(H)
    default = rnnkit.RNN(D, H, seed=0)
    assert all(np.abs(v).max() <= bound for v in default.params.values())
    with pytest.raises(ValueError, match="unknown init scheme"):
        rnnkit.RNN(D, H, init="nope")


@pytest.mark.parametrize("x,kind,match", [
    (np.zeros((2, 3, 4)), ValueError, r"expected x of shape \(B, T, 5\), got \(2, 3, 4\)"),
    (np.zeros((3, 5)), ValueError, r"expected x of shape \(B, T, 5\), got \(3, 5\)"),
    (np.zeros((2, 3, 5), dtype=np.int64), TypeError, "float array x.*int64"),
    (np.full((2, 3, 5), np.nan), ValueError, "NaN or Inf"),
])
def test_bad_input_is_named(x, kind, match):
    net = rnnkit.LSTM(D, H)
    with pytest.raises(kind, match=match) as info:
        net.forward(x)
    assert "LSTM(5, 3" in str(info.value)


def test_bad_lengths_and_state_are_named():
    net = rnnkit.GRU(D, H, num_layers=2)
    x = np.zeros((2, 3, D), np.float32)
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 3\]"):
        net.forward(x, lengths=np.array([4, 1]))
    with pytest.raises(ValueError, match=r"lengths of shape \(2,\)"):
        net.forward(x, lengths=np.array([1, 2, 3]))
    with pytest.raises(TypeError, match="lengths must be integers"):
        net.forward(x, lengths=np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"state h of shape \(2, 2, 3\)"):
        net.forward(x, state=(np.zeros((1, 2, H)),))
    lstm = rnnkit.LSTM(D, H)
    with pytest.raises(ValueError, match=r"state as a tuple \(h, c\)"):
        lstm.forward(x, state=(np.zeros((1, 2, H)),))
    y, _, cache = net.forward(x)
    with pytest.raises(ValueError, match=r"expected dy of shape \(2, 3, 3\)"):
        net.backward(np.zeros((2, 3, 4)), None, cache)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="nonlinearity"):
        rnnkit.RNN(D, H, nonlinearity="gelu")
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        rnnkit.GRU(D, 0)
    with pytest.raises(ValueError, match="num_layers"):
        rnnkit.LSTM(D, H, num_layers=0)
    with pytest.raises(ValueError, match="merge must be one of"):
        rnnkit.LSTM(D, H, bidirectional=True, merge="max")
    with pytest.raises(TypeError, match="dtype"):
        rnnkit.LSTM(D, H, dtype=np.int32)


def unnamed_tuples(cache, where="cache"):
    """Paths of the positional tuples inside a cache (a shape, all ints, is not a cache)."""
    if isinstance(cache, tuple):
        if all(isinstance(v, (int, np.integer)) for v in cache):
            return []
        if not hasattr(cache, "_fields"):
            return [where]
        return [p for name, v in zip(cache._fields, cache) for p in unnamed_tuples(v, f"{where}.{name}")]
    if isinstance(cache, list):
        return [p for i, v in enumerate(cache) for p in unnamed_tuples(v, f"{where}[{i}]")]
    return []


@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
@pytest.mark.parametrize("merge", ["concat", "product"])
def test_caches_are_named_all_the_way_down(name, cls, options, merge, rng):
    """Every cache a layer or a cell returns is a NamedTuple, read by field name: a positional
    tuple would let a reordered field go unnoticed."""
    net = make(cls, options, num_layers=2, bidirectional=True, merge=merge)
    x = rng.normal(size=(B, T, D))
    for lengths in (None, LENGTHS):
        _, _, cache = net.forward(x, lengths=lengths)
        assert unnamed_tuples(cache) == []
        layer = cache.layers[1].layer
        assert (layer.yf is not None) == (merge == "product")
        assert cache.layers[1].dropout is None and cache.layers[0].dropout is None   # p = 0
    cell = net.layers[0].fwd.cell
    new, step = cell.step(cell.project_inputs(x[:, 0]), cell.zero_state(B))
    assert step.h is not None and unnamed_tuples(step) == []
    if name.startswith("lstm"):
        assert step._fields == ("h", "c", "i", "f", "g", "o", "c_new", "tanh_c")
        np.testing.assert_array_equal(step.c_new, new[1])


def test_networks_run_inference_by_default(rng):
    """forward() without training=True is inference, as in PyTorch after eval(): dropout between
    layers is off, so the same input gives the same output whatever rng is given."""
    net = rnnkit.GRU(D, H, num_layers=3, dropout=0.5, seed=0, dtype=np.float64)
    x = rng.normal(size=(B, T, D))
    y_default, _, _ = net.forward(x, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(y_default, net.forward(x, rng=np.random.default_rng(2))[0])
    np.testing.assert_array_equal(y_default, net.forward(x, training=False)[0])
    assert not np.allclose(y_default, net.forward(x, training=True, rng=np.random.default_rng(1))[0])
