"""Losses for sequence models, masked, each returning ``(loss, dlogits)``.

Every loss takes the prediction array (``pred`` or ``logits``), a target, an optional mask and a
reduction, and returns the scalar loss as a Python float together with its gradient with respect
to the prediction (same shape and dtype), so a model's backward pass starts from ``dlogits``.

With m the 0/1 mask (1 = a real position, 0 = padding) broadcast over trailing axes, and the sums
running over every batch row b and time step t (and feature j where there is one):

    mse:                    l_btj = (pred_btj - target_btj)^2
    binary_cross_entropy_with_logits, x the logits, y in [0, 1], p the pos_weight (1 without):
                            l_btj = -(p_j y_btj log sigmoid(x_btj) + (1 - y_btj) log sigmoid(-x_btj))
                            dl/dx = sigmoid(x) (p y + 1 - y) - p y
    softmax_cross_entropy, y integer classes, w the class_weight (1 without):
                            l_bt = -w[y_bt] log softmax(x_bt)[y_bt]
                            dl/dx_bt = w[y_bt] (softmax(x_bt) - onehot(y_bt))

    reduction="sum":  L = sum m l                     (the textbook sequence loss)
    reduction="mean": L = sum m l / N                 with N = the number of unmasked elements
                      (softmax_cross_entropy with class_weight: N = sum m w[y], as PyTorch does)

Without a mask, "mean" equals PyTorch's ``F.mse_loss``, ``F.binary_cross_entropy_with_logits`` and
``F.cross_entropy``; with one, it equals those functions applied to the unmasked elements only.
If every position is masked (or every unmasked class weight is 0) the loss is 0.0 and the
gradient is zero, where PyTorch would return NaN: a batch of padding contributes nothing.

Masked positions contribute nothing to the loss or the gradient and are not validated: padding
may hold any target (-1, -100, NaN) and any prediction. Unmasked positions are checked for
non-finite predictions, out-of-range classes and so on, with errors naming the function.
"""
from __future__ import annotations

import numpy as np
from numpy import ndarray

from .functional import log_sigmoid, sigmoid
from . import kernels
from .kernels import reference, workspace

REDUCTIONS = ("mean", "sum")


def mse(pred: ndarray, target: ndarray, mask: ndarray | None = None,
        reduction: str = "mean") -> tuple[float, ndarray]:
    """Mean squared error, masked.

    Args:
        pred: (B, T, D), (B, T), (B, D) or (B,) float predictions.
        target: same shape as ``pred``; cast to ``pred``'s dtype.
        mask: (B, T) or (B,), bool or 0/1, matching the leading axes of ``pred``; 1 = keep.
        reduction: "mean" over unmasked elements (``F.mse_loss`` on them) or "sum".

    Returns:
        (loss, dpred): the scalar loss and dL/dpred of shape and dtype of ``pred``.
    """
    name = "mse"
    pred = _floating(name, "pred", pred)
    target = _same_shape(name, "target", target, pred, "pred").astype(pred.dtype, copy=False)
    _check_reduction(name, reduction)
    m = _mask(name, mask, pred.shape)
    _check_finite(name, "pred", pred, m)
    _check_finite(name, "target", target, m)
    if m is not None:  # zero the padding first so nothing non-finite reaches the arithmetic
        pred, target = np.where(m, pred, 0), np.where(m, target, 0)
    diff = pred - target
    if m is not None:
        diff *= m
    scale = 1.0 if reduction == "sum" else _inverse(_count(m, pred.shape))
    loss = float(np.sum(diff * diff, dtype=np.float64)) * scale
    dpred = diff * pred.dtype.type(2.0 * scale)  # d (x - y)^2 / dx = 2 (x - y)
    return loss, dpred


def binary_cross_entropy_with_logits(logits: ndarray, target: ndarray, mask: ndarray | None = None,
                                     reduction: str = "mean",
                                     pos_weight: ndarray | float | None = None) -> tuple[float, ndarray]:
    """Sigmoid plus binary cross-entropy in one stable step, masked.

    Args:
        logits: (B, T, K), (B, T), (B, K) or (B,) float logits.
        target: same shape as ``logits``, probabilities in [0, 1] (0/1 labels or soft labels).
        mask: (B, T) or (B,), bool or 0/1, matching the leading axes of ``logits``; 1 = keep.
        reduction: "mean" over unmasked elements or "sum".
        pos_weight: scalar or (K,) weight of the positive term, broadcast along the last axis
            (PyTorch's ``pos_weight``); > 1 raises recall, < 1 raises precision.

    Returns:
        (loss, dlogits): the scalar loss and dL/dlogits of shape and dtype of ``logits``.
    """
    name = "binary_cross_entropy_with_logits"
    x = _floating(name, "logits", logits)
    y = _same_shape(name, "target", target, x, "logits")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a numeric target, got dtype {y.dtype}")
    y = y.astype(x.dtype, copy=False)
    _check_reduction(name, reduction)
    m = _mask(name, mask, x.shape)
    _check_finite(name, "logits", x, m)
    outside = (y < 0) | (y > 1) | np.isnan(y)
    if m is not None:
        outside &= m
    if outside.any():
        where = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValueError(f"{name}: expected target probabilities in [0, 1], got {y[where]} at "
                         f"position {where} (class indices belong in softmax_cross_entropy)")
    if pos_weight is not None:
        pos_weight = np.asarray(pos_weight)
        if pos_weight.ndim > 1 or (pos_weight.ndim == 1 and pos_weight.shape[0] not in (1, x.shape[-1])):
            raise ValueError(f"{name}: expected pos_weight to be a scalar or of shape ({x.shape[-1]},) "
                             f"(the last axis of logits {x.shape}), got {pos_weight.shape}")
        pos_weight = pos_weight.astype(x.dtype)
    if m is not None:
        x, y = np.where(m, x, 0), np.where(m, y, 0)
    # log sigmoid(-x) = log(1 - sigmoid(x)); both come from logaddexp, so no overflow
    py = y if pos_weight is None else pos_weight * y
    elementwise = -(py * log_sigmoid(x) + (1 - y) * log_sigmoid(-x))
    dx = sigmoid(x) * (py + 1 - y) - py
    if m is not None:
        elementwise *= m
        dx *= m
    scale = 1.0 if reduction == "sum" else _inverse(_count(m, x.shape))
    loss = float(np.sum(elementwise, dtype=np.float64)) * scale
    return loss, (dx * x.dtype.type(scale)).astype(x.dtype, copy=False)


def softmax_cross_entropy(logits: ndarray, target: ndarray, mask: ndarray | None = None,
                          reduction: str = "mean",
                          class_weight: ndarray | None = None) -> tuple[float, ndarray]:
    """Softmax plus categorical cross-entropy over integer classes, masked.

    Stable for any finite logits (each row is shifted by its maximum before ``exp``).

    Args:
        logits: (B, T, V) or (B, V) float logits over V classes.
        target: (B, T) or (B,) integer classes in [0, V) (``logits.shape[:-1]``).
        mask: same shape as ``target``, bool or 0/1; 1 = keep. Padding targets are not checked.
        reduction: "mean" over unmasked positions (divided by the summed class weights of the
            unmasked targets when ``class_weight`` is given) or "sum".
        class_weight: (V,) non-negative weight per class (PyTorch's ``weight``).

    Returns:
        (loss, dlogits): the scalar loss and dL/dlogits of shape and dtype of ``logits``.
    """
    name = "softmax_cross_entropy"
    x = _floating(name, "logits", logits)
    if x.ndim not in (2, 3):
        raise ValueError(f"{name}: expected logits of shape (B, T, V) or (B, V), got {x.shape}")
    V = x.shape[-1]
    y = np.asarray(target)
    if y.dtype.kind not in "iu":
        raise TypeError(f"{name}: expected integer class indices as target, got dtype {y.dtype}")
    if y.shape != x.shape[:-1]:
        raise ValueError(f"{name}: expected target of shape {x.shape[:-1]} (logits.shape[:-1]), "
                         f"got {y.shape}")
    _check_reduction(name, reduction)
    m = _mask(name, mask, y.shape)
    _check_finite(name, "logits", x, None if m is None else m[..., None])
    outside = (y < 0) | (y >= V)
    if m is not None:
        outside &= m
    if outside.any():
        where = tuple(int(i) for i in np.argwhere(outside)[0])
        raise ValueError(f"{name}: expected target classes in [0, {V}), got {y[where]} at position {where}")
    if class_weight is not None:
        class_weight = np.asarray(class_weight)
        if class_weight.shape != (V,):
            raise ValueError(f"{name}: expected class_weight of shape ({V},), got {class_weight.shape}")
        if not (np.isfinite(class_weight).all() and (class_weight >= 0).all()):
            raise ValueError(f"{name}: expected finite non-negative class_weight, got {class_weight}")
        class_weight = class_weight.astype(x.dtype)
    if m is not None:
        x, y = np.where(m[..., None], x, 0), np.where(m, y, 0)
    w = np.ones(y.shape, dtype=x.dtype) if class_weight is None else class_weight[y]
    if m is not None:
        w = w * m
    scale = 1.0 if reduction == "sum" else _inverse(float(np.sum(w, dtype=np.float64)))
    # dl/dx = w (softmax(x) - onehot(y)), in one fused pass per row (kernels.reference has the
    # NumPy form); one thread: a second one cost as much as it saved at 3,200 x 64 and 128
    rows, y, w = x.reshape(-1, V), y.reshape(-1).astype(np.intp), (w.reshape(-1) * scale).astype(x.dtype)
    dx = workspace.empty(rows.shape, rows.dtype)
    xent = kernels.get("softmax_xent") if rows.dtype in (np.float32, np.float64) else reference.softmax_xent
    loss = xent(rows, y, w, dx)
    dx = dx.reshape(x.shape)
    return loss, dx


def _floating(name: str, what: str, a: ndarray) -> ndarray:
    a = np.asarray(a)
    if a.dtype.kind != "f":
        raise TypeError(f"{name}: expected floating-point {what}, got dtype {a.dtype}")
    if a.ndim == 0:
        raise ValueError(f"{name}: expected {what} with a batch axis, got a scalar")
    return a


def _same_shape(name: str, what: str, a: ndarray, ref: ndarray, ref_name: str) -> ndarray:
    a = np.asarray(a)
    if a.shape != ref.shape:
        raise ValueError(f"{name}: expected {what} of shape {ref.shape} (the shape of {ref_name}), "
                         f"got {a.shape}")
    return a


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{name}: expected reduction in {REDUCTIONS}, got {reduction!r}")


def _mask(name: str, mask: ndarray | None, shape: tuple[int, ...]) -> ndarray | None:
    """The mask as bool, with trailing axes added so it broadcasts against ``shape``."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.ndim == 0 or mask.ndim > 2 or mask.shape != shape[:mask.ndim]:
        raise ValueError(f"{name}: expected mask of shape {shape[:2]} or {shape[:1]} "
                         f"(the leading axes of the input, shape {shape}), got {mask.shape}")
    if mask.dtype != np.bool_:
        if mask.dtype.kind not in "iuf" or not np.isin(mask, (0, 1)).all():
            raise ValueError(f"{name}: expected a bool or 0/1 mask, got dtype {mask.dtype} "
                             f"with values {np.unique(mask)[:5]}")
        mask = mask.astype(bool)
    return mask.reshape(mask.shape + (1,) * (len(shape) - mask.ndim))


def _check_finite(name: str, what: str, a: ndarray, m: ndarray | None) -> None:
    bad = ~np.isfinite(a)
    if m is not None:
        bad &= m
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name}: expected finite {what}, got {a[where]} at position {where}")


def _count(m: ndarray | None, shape: tuple[int, ...]) -> int:
    """The number of unmasked elements of an array of ``shape``."""
    if m is None:
        return int(np.prod(shape))
    return int(m.sum()) * int(np.prod(shape)) // int(np.prod(m.shape))


def _inverse(n: float) -> float:
    """1 / n, and 0 for an empty (all-masked) batch so it contributes nothing."""
    return 1.0 / n if n > 0 else 0.0
