"""What a :class:`rnnkit.Forecaster` reads: series as arrays, their scaling, (window, future) pairs,
and the window length chosen from the data."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy import ndarray
from numpy.lib.stride_tricks import sliding_window_view

from ...cells import cell_type
from ...metrics.regression import naive_scale
from ...train import TrainConfig

SCALINGS = ("standard", "minmax", "none")
STRATEGIES = ("direct", "recursive")


def check_hyperparameters(p: dict) -> None:
    """The checks ``Forecaster.fit`` makes of its hyperparameters ``p`` before any work."""
    cell_type(p["cell"], "Forecaster")
    choices = {"strategy": STRATEGIES, "scaling": SCALINGS}
    for name, allowed in choices.items():
        if p[name] not in allowed:
            raise ValueError(f"Forecaster: {name} must be one of {allowed}, got {p[name]!r}")
    positive = ["horizon", "hidden_size", "num_layers", "n_models", "season", "batch_size", "max_epochs",
                "patience"] + [k for k in ("lookback", "frame", "max_steps") if p[k] not in (None, "auto")]
    for name in positive:
        value = p[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"Forecaster: {name} must be a positive int{' or auto' * (name == 'frame')}, "
                             f"got {value!r}")
    if not 0.0 <= p["dropout"] < 1.0:
        raise ValueError(f"Forecaster: dropout must lie in [0, 1), got {p['dropout']!r}")
    if not 0.0 < p["val_fraction"] < 0.5:
        raise ValueError(f"Forecaster: val_fraction must lie in (0, 0.5), got {p['val_fraction']!r}")
    TrainConfig(lr=p["lr"], lr_decay=p["lr_decay"], max_minutes=p["max_minutes"])  # the trainer's checks


@dataclass
class Scaler:
    """Per-channel affine scaling ``z = (y - offset) / scale``, fitted on training data only.

    ``"standard"``: offset = mean, scale = standard deviation; ``"minmax"``: offset = min,
    scale = max - min (so training values land in [0, 1]); ``"none"``: the identity. A constant
    channel gets scale 1, so it maps to 0 instead of dividing by zero.
    """

    offset: ndarray   # (D,)
    scale: ndarray    # (D,)

    @classmethod
    def fit(cls, series: list[ndarray], method: str) -> Scaler:
        """series: (T_i, D) arrays; the statistics pool every time step of every series."""
        if method not in SCALINGS:
            raise ValueError(f"Scaler: method must be one of {SCALINGS}, got {method!r}")
        y = np.concatenate(series)
        D = y.shape[1]
        if method == "standard":
            offset, scale = y.mean(axis=0), y.std(axis=0)
        elif method == "minmax":
            offset, scale = y.min(axis=0), y.max(axis=0) - y.min(axis=0)
        else:
            offset, scale = np.zeros(D), np.ones(D)
        return cls(offset, np.where(scale > 0, scale, 1.0))

    def transform(self, y: ndarray) -> ndarray:
        return (y - self.offset) / self.scale

    def inverse(self, z: ndarray) -> ndarray:
        return z * self.scale + self.offset

    def to_dict(self) -> dict:
        return {"offset": self.offset.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, d: dict) -> Scaler:
        return cls(np.asarray(d["offset"], dtype=np.float64), np.asarray(d["scale"], dtype=np.float64))


def windows(z: ndarray, lookback: int, steps: int, first_target: int | None = None) -> tuple[ndarray, ndarray]:
    """Every (window, future) pair of a series whose future starts at or after ``first_target``.

    Args:
        z: (T, D) one series.
        lookback: L, the window length.
        steps: K, the number of future steps per pair.
        first_target: the earliest index a future may start at (default L, the first possible).

    Returns:
        x: (N, L, D) windows ``z[t - L:t]`` and y: (N, K, D) futures ``z[t:t + K]`` for
        ``t = max(L, first_target) .. T - K``; N may be 0.
    """
    T, D = z.shape
    start = lookback if first_target is None else max(lookback, first_target)
    n = T - steps - start + 1
    if n <= 0:
        return np.empty((0, lookback, D), z.dtype), np.empty((0, steps, D), z.dtype)
    x = sliding_window_view(z[start - lookback:T - steps], lookback, axis=0)[:n]   # (N, D, L)
    y = sliding_window_view(z[start:], steps, axis=0)[:n]                         # (N, D, K)
    return np.ascontiguousarray(x.transpose(0, 2, 1)), np.ascontiguousarray(y.transpose(0, 2, 1))


def choose_lookback(series: list[ndarray], low: int = 8, high: int = 128, fallback: int = 16) -> int:
    """Twice the dominant period of the longest series, clipped to [low, high] and to a quarter
    of the shortest series; ``fallback`` when there is no clear period.

    The period is read from the autocorrelation of the first channel's differences (so a trend
    does not hide it): the first local peak after the first sign change that reaches 80% of the
    highest peak and exceeds 4 / sqrt(T), above what the largest of T/2 autocorrelations of white
    noise reaches (about sqrt(2 ln(T/2) / T)).
    """
    y = series[int(np.argmax([len(s) for s in series]))][:, 0]
    y = np.diff(y) - np.diff(y).mean()
    n = len(y)
    acf = np.correlate(y, y, mode="full")[n - 1:n - 1 + n // 2] / max(float(np.dot(y, y)), 1e-12)
    lookback = fallback
    below = np.flatnonzero(acf < 0)
    if below.size:
        peaks = [k for k in range(below[0] + 1, len(acf) - 1) if acf[k - 1] < acf[k] >= acf[k + 1]]
        top = max((acf[k] for k in peaks), default=0.0)
        if top > 4 / np.sqrt(n):
            lookback = 2 * next(k for k in peaks if acf[k] >= 0.8 * top)
    shortest = min(len(s) for s in series)
    return int(max(min(lookback, high, shortest // 4), min(low, shortest // 4), 1))


def pooled_naive_scale(series: list[ndarray], season: int) -> ndarray:
    """The mean over series of the in-sample seasonal naive MAE per channel (NaN where it is
    undefined: a constant channel, or series no longer than a season), for MASE."""
    scales = []
    for s in series:
        try:
            scales.append(naive_scale(s, season))
        except ValueError:
            continue
    return np.mean(scales, axis=0) if scales else np.full(series[0].shape[1], np.nan)


def is_many(series) -> bool:
    """Whether ``series`` holds many series (a list or tuple, or an (N, T, D) array) rather than one."""
    return isinstance(series, (list, tuple)) or (isinstance(series, np.ndarray) and series.ndim == 3)


def as_series_list(who: str, series, channels: int | None = None) -> tuple[list[ndarray], bool]:
    """(T,) / (T, D) / a list of them / an (N, T, D) array of N series of one length -> a list of
    float64 (T, D) arrays, and whether univariate."""
    many = is_many(series)
    items = list(series) if many else [series]
    if not items:
        raise ValueError(f"{who}: expected a series or a non-empty list of series, got an empty list")
    out, ndims = [], set()
    for i, s in enumerate(items):
        name = f"series {i}" if many else "the series"
        a = np.asarray(s)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{who}: {name} must hold numbers, got dtype {a.dtype}")
        if a.ndim not in (1, 2):
            raise ValueError(f"{who}: {name} must be (T,) or (T, D) (many series: a list of them or an "
                             f"(N, T, D) array), got shape {a.shape}")
        a = a.astype(np.float64).reshape(len(a), -1)
        if not np.isfinite(a).all():
            t = int(np.argwhere(~np.isfinite(a))[0][0])
            raise ValueError(f"{who}: {name} has a missing or infinite value at step {t}; fill gaps first")
        D = channels if channels is not None else (out[0].shape[1] if out else a.shape[1])
        if a.shape[1] != D:
            raise ValueError(f"{who}: {name} has {a.shape[1]} channel(s), expected {D}")
        if len(a) < 2:
            raise ValueError(f"{who}: {name} has {len(a)} step(s); a series needs at least 2")
        ndims.add(np.ndim(s))
        out.append(a)
    return out, ndims == {1}


__all__ = ["SCALINGS", "STRATEGIES", "Scaler", "as_series_list", "check_hyperparameters",
           "choose_lookback", "is_many", "pooled_naive_scale", "windows"]
