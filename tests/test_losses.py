"""Losses: finite-difference gradients, parity with PyTorch, masking, stability, errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnkit.gradcheck import gradcheck
from rnnkit.losses import binary_cross_entropy_with_logits, mse, softmax_cross_entropy

B, T, V, K = 3, 4, 5, 2


def make_mask(rng):
    """A (B, T) ragged mask with at least one masked and one unmasked step per sequence."""
    lengths = rng.integers(1, T, size=B)
    return np.arange(T)[None, :] < lengths[:, None]


def ce_inputs(rng, dtype=np.float64, shape=(B, T)):
    logits = rng.normal(size=shape + (V,)).astype(dtype)
    target = rng.integers(0, V, size=shape)
    return logits, target


def bce_inputs(rng, dtype=np.float64):
    logits = rng.normal(size=(B, T, K)).astype(dtype)
    target = rng.uniform(size=(B, T, K)).astype(dtype)  # soft labels exercise the general formula
    return logits, target


def mse_inputs(rng, dtype=np.float64):
    return rng.normal(size=(B, T, K)).astype(dtype), rng.normal(size=(B, T, K)).astype(dtype)


# ---------------------------------------------------------------- finite-difference gradients

CASES = {
    "mse": (mse_inputs, lambda x, y, m, r, w: mse(x, y, m, r)),
    "bce": (bce_inputs, lambda x, y, m, r, w: binary_cross_entropy_with_logits(x, y, m, r, pos_weight=w)),
    "ce": (ce_inputs, lambda x, y, m, r, w: softmax_cross_entropy(x, y, m, r, class_weight=w)),
}


def weights_for(case, rng):
    return {"mse": None, "bce": rng.uniform(0.5, 3.0, size=K), "ce": rng.uniform(0.2, 2.0, size=V)}[case]


@pytest.mark.parametrize("case, weighted", [("mse", False), ("bce", False), ("bce", True),
                                            ("ce", False), ("ce", True)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_gradient_matches_finite_differences(case, weighted, masked, reduction):
    rng = np.random.default_rng(0)
    make, loss_fn = CASES[case]
    x, y = make(rng)
    m = make_mask(rng) if masked else None
    w = weights_for(case, rng) if weighted else None
    _, dx = loss_fn(x, y, m, reduction, w)
    errors = gradcheck(lambda: loss_fn(x, y, m, reduction, w)[0], {"x": x}, {"x": dx})
    assert errors["x"] < 1e-7
    assert np.abs(dx).max() > 1e-3  # a zero gradient would pass a check on a constant loss


# ---------------------------------------------------------------- parity with PyTorch

def torch_loss_and_grad(fn, x, mask):
    """fn(logits restricted to unmasked positions) -> torch loss; gradient w.r.t. the full x."""
    xt = torch.tensor(x, requires_grad=True)
    picked = xt if mask is None else xt[torch.tensor(mask)]
    loss = fn(picked, None if mask is None else torch.tensor(mask))
    loss.backward()
    return loss.item(), xt.grad.numpy()


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_cross_entropy_matches_torch(dtype, tol, masked, reduction, weighted):
    rng = np.random.default_rng(1)
    x, y = ce_inputs(rng, dtype)
    m = make_mask(rng) if masked else None
    w = rng.uniform(0.2, 2.0, size=V).astype(dtype) if weighted else None
    loss, dx = softmax_cross_entropy(x, y, m, reduction, class_weight=w)

    def ref(logits, mt):
        yt = torch.tensor(y) if mt is None else torch.tensor(y)[mt]
        return F.cross_entropy(logits.reshape(-1, V), yt.reshape(-1),
                               weight=None if w is None else torch.tensor(w), reduction=reduction)

    ref_loss, ref_dx = torch_loss_and_grad(ref, x, m)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_allclose(loss, ref_loss, rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, ref_dx, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_with_logits_matches_torch(dtype, tol, masked, reduction, weighted):
    rng = np.random.default_rng(2)
    x, y = bce_inputs(rng, dtype)
    y[0, 0] = [0.0, 1.0]  # hard labels too
    m = make_mask(rng) if masked else None
    w = rng.uniform(0.5, 3.0, size=K).astype(dtype) if weighted else None
    loss, dx = binary_cross_entropy_with_logits(x, y, m, reduction, pos_weight=w)

    def ref(logits, mt):
        yt = torch.tensor(y) if mt is None else torch.tensor(y)[mt]
        return F.binary_cross_entropy_with_logits(
            logits, yt, pos_weight=None if w is None else torch.tensor(w), reduction=reduction)

    ref_loss, ref_dx = torch_loss_and_grad(ref, x, m)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_allclose(loss, ref_loss, rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, ref_dx, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mse_matches_torch(dtype, tol, masked, reduction):
    rng = np.random.default_rng(3)
    x, y = mse_inputs(rng, dtype)
    m = make_mask(rng) if masked else None
    loss, dx = mse(x, y, m, reduction)

    def ref(pred, mt):
        yt = torch.tensor(y) if mt is None else torch.tensor(y)[mt]
        return F.mse_loss(pred, yt, reduction=reduction)

    ref_loss, ref_dx = torch_loss_and_grad(ref, x, m)
    assert dx.dtype == dtype and dx.shape == x.shape
    np.testing.assert_allclose(loss, ref_loss, rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, ref_dx, rtol=tol, atol=tol)


def test_two_dimensional_logits_with_batch_mask_match_torch():
    rng = np.random.default_rng(4)
    x, y = ce_inputs(rng, shape=(6,))
    m = np.array([1, 0, 1, 1, 0, 1])  # 0/1 ints are accepted as a mask
    loss, dx = softmax_cross_entropy(x, y, m)
    keep = m.astype(bool)
    ref_loss, ref_dx = torch_loss_and_grad(
        lambda logits, mt: F.cross_entropy(logits, torch.tensor(y)[mt]), x, keep)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-15)


def test_sum_reduction_is_the_textbook_sequence_loss():
    # uniform logits: every position costs log V, and the gradient is softmax - onehot = 1/V - onehot
    x = np.zeros((2, 3, 4))
    y = np.array([[0, 1, 2], [3, 0, 1]])
    loss, dx = softmax_cross_entropy(x, y, reduction="sum")
    assert loss == pytest.approx(6 * np.log(4), rel=1e-14)
    expected = np.full((2, 3, 4), 0.25)
    np.put_along_axis(expected, y[..., None], -0.75, axis=-1)
    np.testing.assert_allclose(dx, expected, rtol=1e-14)
    loss_mean, dx_mean = softmax_cross_entropy(x, y, mask=[[1, 1, 0], [1, 0, 0]])
    assert loss_mean == pytest.approx(np.log(4), rel=1e-14)
    np.testing.assert_allclose(dx_mean[0, 0], expected[0, 0] / 3, rtol=1e-14)


def test_class_weighted_mean_divides_by_the_summed_weights():
    x = np.zeros((1, 2, 3))
    y = np.array([[0, 2]])
    w = np.array([1.0, 5.0, 3.0])
    loss, _ = softmax_cross_entropy(x, y, class_weight=w)
    assert loss == pytest.approx((1.0 + 3.0) * np.log(3) / (1.0 + 3.0), rel=1e-14)
    loss_sum, _ = softmax_cross_entropy(x, y, reduction="sum", class_weight=w)
    assert loss_sum == pytest.approx(4.0 * np.log(3), rel=1e-14)


# ---------------------------------------------------------------- stability and masking

def test_huge_logits_give_finite_loss_and_gradient():
    rng = np.random.default_rng(5)
    x, y = ce_inputs(rng)
    x = x * 1e4
    for dtype in (np.float64, np.float32):
        loss, dx = softmax_cross_entropy(x.astype(dtype), y)
        assert np.isfinite(loss) and np.isfinite(dx).all()
        # with one dominating logit the loss is the gap to the target's logit
        gap = (x.max(-1) - np.take_along_axis(x, y[..., None], -1)[..., 0]).mean()
        assert loss == pytest.approx(gap, rel=1e-5)
    xb = np.array([[1e4, -1e4], [-1e4, 1e4]])
    yb = np.array([[0.0, 1.0], [0.0, 1.0]])
    loss, dx = binary_cross_entropy_with_logits(xb, yb, pos_weight=np.array([2.0, 3.0]))
    ref_loss, ref_dx = torch_loss_and_grad(
        lambda lg, _: F.binary_cross_entropy_with_logits(lg, torch.tensor(yb), pos_weight=torch.tensor([2.0, 3.0])),
        xb, None)
    assert np.isfinite(loss) and np.isfinite(dx).all()
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case", CASES)
def test_masked_positions_have_exactly_zero_gradient_and_ignore_padding(case):
    rng = np.random.default_rng(6)
    make, loss_fn = CASES[case]
    x, y = make(rng)
    m = make_mask(rng)
    loss, dx = loss_fn(x, y, m, "mean", None)
    assert (dx[~m] == 0).all()
    assert (dx[m] != 0).any()
    # garbage in the padding (NaN predictions, out-of-range or NaN targets) changes nothing
    x2, y2 = x.copy(), y.copy()
    x2[~m] = np.nan
    y2[~m] = -100 if case == "ce" else np.nan
    loss2, dx2 = loss_fn(x2, y2, m, "mean", None)
    assert loss2 == loss
    np.testing.assert_array_equal(dx2, dx)
    # and a masked batch equals the same loss on the unmasked positions alone (sum reduction)
    total = sum(loss_fn(x[b:b + 1, :n], y[b:b + 1, :n], None, "sum", None)[0]
                for b, n in enumerate(m.sum(1)))
    assert loss_fn(x, y, m, "sum", None)[0] == pytest.approx(total, rel=1e-13)


@pytest.mark.parametrize("case", CASES)
def test_all_masked_batch_contributes_nothing(case):
    rng = np.random.default_rng(7)
    make, loss_fn = CASES[case]
    x, y = make(rng)
    loss, dx = loss_fn(x, y, np.zeros((B, T), bool), "mean", None)
    assert loss == 0.0 and not dx.any()


# ---------------------------------------------------------------- errors at the boundary

def test_cross_entropy_errors_name_the_function_and_the_problem():
    rng = np.random.default_rng(8)
    x, y = ce_inputs(rng)
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: expected target of shape \(3, 4\).*got \(3, 5\)"):
        softmax_cross_entropy(x, np.zeros((3, 5), int))
    y2 = y.copy()
    y2[2, 1] = 5
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: expected target classes in \[0, 5\), got 5 at position \(2, 1\)"):
        softmax_cross_entropy(x, y2)
    with pytest.raises(ValueError, match=r"classes in \[0, 5\), got -1"):
        softmax_cross_entropy(x, np.full((B, T), -1))
    with pytest.raises(TypeError, match="softmax_cross_entropy: expected integer class indices.*float64"):
        softmax_cross_entropy(x, y.astype(float))
    with pytest.raises(TypeError, match="softmax_cross_entropy: expected floating-point logits.*int"):
        softmax_cross_entropy(y[..., None].repeat(V, -1), y)
    for bad in (np.nan, np.inf):
        x2 = x.copy()
        x2[1, 2, 3] = bad
        with pytest.raises(ValueError, match=rf"softmax_cross_entropy: expected finite logits, got {bad} at position \(1, 2, 3\)"):
            softmax_cross_entropy(x2, y)
    with pytest.raises(ValueError, match=r"softmax_cross_entropy: expected reduction in \('mean', 'sum'\), got 'avg'"):
        softmax_cross_entropy(x, y, reduction="avg")
    with pytest.raises(ValueError, match=r"expected mask of shape .*got \(4, 3\)"):
        softmax_cross_entropy(x, y, mask=np.ones((4, 3), bool))
    with pytest.raises(ValueError, match=r"expected a bool or 0/1 mask"):
        softmax_cross_entropy(x, y, mask=np.full((B, T), 2))
    with pytest.raises(ValueError, match=r"expected class_weight of shape \(5,\), got \(4,\)"):
        softmax_cross_entropy(x, y, class_weight=np.ones(4))
    with pytest.raises(ValueError, match=r"expected logits of shape \(B, T, V\) or \(B, V\), got \(5,\)"):
        softmax_cross_entropy(x[0, 0], y[0, 0])


def test_bce_and_mse_errors_name_the_function_and_the_problem():
    rng = np.random.default_rng(9)
    x, y = bce_inputs(rng)
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: expected target of shape \(3, 4, 2\)"):
        binary_cross_entropy_with_logits(x, y[:, :3])
    with pytest.raises(ValueError, match=r"expected target probabilities in \[0, 1\], got 3"):
        binary_cross_entropy_with_logits(x, np.full(x.shape, 3))
    with pytest.raises(ValueError, match=r"expected pos_weight to be a scalar or of shape \(2,\)"):
        binary_cross_entropy_with_logits(x, y, pos_weight=np.ones(3))
    x2 = x.copy()
    x2[0, 1, 0] = -np.inf
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: expected finite logits, got -inf"):
        binary_cross_entropy_with_logits(x2, y)
    with pytest.raises(ValueError, match=r"mse: expected target of shape \(3, 4, 2\) \(the shape of pred\), got \(3, 4\)"):
        mse(x, y[..., 0])
    with pytest.raises(TypeError, match="mse: expected floating-point pred, got dtype int"):
        mse(np.ones((2, 3), int), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"mse: expected reduction in"):
        mse(x, y, reduction="none")
    with pytest.raises(ValueError, match=r"mse: expected finite target"):
        mse(x, np.full(x.shape, np.nan))


def test_inputs_are_not_modified():
    rng = np.random.default_rng(10)
    for case, (make, loss_fn) in CASES.items():
        x, y = make(rng)
        m = make_mask(rng)
        x0, y0, m0 = x.copy(), y.copy(), m.copy()
        loss_fn(x, y, m, "mean", weights_for(case, rng))
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(y, y0)
        np.testing.assert_array_equal(m, m0)
