"""A :class:`Forecaster` on CSV files: fitting on them, and end to end what ``rnnkit
train-forecaster`` runs."""
from __future__ import annotations

import os

from ...data.csv_series import read_csv_series
from .estimator import Forecaster


def fit_csv(model: Forecaster, paths, validation=None, **csv_options) -> Forecaster:
    """Fit ``model`` on one or more CSV files (one series each) read by :func:`read_csv_series`
    with ``csv_options``, early-stopping on the ``validation`` CSV file(s) if given (read alike).
    The model then remembers the columns and options (``columns_``, ``csv_options_``) so
    ``evaluate_file`` and ``predict_file`` read files alike; with ``model.out`` the model file is
    saved again with them. Returns the model."""
    def read_all(paths):
        paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        return [read_csv_series(p, **csv_options) for p in paths]

    read = read_all(paths)
    val = None if validation is None else read_all(validation)
    for r in read[1:] + (val or []):
        if r.columns != read[0].columns:
            raise ValueError(f"{r.path}: columns {r.columns} differ from {read[0].columns} in {read[0].path}")
    model.fit([r.values for r in read], validation=None if val is None else [r.values for r in val])
    model.columns_ = read[0].columns
    model.csv_options_ = {**csv_options, "columns": model.columns_}
    if model.out is not None:
        model.save(model.out)
    return model


def train_forecaster_files(paths, out: str | os.PathLike, test: str | os.PathLike | None = None,
                           resume: bool = False, csv_options: dict | None = None, **params) -> tuple[Forecaster, dict]:
    """Fit a ``Forecaster(out=out, resume=resume, **params)`` on one or more CSV files
    (:func:`fit_csv`), which saves it to ``out`` with the trainer's checkpoint, history CSV and
    loss plot beside it.

    Returns the model and the metrics of :meth:`Forecaster.evaluate` on ``test`` if given, else on
    the held-out tail of the last training file (forecasts from the origins in that tail only).
    ``<out>.forecast.png`` draws the series evaluated with its first-step forecasts.
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    model = fit_csv(Forecaster(out=out, resume=resume, **params), paths, **(csv_options or {}))
    if test is not None:
        series, start, where = model._read_csv(test)[1], None, os.fspath(test)
    else:
        series = model._read_csv(paths[-1])[1]
        start = len(series) - max(model.horizon, round(model.val_fraction * len(series)))
        where = f"the held-out tail of {os.fspath(paths[-1])}"
    metrics = model.evaluate(series, start=start)
    with model._logging() as log:
        log(f"{where}: " + "  ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    try:
        from ...plots import plot_forecast
    except ImportError:  # matplotlib is the optional plot extra
        return model, metrics
    forecasts, _, origins = model.rolling_forecast(series, start=start)
    plot_forecast(series, forecasts[:, 0], f"{os.fspath(out)}.forecast.png", start=int(origins[0]),
                  labels=model.columns_, title=f"one-step forecasts on {os.path.basename(where)}")
    return model, metrics


__all__ = ["fit_csv", "train_forecaster_files"]
