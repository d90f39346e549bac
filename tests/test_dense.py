"""Dense: shapes, float64 gradient checks, PyTorch parity, init, statelessness, input errors."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.gradcheck import gradcheck
from rnnkit.layers.dense import Dense

D, V = 5, 3          # D != V, so a transposed W or dW cannot pass
SHAPES = [(4, 5), (2, 4, 5)]  # (B, D) and (B, T, D) with B >= 2, T >= 3


def check_all(dense: Dense, x: np.ndarray, dy: np.ndarray) -> dict[str, float]:
    """Relative errors of every parameter and the input for the loss sum(y * dy)."""
    _, cache = dense.forward(x)
    dx, grads = dense.backward(dy, cache)
    loss = lambda: float(np.sum(dense.forward(x)[0] * dy))
    return gradcheck(loss, {**dense.params, "x": x}, {**grads, "x": dx})


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_gradcheck_every_parameter_and_input(shape, bias):
    rng = np.random.default_rng(0)
    dense = Dense(D, V, bias=bias, dtype=np.float64, seed=1)
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(shape[:-1] + (V,))
    errors = check_all(dense, x, dy)
    assert set(errors) == ({"W", "b", "x"} if bias else {"W", "x"})
    assert max(errors.values()) < 1e-7, errors


def test_gradcheck_catches_a_wrong_gradient():
    """The check above can fail: a backward pass off by a little is flagged."""
    rng = np.random.default_rng(0)
    dense = Dense(D, V, dtype=np.float64, seed=1)
    x, dy = rng.standard_normal((2, 3, D)), rng.standard_normal((2, 3, V))
    dx, grads = dense.backward(dy, dense.forward(x)[1])
    grads["W"][0, 0] += 1e-3
    loss = lambda: float(np.sum(dense.forward(x)[0] * dy))
    assert gradcheck(loss, {"W": dense.params["W"]}, grads)["W"] > 1e-5


@pytest.mark.parametrize("shape", [(D,), (4, D), (2, 3, D), (2, 3, 4, D), (0, 3, D)])
def test_shapes_and_dtype(shape):
    dense = Dense(D, V, seed=0)
    x = np.ones(shape, dtype=np.float32)
    y, cache = dense.forward(x)
    assert y.shape == shape[:-1] + (V,) and y.dtype == np.float32
    dx, grads = dense.backward(np.ones_like(y), cache)
    assert dx.shape == shape and dx.dtype == np.float32
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in dense.params.items()}
    assert all(g.dtype == np.float32 for g in grads.values())


def test_forward_values_and_float64_input_is_cast():
    dense = Dense(D, V, seed=0)
    x = np.random.default_rng(1).standard_normal((2, 3, D))   # float64 into a float32 layer
    y, _ = dense.forward(x)
    assert y.dtype == np.float32
    expected = x @ dense.params["W"].astype(np.float64) + dense.params["b"]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_two_forwards_then_two_backwards_in_any_order():
    rng = np.random.default_rng(0)
    dense = Dense(D, V, dtype=np.float64, seed=1)
    x1, x2 = rng.standard_normal((2, 3, D)), rng.standard_normal((4, 3, D))
    dy1, dy2 = rng.standard_normal((2, 3, V)), rng.standard_normal((4, 3, V))
    alone1 = dense.backward(dy1, dense.forward(x1)[1])
    alone2 = dense.backward(dy2, dense.forward(x2)[1])
    _, c1 = dense.forward(x1)
    _, c2 = dense.forward(x2)
    late2 = dense.backward(dy2, c2)
    late1 = dense.backward(dy1, c1)
    for alone, late in ((alone1, late1), (alone2, late2)):
        np.testing.assert_array_equal(alone[0], late[0])
        for k in dense.params:
            np.testing.assert_array_equal(alone[1][k], late[1][k])


# ---------------------------------------------------------------- parity with torch.nn.Linear

@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_parity_with_torch_linear(dtype, tol, shape, bias):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    dense = Dense(D, V, bias=bias, dtype=dtype, seed=1)
    x = rng.standard_normal(shape).astype(dtype)
    dy = rng.standard_normal(shape[:-1] + (V,)).astype(dtype)

    linear = torch.nn.Linear(D, V, bias=bias, dtype=getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(dense.params["W"].T.copy()))   # W = weight.T
        if bias:
            linear.bias.copy_(torch.from_numpy(dense.params["b"]))
    xt = torch.from_numpy(x).requires_grad_(True)
    yt = linear(xt)
    yt.backward(torch.from_numpy(dy))

    y, cache = dense.forward(x)
    dx, grads = dense.backward(dy, cache)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grads["W"], linear.weight.grad.numpy().T, rtol=tol, atol=tol)
    if bias:
        np.testing.assert_allclose(grads["b"], linear.bias.grad.numpy(), rtol=tol, atol=tol)


# ---------------------------------------------------------------- init

def test_torch_init_matches_nn_linear_bounds_and_spread():
    Din, Vout = 400, 300
    dense = Dense(Din, Vout, seed=0)
    bound = 1 / np.sqrt(Din)
    for name in ("W", "b"):
        a = dense.params[name]
        assert np.abs(a).max() <= bound
        assert np.abs(a).max() > 0.95 * bound                      # fills the whole interval
    W = dense.params["W"].astype(np.float64)
    assert W.shape == (Din, Vout)
    assert abs(W.mean()) < 0.01 * bound
    assert W.var() == pytest.approx(bound ** 2 / 3, rel=0.02)       # variance of U(-a, a)
    torch = pytest.importorskip("torch")
    with torch.random.fork_rng():                                    # seeded, global state untouched
        torch.manual_seed(0)
        w = torch.nn.Linear(Din, Vout).weight.detach().double()
    assert float(w.var()) == pytest.approx(bound ** 2 / 3, rel=0.02)  # the same distribution


def test_xavier_init():
    Din, Vout = 400, 300
    dense = Dense(Din, Vout, seed=0, init="xavier")
    bound = np.sqrt(6 / (Din + Vout))
    W = dense.params["W"].astype(np.float64)
    assert np.abs(W).max() <= bound and np.abs(W).max() > 0.95 * bound
    assert W.var() == pytest.approx(2 / (Din + Vout), rel=0.02)      # Glorot's variance
    np.testing.assert_array_equal(dense.params["b"], 0.0)


def test_seed_determinism_generator_and_dtype():
    a, b, c = Dense(D, V, seed=3), Dense(D, V, seed=3), Dense(D, V, seed=4)
    np.testing.assert_array_equal(a.params["W"], b.params["W"])
    assert not np.array_equal(a.params["W"], c.params["W"])
    g = Dense(D, V, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a.params["W"], g.params["W"])
    d64 = Dense(D, V, seed=3, dtype=np.float64)
    assert a.params["W"].dtype == np.float32 and d64.params["W"].dtype == np.float64
    np.testing.assert_allclose(a.params["W"], d64.params["W"], rtol=1e-7)
    # None means fresh entropy, not a shared default stream
    assert not np.array_equal(Dense(D, V).params["W"], Dense(D, V).params["W"])


# ---------------------------------------------------------------- errors

def test_error_message_names_layer_expected_and_got():
    dense = Dense(64, 10)
    with pytest.raises(ValueError, match=r"^Dense\(64 -> 10\): expected x with last dimension 64, "
                                         r"got shape \(4, 10, 16\)$"):
        dense.forward(np.zeros((4, 10, 16), np.float32))


@pytest.mark.parametrize("x, error, match", [
    (np.zeros((2, 3, D), dtype=np.int64), TypeError, r"Dense\(5 -> 3\): expected a float array .*int64"),
    (np.zeros((2, 3, V), dtype=np.float32), ValueError, r"last dimension 5, got shape \(2, 3, 3\)"),
    (np.float32(1.0), ValueError, r"last dimension 5, got shape \(\)"),
    (np.array([[1, 2, np.nan, 4, 5]], dtype=np.float32), ValueError, "NaN or Inf"),
    (np.array([[1, 2, np.inf, 4, 5]]), ValueError, "NaN or Inf"),
])
def test_bad_input(x, error, match):
    with pytest.raises(error, match=match):
        Dense(D, V).forward(x)


def test_bad_output_gradient():
    dense = Dense(D, V)
    _, cache = dense.forward(np.zeros((2, 3, D), np.float32))
    with pytest.raises(ValueError, match=r"Dense\(5 -> 3\): expected dy of shape \(2, 3, 3\), got \(2, 3, 5\)"):
        dense.backward(np.zeros((2, 3, D), np.float32), cache)
    with pytest.raises(TypeError, match="expected a float array dy"):
        dense.backward(np.zeros((2, 3, V), np.int32), cache)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(in_features=0, out_features=3), ValueError, "in_features must be >= 1, got 0"),
    (dict(in_features=5, out_features=2.0), TypeError, "out_features must be an int, got float"),
    (dict(in_features=5, out_features=3, dtype=np.int32), TypeError, "dtype must be a float dtype, got int32"),
    (dict(in_features=5, out_features=3, init="he"), ValueError, r"init must be one of .*'he'"),
])
def test_bad_constructor(kwargs, error, match):
    with pytest.raises(error, match=match):
        Dense(**kwargs)
