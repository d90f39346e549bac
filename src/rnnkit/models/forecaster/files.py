"""Training a :class:`Forecaster` on CSV files end to end (what ``rnnkit train-forecaster`` runs)."""
from __future__ import annotations

import os
from collections.abc import Callable

from .estimator import Forecaster


def train_forecaster_files(paths, out: str | os.PathLike, test: str | os.PathLike | None = None,
                           resume: bool = False, csv_options: dict | None = None,
                           log: Callable[[str], None] = print, **params) -> tuple[Forecaster, dict]:
    """Fit a :class:`Forecaster` (``params`` are its hyperparameters) on one or more CSV files
    and save it to ``out``, with the trainer's checkpoint, history CSV and loss plot beside it.

    Returns the model and the metrics of :meth:`Forecaster.evaluate` on ``test`` if given, else on
    the held-out tail of the last training file (forecasts from the origins in that tail only).
    ``<out>.forecast.png`` draws the series evaluated with its first-step forecasts.
    """
    paths = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    model = Forecaster(**params).fit_csv(paths, out=out, resume=resume, log=log, **(csv_options or {}))
    if test is not None:
        series, start, where = model._read_csv(test)[1], None, os.fspath(test)
    else:
        series = model._read_csv(paths[-1])[1]
        start = len(series) - max(model.horizon, round(model.val_fraction * len(series)))
        where = f"the held-out tail of {os.fspath(paths[-1])}"
    metrics = model.evaluate(series, start=start)
    log(f"{where}: " + "  ".join(f"{k} {v:.4g}" for k, v in metrics.items()))
    try:
        from ...plots import plot_forecast
    except ImportError:  # matplotlib is the optional plot extra
        return model, metrics
    forecasts, _, origins = model.rolling_forecast(series, start=start)
    plot_forecast(series, forecasts[:, 0], f"{os.fspath(out)}.forecast.png", start=int(origins[0]),
                  labels=model.columns_, title=f"one-step forecasts on {os.path.basename(where)}")
    return model, metrics


__all__ = ["train_forecaster_files"]
