"""Dropout: expectation preserved, mask reused in backward, eval identity, seeds, errors."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.gradcheck import gradcheck
from rnnkit.layers.dropout import Dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_expected_value_preserved_and_drop_rate(p):
    x = np.full((1000, 1000), 2.0, dtype=np.float32)
    y, mask = Dropout(p).forward(x, training=True, rng=np.random.default_rng(0))
    dropped = (y == 0).mean()
    # standard error of the rate is sqrt(p (1 - p) / 1e6) <= 5e-4; allow 6 of them
    assert dropped == pytest.approx(p, abs=3e-3)
    assert y.astype(np.float64).mean() == pytest.approx(2.0, rel=6 * np.sqrt(p / (1 - p) / x.size))
    np.testing.assert_allclose(y[y != 0], np.float32(2.0 / (1 - p)), rtol=1e-6)  # kept, scaled
    assert y.dtype == np.float32 and mask.shape == x.shape


def test_backward_reuses_the_forward_mask():
    rng = np.random.default_rng(1)
    p = 0.3
    x = rng.uniform(1.0, 2.0, size=(4, 6, 5))             # never zero, so y == 0 marks drops
    dy = rng.standard_normal(x.shape)
    drop = Dropout(p)
    y, cache = drop.forward(x, training=True, rng=np.random.default_rng(2))
    dx = drop.backward(dy, cache)
    kept = y != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(dx, kept * dy / (1 - p), rtol=1e-15)
    np.testing.assert_allclose(y, kept * x / (1 - p), rtol=1e-15)


def test_gradcheck_input():
    rng = np.random.default_rng(0)
    drop = Dropout(0.4)
    x, dy = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 3, 5))
    forward = lambda: drop.forward(x, training=True, rng=np.random.default_rng(7))  # the same mask every call
    dx = drop.backward(dy, forward()[1])
    errors = gradcheck(lambda: float(np.sum(forward()[0] * dy)), {"x": x}, {"x": dx})
    assert errors["x"] < 1e-7


@pytest.mark.parametrize("drop, training", [(Dropout(0.5), False), (Dropout(0.0), True)])
def test_identity_at_evaluation_and_p_zero(drop, training):
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    x = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    y, cache = drop.forward(x, training=training, rng=rng)
    assert y is x and cache is None
    dy = np.ones_like(x)
    assert drop.backward(dy, cache) is dy
    assert rng.bit_generator.state == state                # no draw wasted


def test_determinism_for_a_seed_and_fresh_masks_per_call():
    x = np.ones((50, 40))
    drop = Dropout(0.5)
    a, _ = drop.forward(x, training=True, rng=np.random.default_rng(3))
    b, _ = drop.forward(x, training=True, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(3)
    first, _ = drop.forward(x, training=True, rng=rng)
    second, _ = drop.forward(x, training=True, rng=rng)                   # the Generator advanced
    np.testing.assert_array_equal(first, a)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(drop.forward(x, training=True, rng=3)[0], a)   # an int seed gives the same
    # float32 and float64 inputs get the same units for the same seed
    a32, _ = drop.forward(x.astype(np.float32), training=True, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a32 == 0, a == 0)


def test_two_forwards_then_two_backwards_in_any_order():
    rng = np.random.default_rng(0)
    drop = Dropout(0.5)
    x = rng.uniform(1, 2, size=(8, 9))
    dy1, dy2 = rng.standard_normal(x.shape), rng.standard_normal(x.shape)
    y1, c1 = drop.forward(x, training=True, rng=rng)
    y2, c2 = drop.forward(x, training=True, rng=rng)
    assert not np.array_equal(y1 == 0, y2 == 0)
    np.testing.assert_array_equal(drop.backward(dy2, c2), (y2 != 0) * dy2 * 2.0)
    np.testing.assert_array_equal(drop.backward(dy1, c1), (y1 != 0) * dy1 * 2.0)


def test_scaling_matches_torch():
    torch = pytest.importorskip("torch")
    p = 0.25
    x = np.random.default_rng(0).uniform(1, 2, size=(200, 50))
    with torch.random.fork_rng():                          # seeded, global state untouched
        torch.manual_seed(0)
        yt = torch.nn.functional.dropout(torch.from_numpy(x), p=p, training=True).numpy()
    y, _ = Dropout(p).forward(x, training=True, rng=np.random.default_rng(0))
    np.testing.assert_allclose(yt[yt != 0], x[yt != 0] / (1 - p), rtol=1e-15)
    np.testing.assert_allclose(y[y != 0], x[y != 0] / (1 - p), rtol=1e-15)


def test_no_parameters():
    drop = Dropout(0.2)
    assert drop.params == {} and drop.p == 0.2


@pytest.mark.parametrize("p, error", [(-0.1, ValueError), (1.0, ValueError), (1.5, ValueError),
                                      (float("nan"), ValueError), ("0.5", TypeError), (True, TypeError)])
def test_bad_p(p, error):
    with pytest.raises(error, match=r"Dropout: p must"):
        Dropout(p)


def test_bad_inputs():
    drop = Dropout(0.5)
    with pytest.raises(TypeError, match=r"Dropout\(p=0.5\): expected a float array x, got dtype int64"):
        drop.forward(np.ones((2, 3), dtype=np.int64), training=True, rng=0)
    with pytest.raises(ValueError, match=r"Dropout\(p=0.5\): x contains NaN or Inf"):
        drop.forward(np.array([1.0, np.nan]), training=True, rng=0)
    with pytest.raises(TypeError, match="rng must be a numpy Generator"):
        drop.forward(np.ones(3), training=True, rng=np.random.RandomState(0))
    _, cache = drop.forward(np.ones((2, 3)), training=True, rng=0)
    with pytest.raises(ValueError, match=r"expected dy of shape \(2, 3\), got \(3, 2\)"):
        drop.backward(np.ones((3, 2)), cache)


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.MT19937])
def test_drop_rate_with_any_bit_generator(bit_generator):
    """The fast draw splits 64-bit raw output in four; a generator whose raw output has fewer
    random bits (MT19937: 32) takes the slower path, so the rate is p for both."""
    x = np.ones((500, 400), np.float32)
    y, _ = Dropout(0.3).forward(x, training=True, rng=np.random.Generator(bit_generator(0)))
    assert (y == 0).mean() == pytest.approx(0.3, abs=4e-3)


def test_inference_is_the_default():
    """As a PyTorch module in eval() mode: without training=True nothing is dropped and no
    random number is drawn (a caller predicting with a trained model need not say so)."""
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    x = np.random.default_rng(1).standard_normal((3, 4))
    y, cache = Dropout(0.5).forward(x, rng=rng)
    assert y is x and cache is None and rng.bit_generator.state == state
    assert Dropout(0.5).forward(x, training=True, rng=rng)[1] is not None
