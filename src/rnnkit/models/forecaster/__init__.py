"""Forecasting (many-to-one over a window, many-to-many over a horizon) of one or many series.

``estimator.py`` :class:`Forecaster` (fit, predict, evaluate, save, load), ``network.py`` the
encoder and head and their ensemble, ``inputs.py`` series, hyperparameter checks, scaling and
(window, future) pairs, ``task.py`` the training task for the shared Trainer, ``files.py``
fitting on CSV files.
"""
from .estimator import Forecaster
from .files import fit_csv, train_forecaster_files

__all__ = ["Forecaster", "fit_csv", "train_forecaster_files"]
