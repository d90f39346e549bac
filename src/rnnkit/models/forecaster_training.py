"""What a :class:`rnnkit.Forecaster` trains on: its checked hyperparameters, scaled series cut into
(window, future) pairs, and the task that feeds them to the shared :class:`rnnkit.train.Trainer`."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy import ndarray
from numpy.lib.stride_tricks import sliding_window_view

from .._types import Grads, prefixed
from ..losses import mse
from ..metrics.regression import naive_scale
from ..train import TrainConfig
from .forecaster_network import CELLS, ForecastEnsemble

SCALINGS = ("standard", "minmax", "none")
STRATEGIES = ("direct", "recursive")


@dataclass
class ForecasterConfig:
    """The hyperparameters of a :class:`Forecaster`, validated (see its docstring; stored in model files)."""

    lookback: int | None = None
    horizon: int = 1
    strategy: str = "direct"
    cell: str = "lstm"
    hidden_size: int = 32
    num_layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    frame: int | str = "auto"
    linear: bool = True
    subtract_last: bool = True
    scaling: str = "standard"
    n_models: int = 5
    season: int = 1
    lr: float = 3e-3
    lr_decay: float = 1.0
    batch_size: int = 32
    max_epochs: int = 200
    patience: int = 20
    val_fraction: float = 0.2
    max_minutes: float | None = None
    seed: int = 0

    def __post_init__(self):
        choices = {"strategy": STRATEGIES, "cell": tuple(CELLS), "scaling": SCALINGS}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"Forecaster: {name} must be one of {allowed}, got {getattr(self, name)!r}")
        positive = ["horizon", "hidden_size", "num_layers", "n_models", "season", "batch_size", "max_epochs",
                    "patience"] + [k for k in ("lookback", "frame") if getattr(self, k) not in (None, "auto")]
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Forecaster: {name} must be a positive int{' or auto' * (name == 'frame')}, "
                                 f"got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"Forecaster: dropout must lie in [0, 1), got {self.dropout!r}")
        if not 0.0 < self.val_fraction < 0.5:
            raise ValueError(f"Forecaster: val_fraction must lie in (0, 0.5), got {self.val_fraction!r}")
        TrainConfig(lr=self.lr, lr_decay=self.lr_decay, max_minutes=self.max_minutes)  # the trainer's checks


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


class ForecastTask:
    """Mini-batches of windows for every member of a :class:`ForecastEnsemble`.

    Each member reads the training pairs in its own order, reshuffled every epoch by a Generator
    seeded from ``(seed, epoch, member)``, so batch ``step`` is a pure function of ``step`` (what
    exact resumption needs) and the members see different batches (which decorrelates their
    errors). The reported loss is the members' mean MSE; each member gets the gradient of its own
    MSE only. Validation scores the averaged forecast, the one the model will make.

    Args:
        ensemble: the networks, trained in place.
        x, y: (N, L, D_in) training inputs and (N, K, D_out) targets, already scaled.
        x_val, y_val: the same for the validation pairs.
        batch_size: pairs per step (fewer in an epoch's last batch).
        seed: the base of the shuffling seeds.
    """

    def __init__(self, ensemble: ForecastEnsemble, x: ndarray, y: ndarray, x_val: ndarray, y_val: ndarray,
                 batch_size: int, seed: int):
        self.ensemble, self.x, self.y, self.x_val, self.y_val = ensemble, x, y, x_val, y_val
        self.batch_size, self.seed = min(batch_size, len(x)), seed
        self.steps_per_epoch = math.ceil(len(x) / self.batch_size)

    def batch(self, step: int, member: int) -> ndarray:
        """Indices of the training pairs member ``member`` reads at ``step``."""
        epoch, k = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng([self.seed, epoch, member]).permutation(len(self.x))
        return order[k * self.batch_size:(k + 1) * self.batch_size]

    def train_step(self, step: int, rng: np.random.Generator) -> tuple[float, Grads, int]:
        losses, grads = [], {}
        for m, member in enumerate(self.ensemble.members):
            idx = self.batch(step, m)
            pred, cache = member.forward(self.x[idx], training=True, rng=rng)
            loss, dpred = mse(pred, self.y[idx])
            _, g = member.backward(dpred, cache)
            losses.append(loss)
            grads.update(prefixed(f"members.{m}", g))
        return float(np.mean(losses)), grads, len(idx)

    def evaluate(self) -> dict[str, float]:
        preds = [member.forward(self.x_val, training=False)[0] for member in self.ensemble.members]
        loss, _ = mse(np.mean(preds, axis=0), self.y_val)
        return {"loss": loss, "member_loss": float(np.mean([mse(p, self.y_val)[0] for p in preds]))}

    def state_arrays(self) -> dict[str, ndarray]:
        return {}

    def load_state_arrays(self, arrays: dict[str, ndarray]) -> None:
        pass


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


def as_series_list(who: str, series, channels: int | None = None) -> tuple[list[ndarray], bool]:
    """(T,) / (T, D) / a list of them -> a list of float64 (T, D) arrays, and whether univariate."""
    items = list(series) if isinstance(series, (list, tuple)) else [series]
    if not items:
        raise ValueError(f"{who}: expected a series or a non-empty list of series, got an empty list")
    out, ndims = [], set()
    for i, s in enumerate(items):
        name = f"series {i}" if isinstance(series, (list, tuple)) else "the series"
        a = np.asarray(s)
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{who}: {name} must hold numbers, got dtype {a.dtype}")
        if a.ndim not in (1, 2):
            raise ValueError(f"{who}: {name} must be (T,) or (T, D), got shape {a.shape}")
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


__all__ = ["ForecasterConfig", "Scaler", "windows", "ForecastTask", "SCALINGS", "STRATEGIES", "choose_lookback", "as_series_list", "pooled_naive_scale"]
