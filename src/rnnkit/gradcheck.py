"""Numerical gradient checks by central finite differences, for users and tests.

Run them in float64: with eps = 1e-6 a correct backward pass agrees to about 1e-8 relative,
a wrong one (a missing term, a wrong transpose) is off by order 1.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy import ndarray

from ._types import Seed, as_rng


def numerical_gradient(loss: Callable[[], float], array: ndarray, eps: float = 1e-6,
                       indices: ndarray | None = None) -> ndarray:
    """Central-difference gradient of ``loss()`` with respect to ``array``.

    ``array`` is perturbed in place and restored, so ``loss`` must read its current values.
    With ``indices`` (flat positions), only those entries are estimated; the rest stay NaN.
    """
    grad = np.full(array.shape, np.nan) if indices is not None else np.zeros(array.shape)
    if not array.flags.c_contiguous:
        raise ValueError("numerical_gradient: array must be C-contiguous so it can be perturbed in place")
    flat, gflat = array.reshape(-1), grad.reshape(-1)
    for i in (range(flat.size) if indices is None else indices):
        old = flat[i]
        flat[i] = old + eps
        plus = loss()
        flat[i] = old - eps
        minus = loss()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad


def relative_error(analytic: ndarray, numeric: ndarray) -> float:
    """max |a - n| / max(max|a|, max|n|), over the entries where ``numeric`` was estimated."""
    known = ~np.isnan(numeric)
    a, n = np.asarray(analytic, dtype=np.float64)[known], numeric[known]
    if a.size == 0:
        return 0.0
    scale = max(np.abs(a).max(), np.abs(n).max(), 1e-12)
    return float(np.abs(a - n).max() / scale)


def gradcheck(loss: Callable[[], float], arrays: dict[str, ndarray], analytic: dict[str, ndarray],
              eps: float = 1e-6, max_entries: int | None = None, seed: Seed = 0) -> dict[str, float]:
    """Compare analytic gradients with finite differences, array by array.

    Args:
        loss: recomputes the scalar loss from the current contents of ``arrays``.
        arrays: name -> float64 array (parameters, inputs, initial states), perturbed in place.
        analytic: name -> the gradient your backward pass gave, same shapes as ``arrays``.
        eps: finite-difference step.
        max_entries: check at most this many random entries per array (all when None).
        seed: picks the entries checked when ``max_entries`` is set.

    Returns:
        name -> relative error (see :func:`relative_error`); a correct backward gives < 1e-6.
    """
    rng = as_rng(seed)
    errors = {}
    for name, array in arrays.items():
        if array.dtype != np.float64:
            raise TypeError(f"gradcheck: {name} is {array.dtype}; finite differences need float64")
        if name not in analytic:
            raise KeyError(f"gradcheck: no analytic gradient for {name!r}")
        if analytic[name].shape != array.shape:
            raise ValueError(f"gradcheck: gradient of {name!r} has shape {analytic[name].shape}, "
                             f"array has {array.shape}")
        indices = None
        if max_entries is not None and array.size > max_entries:
            indices = rng.choice(array.size, size=max_entries, replace=False)
        numeric = numerical_gradient(loss, array, eps, indices)
        errors[name] = relative_error(analytic[name], numeric)
    return errors
