"""The recurrent networks: finite-difference gradients, the call contract, bad input, caches."""
import numpy as np
import pytest

import rnnkit
from rnnkit.gradcheck import gradcheck
from network_cases import B, D, H, IDS, LENGTHS, SHAPES, T, VARIANTS, check_network, make


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
