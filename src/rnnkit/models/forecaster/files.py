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


def write_forecast_report(model: Forecaster, out: str | os.PathLike, path: str | os.PathLike,
                          held_out_tail: bool = False) -> dict:
    """The metrics of :meth:`Forecaster.evaluate` on the CSV series at ``path`` (with
    ``held_out_tail``, forecasts from the origins in its held-out tail only), and
    ``<out>.forecast.png``: the series with its one-step forecasts (needs matplotlib)."""
    series = model._read_csv(path)[1]
    start = len(series) - max(model.horizon, round(model.val_fraction * len(series))) if held_out_tail else None
    where = f"the held-out tail of {os.fspath(path)}" if held_out_tail else os.fspath(path)
    metrics = model.evaluate(series, start=start)
    with model._logging() as log:
        log(f"{where}: " + "  ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
        try:
            from ...plots import plot_forecast
        except ImportError:  # matplotlib is the optional plot extra
            log(f"note: no {os.fspath(out)}.forecast.png (plots need matplotlib: pip install 'rnnkit[plot]')")
            return metrics
    forecasts, _, origins = model.rolling_forecast(series, start=start)
    plot_forecast(series, forecasts[:, 0], f"{os.fspath(out)}.forecast.png", start=int(origins[0]),
                  labels=model.columns_, title=f"one-step forecasts on {os.path.basename(where)}")
    return metrics


def train_forecaster_files(paths, out: str | os.PathLike, test: str | os.PathLike | None = None,
                           resume: bool = False, csv_options: dict | None = None, **params) -> tuple[Forecaster, dict]:
    """Fit a ``Forecaster(out=out, resume=resume, **params)`` on CSV files (:func:`fit_csv`) and
    report on ``test``, or on the held-out tail of the last file (:func:`write_forecast_report`)."""
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    model = fit_csv(Forecaster(out=out, resume=resume, **params), paths, **(csv_options or {}))
    return model, write_forecast_report(model, out, test if test is not None else paths[-1], held_out_tail=test is None)


__all__ = ["write_forecast_report", "fit_csv", "train_forecaster_files"]
