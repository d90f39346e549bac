"""Forecast and regression errors: RMSE, MAE and MASE (Hyndman & Koehler, 2006).

With ``e = y_true - y_pred`` over every element (time steps, and channels of a multivariate
series)::

    RMSE = sqrt(mean(e^2))
    MAE  = mean(|e|)
    MASE = mean(|e_tj| / s_j),  s_j = mean_t |y_train[t, j] - y_train[t - m, j]|

``s_j`` is the in-sample mean absolute error of the seasonal naive forecast with period ``m``
(``m = 1``: "tomorrow equals today") on the training series, so MASE < 1 means the forecast beats
what the naive method achieved in sample, and MASE is comparable across series of any scale.
"""
from __future__ import annotations

import numpy as np
from numpy import ndarray


def rmse(y_true: ndarray, y_pred: ndarray) -> float:
    """Root mean squared error over all elements of two arrays of the same shape."""
    e = _errors("rmse", y_true, y_pred)
    return float(np.sqrt(np.mean(e * e)))


def mae(y_true: ndarray, y_pred: ndarray) -> float:
    """Mean absolute error over all elements of two arrays of the same shape."""
    return float(np.mean(np.abs(_errors("mae", y_true, y_pred))))


def naive_scale(y_train: ndarray, season: int = 1) -> ndarray:
    """In-sample MAE of the seasonal naive forecast, per channel: the denominator of MASE.

    Args:
        y_train: (T,) or (T, D) training series, in time order.
        season: m, the seasonal period (1: the previous value is the forecast).

    Returns:
        A scalar array for ``(T,)``, else ``(D,)``.
    """
    name = "naive_scale"
    if isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1:
        raise ValueError(f"{name}: season must be a positive int, got {season!r}")
    y = _float_array(name, "y_train", y_train)
    if y.ndim not in (1, 2):
        raise ValueError(f"{name}: expected y_train of shape (T,) or (T, D), got {y.shape}")
    if y.shape[0] <= season:
        raise ValueError(f"{name}: y_train needs more than season = {season} values, got {y.shape[0]}")
    scale = np.mean(np.abs(y[season:] - y[:-season]), axis=0)
    if np.any(scale == 0):
        raise ValueError(f"{name}: the seasonal naive forecast (season {season}) is exact on y_train "
                         "(a constant or exactly periodic series), so MASE is undefined")
    return scale


def mase(y_true: ndarray, y_pred: ndarray, y_train: ndarray, season: int = 1) -> float:
    """Mean absolute scaled error (see the module docstring).

    Args:
        y_true, y_pred: (N,) or (N, D) actual values and forecasts (any order of forecasts: the
            scaling does not depend on it).
        y_train: (T,) or (T, D) the series the model was fitted on, in time order; D must match.
        season: m, the period of the seasonal naive forecast in the denominator.
    """
    e = _errors("mase", y_true, y_pred)
    scale = naive_scale(y_train, season)
    if scale.ndim == 1 and (e.ndim != 2 or e.shape[1] != scale.shape[0]):
        raise ValueError(f"mase: y_train has {scale.shape[0]} channels, so y_true must be (N, {scale.shape[0]}); "
                         f"got {e.shape}")
    if scale.ndim == 0 and e.ndim != 1:
        raise ValueError(f"mase: y_train is univariate (T,), so y_true must be (N,); got {e.shape}")
    return float(np.mean(np.abs(e) / scale))


def _float_array(name: str, what: str, a) -> ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numbers in {what}, got dtype {a.dtype}")
    a = a.astype(np.float64)
    if a.size == 0:
        raise ValueError(f"{name}: {what} is empty")
    if not np.isfinite(a).all():
        where = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
        raise ValueError(f"{name}: {what} contains {a[where]} at position {where}; expected finite values")
    return a


def _errors(name: str, y_true, y_pred) -> ndarray:
    t, p = _float_array(name, "y_true", y_true), _float_array(name, "y_pred", y_pred)
    if t.shape != p.shape:
        raise ValueError(f"{name}: y_true has shape {t.shape} but y_pred has {p.shape}; expected the same")
    return t - p


__all__ = ["rmse", "mae", "mase", "naive_scale"]
