"""``Forecaster``: recurrent forecasting of one or many series, with a scikit-learn feel."""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields

import numpy as np
from numpy import ndarray

from ...cells import cell_type
from ...data.csv_series import read_csv_series
from ...io import ModelFileError, save_model_file
from ...metrics.regression import mae, rmse
from ...train import TrainConfig, Trainer
from .inputs import SCALINGS, Scaler, as_series_list, choose_lookback, pooled_naive_scale, windows
from .network import ForecastEnsemble
from .task import ForecastTask

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
        cell_type(self.cell, "Forecaster")
        choices = {"strategy": STRATEGIES, "scaling": SCALINGS}
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


MAX_RECURRENT_STEPS = 32  # frame="auto" groups samples so a window takes at most this many RNN steps


class Forecaster:
    """Forecast the next ``horizon`` values of a series from its last ``lookback`` values.

    Each channel is scaled with statistics of the training part (stored with the model). A window
    goes in relative to its last value (``subtract_last``, as NLinear does: the model is then
    blind to the level, so a series that trends past its training range does not push the units
    into saturation); a recurrent encoder reads it in frames of ``frame`` steps, a dense head maps
    its final state to the forecast, and a linear autoregression over the window is added
    (``linear``, LSTNet's highway). Training is MSE with the shared :class:`rnnkit.Trainer`:
    Adam, early stopping on the last ``val_fraction`` of every series, the best epoch kept.
    ``n_models`` networks from different initialisations and batch orders are trained together
    and averaged, which removes most of the seed-to-seed spread of one small network.

    Strategies for ``horizon`` K > 1: ``"direct"`` has the head emit all K steps at once;
    ``"recursive"`` trains one-step forecasts and feeds each prediction back as the newest input.
    A direct model asked for more than K steps continues recursively in blocks of K.

    Series are ``(T,)`` (univariate) or ``(T, D)`` arrays, or a list of them (many series of one
    kind, all with the same D; windows never cross series). All D channels are forecast.

    Args:
        lookback: window length L; None picks twice the dominant period of the training series
            (:func:`choose_lookback`: clipped to [8, 128], 16 without a clear period).
        horizon: K, the steps ``predict`` returns by default and ``"direct"`` trains for.
        strategy: ``"direct"`` or ``"recursive"``.
        cell, hidden_size, num_layers, bidirectional, dropout: the encoder (dropout acts between
            layers and before the head).
        frame: window steps per recurrent step; ``"auto"`` keeps windows to at most 32 recurrent
            steps. The window is lengthened to a multiple of ``frame``.
        linear: add the linear autoregressive path.
        subtract_last: feed windows and targets relative to the window's last value.
        scaling: ``"standard"`` (mean 0, std 1), ``"minmax"`` ([0, 1]) or ``"none"``.
        n_models: networks averaged.
        season: the period m of the seasonal naive forecast that scales MASE in :meth:`evaluate`.
        lr, lr_decay, batch_size, max_epochs, patience, max_minutes: training (:class:`TrainConfig`).
        val_fraction: the tail of every series held out for early stopping.
        seed: initialisation, batch order and dropout.
        verbose: show a progress bar and log lines while fitting.
    """

    kind = "forecaster"

    def __init__(self, lookback: int | None = None, horizon: int = 1, strategy: str = "direct", cell: str = "lstm",
                 hidden_size: int = 32, num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0,
                 frame: int | str = "auto", linear: bool = True, subtract_last: bool = True,
                 scaling: str = "standard", n_models: int = 5, season: int = 1, lr: float = 3e-3,
                 lr_decay: float = 1.0, batch_size: int = 32, max_epochs: int = 200, patience: int = 20,
                 val_fraction: float = 0.2, max_minutes: float | None = None, seed: int = 0,
                 verbose: bool = False):
        params = {k: v for k, v in locals().items() if k not in ("self", "verbose")}
        for k, v in asdict(ForecasterConfig(**params)).items():
            setattr(self, k, v)
        self.verbose = verbose
        self.columns_: list[str] | None = None
        self.csv_options_: dict | None = None

    def get_params(self) -> dict:
        return {**{f.name: getattr(self, f.name) for f in fields(ForecasterConfig)}, "verbose": self.verbose}

    def set_params(self, **params) -> Forecaster:
        """Change hyperparameters (checked as in ``__init__``); takes effect at the next ``fit``."""
        unknown = set(params) - set(self.get_params())
        if unknown:
            raise ValueError(f"Forecaster.set_params: unknown parameters {sorted(unknown)}")
        merged = {**self.get_params(), **params}
        self.verbose = merged.pop("verbose")
        for k, v in asdict(ForecasterConfig(**merged)).items():
            setattr(self, k, v)
        return self

    def _config(self) -> ForecasterConfig:
        params = self.get_params()
        params.pop("verbose")
        return ForecasterConfig(**params)  # re-validated: attributes may have been set after __init__

    def __repr__(self) -> str:
        default = ForecasterConfig()
        changed = {k: v for k, v in asdict(self._config()).items() if getattr(default, k) != v}
        return f"Forecaster({', '.join(f'{k}={v!r}' for k, v in changed.items())})"

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, series, out: str | os.PathLike | None = None, resume: bool = False,
            log: Callable[[str], None] | None = None) -> Forecaster:
        """Train on ``series`` ((T,), (T, D) or a list of them); returns ``self``.

        With ``out``, the best model so far is saved there during training, with a checkpoint
        (``resume=True`` continues from it), a history CSV and a loss plot beside it.
        """
        c = self._config()
        log = log or (print if self.verbose else (lambda message: None))
        series, self.univariate_ = as_series_list("Forecaster.fit", series)
        D = series[0].shape[1]
        K = c.horizon if c.strategy == "direct" else 1
        n_val = [max(K, round(c.val_fraction * len(s))) for s in series]
        train_parts = [s[:len(s) - n] for s, n in zip(series, n_val)]
        L = c.lookback or choose_lookback(train_parts)
        self.frame_ = math.ceil(L / MAX_RECURRENT_STEPS) if c.frame == "auto" else c.frame
        self.lookback_ = L = self.frame_ * math.ceil(L / self.frame_)
        self.n_channels_ = D
        self.scaler_ = Scaler.fit(train_parts, c.scaling)
        self.naive_scale_ = pooled_naive_scale(train_parts, c.season)
        pairs = [windows(self.scaler_.transform(s), L, K) for s in train_parts]
        val_pairs = [windows(self.scaler_.transform(s), L, K, len(s) - n) for s, n in zip(series, n_val)]
        x, y = (np.concatenate(p) for p in zip(*pairs))
        x_val, y_val = (np.concatenate(p) for p in zip(*val_pairs))
        if len(x) < 1 or len(x_val) < 1:
            shortest = min(len(s) for s in series)
            raise ValueError(f"Forecaster.fit: series too short (the shortest has {shortest} steps) for lookback {L}, "
                             f"{K} target step(s) and val_fraction {c.val_fraction}: training needs {L + K} steps "
                             "before the held-out tail. Give a smaller lookback or longer series")
        self.ensemble_ = self._ensemble(c, np.float32)
        task = ForecastTask(self.ensemble_, *self._encode(x, y), *self._encode(x_val, y_val), c.batch_size, c.seed)
        config = TrainConfig(lr=c.lr, lr_decay=c.lr_decay, patience=c.patience, max_epochs=c.max_epochs,
                             max_minutes=c.max_minutes, seed=c.seed, progress=self.verbose)
        budgets = ("max_epochs", "max_minutes", "patience")  # a resumed run may change these
        describe = {"model": {k: v for k, v in asdict(c).items() if k not in budgets}, "pairs": len(x),
                    "val_pairs": len(x_val), "lookback": L}
        log(f"forecaster: {len(series)} series, {D} channel(s), lookback {L} in frames of {self.frame_}, "
            f"{len(x)} training and {len(x_val)} validation windows, {c.n_models} x {c.cell.upper()}({c.hidden_size})")
        trainer = Trainer(self.ensemble_.params, task, config, save_model=self.save if out else None, out=out,
                          describe=describe, log=log)
        self.history_ = trainer.fit(resume=resume)
        if out:
            self.save(out)  # the best parameters, now restored
        return self

    def fit_csv(self, paths, out=None, resume: bool = False, log=None, **csv_options) -> Forecaster:
        """Train on one or more CSV files (one series each) read by :func:`read_csv_series` with
        ``csv_options``; the model remembers the columns so ``evaluate_file`` reads files alike."""
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        read = [read_csv_series(p, **csv_options) for p in paths]
        for r in read[1:]:
            if r.columns != read[0].columns:
                raise ValueError(f"{r.path}: columns {r.columns} differ from {read[0].columns} in {read[0].path}")
        self.columns_ = read[0].columns
        self.csv_options_ = {**csv_options, "columns": self.columns_}
        return self.fit([r.values for r in read], out=out, resume=resume, log=log)

    def _ensemble(self, c: ForecasterConfig, dtype) -> ForecastEnsemble:
        D = self.n_channels_
        return ForecastEnsemble(c.n_models, seed=c.seed, input_size=D, output_size=D,
                                steps=c.horizon if c.strategy == "direct" else 1, cell=c.cell,
                                hidden_size=c.hidden_size, num_layers=c.num_layers, bidirectional=c.bidirectional,
                                dropout=c.dropout, lookback=self.lookback_, linear=c.linear, frame=self.frame_,
                                dtype=dtype)

    def _encode(self, x: ndarray, y: ndarray | None = None):
        """Scaled windows -> network inputs (and targets), relative to the last value if asked."""
        if not self.subtract_last:
            return x, y
        anchor = x[:, -1:, :]
        return x - anchor, None if y is None else y - anchor

    # -- forecasting -------------------------------------------------------------------------
    def _forecast(self, z: ndarray, steps: int) -> ndarray:
        """z: (N, L, D) scaled windows -> (N, steps, D) scaled forecasts, recursively in blocks."""
        blocks, done = [], 0
        dtype = self.ensemble_.members[0].dtype
        while done < steps:
            x, _ = self._encode(z)
            block = self.ensemble_.predict(x.astype(dtype)).astype(np.float64)
            if self.subtract_last:
                block += z[:, -1:, :]
            blocks.append(block)
            z = np.concatenate([z, block], axis=1)[:, -self.lookback_:]
            done += block.shape[1]
        return np.concatenate(blocks, axis=1)[:, :steps]

    def predict(self, history, horizon: int | None = None):
        """The next ``horizon`` (default: the ``horizon`` hyperparameter) values after ``history``.

        ``history``: (T,) -> (horizon,); (T, D) -> (horizon, D); a list -> a list of those.
        Only the last ``lookback_`` steps are read; T must be at least ``lookback_``.
        """
        self._check_fitted("predict")
        horizon = self._horizon("predict", horizon)
        many = isinstance(history, (list, tuple))
        series, univariate = as_series_list("Forecaster.predict", history, self.n_channels_)
        for i, s in enumerate(series):
            if len(s) < self.lookback_:
                raise ValueError(f"Forecaster.predict: history{f' {i}' if many else ''} has {len(s)} steps; "
                                 f"the model reads the last lookback_ = {self.lookback_}")
        z = np.stack([self.scaler_.transform(s[-self.lookback_:]) for s in series])
        out = self.scaler_.inverse(self._forecast(z, horizon))
        out = out[..., 0] if univariate else out
        return list(out) if many else out[0]

    def rolling_forecast(self, series, horizon: int | None = None, start: int | None = None):
        """Forecast from every origin t of ``series`` ((T,) or (T, D)) with ``lookback_`` steps
        before it and ``horizon`` steps from it on (only origins t >= ``start``, when given).

        Returns (forecasts, actual, origins): two (N, horizon, D) arrays in original units and the
        N origins (forecast k of row i is for step ``origins[i] + k``, from steps before ``origins[i]``).
        """
        self._check_fitted("rolling_forecast")
        horizon = self._horizon("rolling_forecast", horizon)
        (s,), _ = as_series_list("Forecaster.rolling_forecast", series, self.n_channels_)
        history, actual = windows(s, self.lookback_, horizon, start)
        first = max(self.lookback_, start or 0)
        if len(history) == 0:
            raise ValueError(f"Forecaster.rolling_forecast: the series has {len(s)} steps; forecasting {horizon} "
                             f"step(s) from step {first} on (after lookback_ = {self.lookback_}) needs more")
        forecasts = self.scaler_.inverse(self._forecast(self.scaler_.transform(history), horizon))
        return forecasts, actual, np.arange(first, first + len(history))

    def evaluate(self, series, horizon: int | None = None, start: int | None = None) -> dict:
        """RMSE, MAE and MASE of :meth:`rolling_forecast` over ``series``, beside those of the
        naive forecast (the last value, repeated). MASE is scaled by the training series'
        in-sample seasonal naive MAE (period ``season``)."""
        forecasts, actual, origins = self.rolling_forecast(series, horizon, start)
        (s,), _ = as_series_list("Forecaster.evaluate", series, self.n_channels_)
        naive = np.repeat(s[origins - 1][:, None, :], actual.shape[1], axis=1)
        return {"rmse": rmse(actual, forecasts), "mae": mae(actual, forecasts),
                "mase": float(np.mean(np.abs(forecasts - actual) / self.naive_scale_)),
                "naive_rmse": rmse(actual, naive), "naive_mae": mae(actual, naive),
                "forecasts": int(len(origins)), "horizon": int(actual.shape[1])}

    def score(self, series, horizon: int | None = None, start: int | None = None) -> float:
        """R^2 of the rolling forecasts (1 is perfect, 0 is the mean of the actual values)."""
        forecasts, actual, _ = self.rolling_forecast(series, horizon, start)
        return float(1 - np.sum((actual - forecasts) ** 2) / np.sum((actual - actual.mean(axis=(0, 1))) ** 2))

    def _horizon(self, who: str, horizon) -> int:
        horizon = self.horizon if horizon is None else horizon
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ValueError(f"Forecaster.{who}: horizon must be a positive int, got {horizon!r}")
        return int(horizon)

    def _check_fitted(self, who: str) -> None:
        if not hasattr(self, "ensemble_"):
            raise ValueError(f"Forecaster.{who}: the forecaster is not fitted; call fit(series) first")

    # -- files -------------------------------------------------------------------------------
    def save(self, path) -> None:
        """One safetensors file: the networks' parameters; the hyperparameters, window, scaling
        and CSV columns in its metadata."""
        self._check_fitted("save")
        metadata = {"kind": self.kind, "config": asdict(self._config()), "lookback": self.lookback_,
                    "frame": self.frame_, "n_channels": self.n_channels_, "univariate": self.univariate_,
                    "scaler": self.scaler_.to_dict(), "naive_scale": np.asarray(self.naive_scale_).tolist(),
                    "columns": self.columns_, "csv_options": self.csv_options_,
                    "dtype": self.ensemble_.members[0].dtype.name}
        save_model_file(path, self.ensemble_.params, metadata)

    @classmethod
    def from_file_contents(cls, arrays: dict, metadata: dict, path: str) -> Forecaster:
        try:
            model = cls(**metadata["config"])
            model.lookback_, model.frame_ = int(metadata["lookback"]), int(metadata["frame"])
            model.n_channels_, model.univariate_ = int(metadata["n_channels"]), bool(metadata["univariate"])
            model.scaler_ = Scaler.from_dict(metadata["scaler"])
            model.naive_scale_ = np.asarray(metadata["naive_scale"], dtype=np.float64)
            model.columns_, model.csv_options_ = metadata.get("columns"), metadata.get("csv_options")
            model.ensemble_ = model._ensemble(model._config(), np.dtype(metadata.get("dtype", "float32")))
            params = model.ensemble_.params
            if set(arrays) != set(params):
                raise ValueError(f"parameters differ: missing {sorted(set(params) - set(arrays))[:3]}, "
                                 f"unexpected {sorted(set(arrays) - set(params))[:3]}")
            for k, v in arrays.items():
                if v.shape != params[k].shape:
                    raise ValueError(f"{k} has shape {v.shape}, expected {params[k].shape}")
                params[k][...] = v
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{path}: not a valid forecaster file ({e})") from e
        return model

    def _read_csv(self, path):
        read = read_csv_series(path, **(self.csv_options_ or {}))
        return read, (read.values[:, 0] if self.univariate_ else read.values)

    def evaluate_file(self, path) -> dict:
        """:meth:`evaluate` on the series in a CSV file (read like the training files): forecasts
        from every origin after the first ``lookback_`` rows."""
        return self.evaluate(self._read_csv(path)[1])

    def predict_file(self, path, horizon: int | None = None) -> list[str]:
        """The forecast after the last row of a CSV file, as CSV lines: a header, then one line
        per future step (``step,<column>,...``)."""
        read, values = self._read_csv(path)
        forecast = np.asarray(self.predict(values, horizon)).reshape(-1, self.n_channels_)
        return [",".join(["step", *read.columns])] + [
            ",".join([str(k + 1), *(f"{v:.6g}" for v in row)]) for k, row in enumerate(forecast)]


__all__ = ["Forecaster", "ForecasterConfig", "STRATEGIES"]
