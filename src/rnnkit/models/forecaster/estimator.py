"""``Forecaster``: recurrent forecasting of one or many series, a scikit-learn estimator (without scikit-learn)."""
from __future__ import annotations

import math
import os

import numpy as np
from numpy import ndarray

from ...data.csv_series import read_csv_series
from ...estimator import LOGGER, Estimator
from ...io import ModelFileError, save_model_file
from ...metrics.regression import mae, rmse
from ...train import TrainConfig, Trainer
from .inputs import (STRATEGIES, Scaler, as_series_list, check_hyperparameters, choose_lookback, is_many,
                     pooled_naive_scale, windows)
from .network import ForecastEnsemble
from .task import ForecastTask

BUDGETS = ("max_epochs", "max_minutes", "max_steps", "patience")   # a resumed run may change these
RUN = ("out", "resume", "verbose")   # how a fit runs, not what it learns: not stored in model files
MAX_RECURRENT_STEPS = 32  # frame="auto" groups samples so a window takes at most this many RNN steps


class Forecaster(Estimator):
    """Forecast the next ``horizon`` values of a series from its last ``lookback`` values.

    Each channel is scaled with statistics of the training part (stored with the model). A window
    goes in relative to its last value (``subtract_last``, as NLinear does: the model is then
    blind to the level, so a series that trends past its training range does not push the units
    into saturation); a recurrent encoder reads it in frames of ``frame`` steps, a dense head maps
    its final state to the forecast, and a linear autoregression over the window is added
    (``linear``, LSTNet's highway). Training is MSE with the shared :class:`rnnkit.Trainer`:
    Adam, early stopping on the last ``val_fraction`` of every series (or on ``fit``'s
    ``validation`` series), the best epoch kept. ``n_models`` networks from different
    initialisations and batch orders are trained together and averaged, which removes most of the
    seed-to-seed spread of one small network.

    Strategies for ``horizon`` K > 1: ``"direct"`` has the head emit all K steps at once;
    ``"recursive"`` trains one-step forecasts and feeds each prediction back as the newest input.
    A direct model asked for more than K steps continues recursively in blocks of K.

    Series are ``(T,)`` (univariate) or ``(T, D)`` arrays, or many series of one kind (all with
    the same D; windows never cross series): a list of them, or an ``(N, T, D)`` array of N series
    of one length. All D channels are forecast.

    scikit-learn's X/y: a sample is a whole series and its targets are its own future, so ``X``
    is the many-series form above and ``y`` is None: ``cross_val_score(Forecaster(), X,
    cv=KFold(3))`` fits on some series and :meth:`score` s (R^2 of the rolling forecasts) the
    others; ``GridSearchCV`` works alike.

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
        lr, lr_decay, batch_size, max_epochs, patience, max_minutes, max_steps: training
            (:class:`TrainConfig`).
        val_fraction: the tail of every series held out for early stopping (without ``validation``).
        seed: initialisation, batch order and dropout.
        verbose: show a progress bar and log lines (logger ``"rnnkit"``) while fitting.
        out: the model file ``fit`` writes whenever validation improves, with ``<out>.ckpt`` (a
            checkpoint), ``<out>.history.csv`` and ``<out>.loss.png`` beside it; None writes nothing.
        resume: continue ``fit`` from ``<out>.ckpt`` (the same data and settings but the budgets).

    Fitted attributes: ``ensemble_``, ``history_``, ``lookback_``, ``frame_``, ``n_features_in_``
    (channels, also ``n_channels_``), ``univariate_``, ``scaler_``, ``naive_scale_``, and after
    :func:`~rnnkit.models.forecaster.files.fit_csv` ``columns_`` and ``csv_options_``.
    """

    kind = "forecaster"
    estimator_type = "regressor"

    # new parameters go last, so positional calls of the earlier signature keep their meaning
    def __init__(self, lookback: int | None = None, horizon: int = 1, strategy: str = "direct", cell: str = "lstm",
                 hidden_size: int = 32, num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0,
                 frame: int | str = "auto", linear: bool = True, subtract_last: bool = True,
                 scaling: str = "standard", n_models: int = 5, season: int = 1, lr: float = 3e-3,
                 lr_decay: float = 1.0, batch_size: int = 32, max_epochs: int = 200, patience: int = 20,
                 val_fraction: float = 0.2, max_minutes: float | None = None, seed: int = 0,
                 verbose: bool = False, max_steps: int | None = None, out: str | os.PathLike | None = None,
                 resume: bool = False):
        self.lookback, self.horizon, self.strategy, self.cell = lookback, horizon, strategy, cell
        self.hidden_size, self.num_layers, self.bidirectional = hidden_size, num_layers, bidirectional
        self.dropout, self.frame, self.linear, self.subtract_last = dropout, frame, linear, subtract_last
        self.scaling, self.n_models, self.season, self.lr, self.lr_decay = scaling, n_models, season, lr, lr_decay
        self.batch_size, self.max_epochs, self.patience = batch_size, max_epochs, patience
        self.val_fraction, self.max_minutes, self.seed, self.verbose = val_fraction, max_minutes, seed, verbose
        self.max_steps, self.out, self.resume = max_steps, out, resume

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False   # the targets are the series' own future values
        return tags

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, series, y=None, validation=None) -> Forecaster:
        """Train on ``series`` ((T,), (T, D), or many: a list of them or an (N, T, D) array);
        returns ``self``.

        ``y`` must be None (scikit-learn's place for targets; a forecaster's are in the series).
        ``validation``: None holds out the last ``val_fraction`` of every series for early stopping;
        series (the same forms) are windowed like the training series and early-stop training,
        which then uses the training series whole.
        """
        who = "Forecaster.fit"
        if y is not None:
            raise ValueError(f"{who}: y must be None: a forecaster's targets are each series' own next values "
                             "(give validation series as validation=...)")
        check_hyperparameters(self.get_params())
        out = self._checked_out(who)
        series, univariate = as_series_list(who, series)
        D = series[0].shape[1]
        K = self.horizon if self.strategy == "direct" else 1
        if validation is None:
            n_val = [max(K, round(self.val_fraction * len(s))) for s in series]
            train_parts = [s[:len(s) - n] for s, n in zip(series, n_val)]
        else:
            val_series, _ = as_series_list(f"{who} (validation)", validation, D)
            train_parts = series
        L = self.lookback or choose_lookback(train_parts)
        frame = math.ceil(L / MAX_RECURRENT_STEPS) if self.frame == "auto" else self.frame
        L = frame * math.ceil(L / frame)
        scaler = Scaler.fit(train_parts, self.scaling)
        pairs = [windows(scaler.transform(s), L, K) for s in train_parts]
        if validation is None:
            val_pairs = [windows(scaler.transform(s), L, K, len(s) - n) for s, n in zip(series, n_val)]
        else:
            val_pairs = [windows(scaler.transform(s), L, K) for s in val_series]
        x, y = (np.concatenate(p) for p in zip(*pairs))
        x_val, y_val = (np.concatenate(p) for p in zip(*val_pairs))
        if len(x) < 1 or (len(x_val) < 1 and validation is None):
            shortest = min(len(s) for s in series)
            tail = f" and val_fraction {self.val_fraction}" if validation is None else ""
            raise ValueError(f"{who}: series too short (the shortest has {shortest} steps) for lookback {L}, "
                             f"{K} target step(s){tail}: training needs {L + K} steps"
                             f"{' before the held-out tail' * (validation is None)}. Give a smaller lookback or "
                             "longer series")
        if len(x_val) < 1:
            raise ValueError(f"{who}: validation series too short (the longest has {max(len(s) for s in val_series)} "
                             f"steps) for lookback {L} and {K} target step(s): a validation window needs {L + K} steps")
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)   # a refit starts from nothing
        self.univariate_, self.frame_, self.lookback_ = univariate, frame, L
        self.n_channels_ = self.n_features_in_ = D
        self.scaler_, self.naive_scale_ = scaler, pooled_naive_scale(train_parts, self.season)
        self.ensemble_ = self._ensemble(np.float32)
        task = ForecastTask(self.ensemble_, *self._encode(x, y), *self._encode(x_val, y_val), self.batch_size,
                            self.seed)
        config = TrainConfig(lr=self.lr, lr_decay=self.lr_decay, patience=self.patience, max_epochs=self.max_epochs,
                             max_minutes=self.max_minutes, max_steps=self.max_steps, seed=self.seed,
                             progress=bool(self.verbose))
        describe = {"model": {k: v.item() if isinstance(v, np.generic) else v   # JSON numbers, as read back
                              for k, v in self.get_params().items() if k not in BUDGETS + RUN},
                    "pairs": len(x), "val_pairs": len(x_val), "lookback": L}
        with self._logging() as log:
            log(f"forecaster: {len(series)} series, {D} channel(s), lookback {L} in frames of {frame}, {len(x)} "
                f"training and {len(x_val)} validation windows, "
                f"{self.n_models} x {self.cell.upper()}({self.hidden_size})")
            if self.resume:
                log(f"resuming from {out}.ckpt")
            trainer = Trainer(self.ensemble_.params, task, config, save_model=self.save if out else None, out=out,
                              describe=describe, log=LOGGER.debug)
            self.history_ = trainer.fit(resume=self.resume)
            st = trainer.state
            log(f"stopped ({st.stopped}) after {st.step} steps ({st.step / task.steps_per_epoch:.0f} epochs, "
                f"{st.elapsed / 60:.1f} min); best validation loss {st.best_loss:.4f}")
            if out:
                self.save(out)  # the best parameters, now restored
        return self

    def _ensemble(self, dtype) -> ForecastEnsemble:
        D = self.n_channels_
        return ForecastEnsemble(self.n_models, seed=self.seed, input_size=D, output_size=D,
                                steps=self.horizon if self.strategy == "direct" else 1, cell=self.cell,
                                hidden_size=self.hidden_size, num_layers=self.num_layers,
                                bidirectional=self.bidirectional, dropout=self.dropout, lookback=self.lookback_,
                                linear=self.linear, frame=self.frame_, dtype=dtype)

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
        many = is_many(history)
        series, univariate = as_series_list("Forecaster.predict", history, self.n_channels_)
        for i, s in enumerate(series):
            if len(s) < self.lookback_:
                raise ValueError(f"Forecaster.predict: history{f' {i}' if many else ''} has {len(s)} steps; "
                                 f"the model reads the last lookback_ = {self.lookback_}")
        z = np.stack([self.scaler_.transform(s[-self.lookback_:]) for s in series])
        out = self.scaler_.inverse(self._forecast(z, horizon))
        out = out[..., 0] if univariate else out
        if isinstance(history, np.ndarray) and many:
            return out                           # (N, horizon, D) for an (N, T, D) array
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

    def score(self, series, y=None, horizon: int | None = None, start: int | None = None) -> float:
        """R^2 of the rolling forecasts (1 is perfect, 0 is the mean of the actual values), pooled
        over every series when ``series`` holds many (the form scikit-learn's folds pass, with
        ``y`` None)."""
        if y is not None:
            raise ValueError("Forecaster.score: y must be None: the actual values are the series' own")
        runs = [self.rolling_forecast(s, horizon, start)[:2] for s in (series if is_many(series) else [series])]
        forecasts, actual = (np.concatenate(part) for part in zip(*runs))
        return float(1 - np.sum((actual - forecasts) ** 2) / np.sum((actual - actual.mean(axis=(0, 1))) ** 2))

    def _horizon(self, who: str, horizon) -> int:
        horizon = self.horizon if horizon is None else horizon
        if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ValueError(f"Forecaster.{who}: horizon must be a positive int, got {horizon!r}")
        return int(horizon)

    # -- files -------------------------------------------------------------------------------
    def save(self, path) -> None:
        """One safetensors file: the networks' parameters; the hyperparameters (but ``out``,
        ``resume``), window, scaling and CSV columns in its metadata."""
        self._check_fitted("save")
        params = {k: v for k, v in self.get_params().items() if k not in ("out", "resume")}
        metadata = {"kind": self.kind, "params": params, "lookback": self.lookback_,
                    "frame": self.frame_, "n_channels": self.n_channels_, "univariate": self.univariate_,
                    "scaler": self.scaler_.to_dict(), "naive_scale": np.asarray(self.naive_scale_).tolist(),
                    "columns": getattr(self, "columns_", None), "csv_options": getattr(self, "csv_options_", None),
                    "dtype": self.ensemble_.members[0].dtype.name}
        save_model_file(path, self.ensemble_.params, metadata)

    @classmethod
    def from_file_contents(cls, arrays: dict, metadata: dict, path: str) -> Forecaster:
        """The model in a file :meth:`save` wrote (today's, or an earlier one's with ``"config"``)."""
        try:
            model = cls(**(metadata["params"] if "params" in metadata else metadata["config"]))
            model.lookback_, model.frame_ = int(metadata["lookback"]), int(metadata["frame"])
            model.n_channels_ = model.n_features_in_ = int(metadata["n_channels"])
            model.univariate_ = bool(metadata["univariate"])
            model.scaler_ = Scaler.from_dict(metadata["scaler"])
            model.naive_scale_ = np.asarray(metadata["naive_scale"], dtype=np.float64)
            model.columns_, model.csv_options_ = metadata.get("columns"), metadata.get("csv_options")
            model.ensemble_ = model._ensemble(np.dtype(metadata.get("dtype", "float32")))
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
        read = read_csv_series(path, **(getattr(self, "csv_options_", None) or {}))
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


__all__ = ["Forecaster", "STRATEGIES"]
