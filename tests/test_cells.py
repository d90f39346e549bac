"""One cell step at a time: ``step_backward`` against finite differences of ``step``, for every
cell variant, and the registry of cell names."""
import numpy as np
import pytest

from network_cases import IDS, VARIANTS
from rnnkit.cells import GRUCell, LSTMCell, RNNCell, cell_names, cell_type, register_cell, unregister_cell
from rnnkit.gradcheck import gradcheck

B, D, H = 3, 5, 4


def cell_of(cell_class, options: dict, seed: int = 0):
    cell = cell_class(D, H, dtype=np.float64, seed=seed, **options)
    if "p" in cell.params:                       # peepholes start at zero: make them matter
        cell.params["p"][...] = np.random.default_rng(seed + 1).normal(size=cell.params["p"].shape)
    return cell


@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
def test_step_backward_inverts_step(name, cls, options, rng):
    """dxp, the previous state's gradient and the recurrent parameters' gradients of one step
    against float64 finite differences, with a random gradient on every part of the new state."""
    cell = cell_of(cls.cell_class, options)
    G = cell.num_gates
    xp = rng.normal(size=(B, G * H))
    state = tuple(rng.normal(size=(B, H)) for _ in cell.state_names)
    new, cache = cell.step(xp, state)
    upstream = tuple(rng.normal(size=s.shape) for s in new)

    def loss():
        out, _ = cell.step(xp, state)
        return sum((a * g).sum() for a, g in zip(out, upstream))

    dxp, dhp, dstate = cell.step_backward(upstream, cache)
    grads = cell.recurrent_grads([cache], dhp)
    arrays = {"xp": xp, **{f"state.{k}": s for k, s in enumerate(state)}}
    analytic = {"xp": dxp, **{f"state.{k}": d for k, d in enumerate(dstate)}}
    for key in grads:                            # Wh, bh (and peepholes): the step's own parameters
        arrays[key], analytic[key] = cell.params[key], grads[key]
    errors = gradcheck(loss, arrays, analytic)
    assert max(errors.values()) < 1e-6, errors
    assert all(np.abs(g).max() > 0 for g in analytic.values()), "a gradient is identically zero"


def test_every_registered_name_builds_its_variant():
    expected = {"lstm": (LSTMCell, {}), "gru": (GRUCell, {}), "rnn": (RNNCell, {}),
                "lstm_peephole": (LSTMCell, {"peephole": True}), "gru_cho": (GRUCell, {"reset_after": False}),
                "gru_update": (GRUCell, {"reset_gate": False}), "rnn_relu": (RNNCell, {"nonlinearity": "relu"}),
                "rnn_sigmoid": (RNNCell, {"nonlinearity": "sigmoid"})}
    assert set(expected) <= set(cell_names())
    for name, (cls, options) in expected.items():
        entry = cell_type(name)
        assert entry.cell_class is cls and entry.options == options, name
        cell = entry.cell_class(3, 2, **entry.options)
        for option, value in options.items():
            assert getattr(cell, option) == value, (name, option)


def test_unknown_names_and_bad_registrations_are_named():
    with pytest.raises(ValueError, match=r"who: cell must be one of \[.*'lstm'.*\], got 'lstmm'"):
        cell_type("lstmm", "who")
    with pytest.raises(TypeError, match="subclass of rnnkit.cells.Cell"):
        register_cell("thing", dict)
    with pytest.raises(ValueError, match="a word"):
        register_cell("two words", RNNCell)


def test_a_name_can_be_registered_and_removed():
    register_cell("rnn_relu_again", RNNCell, nonlinearity="relu")
    try:
        assert "rnn_relu_again" in cell_names()
        assert cell_type("rnn_relu_again").options == {"nonlinearity": "relu"}
    finally:
        unregister_cell("rnn_relu_again")
    assert "rnn_relu_again" not in cell_names()
