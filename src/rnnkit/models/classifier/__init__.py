"""Sequence classification (many-to-one): one label per sequence of features or tokens.

``estimator.py`` :class:`SequenceClassifier` (fit, predict, save, load), ``network.py`` the
network it ensembles, ``inputs.py`` what ``X`` and the hyperparameters may be, its framing and
its training-time augmentation, ``task.py`` the training task for the shared Trainer and the
ensemble's checkpoint, ``files.py`` labelled data files (``.ts``, text, WAV folders), fitting on
them and the reports beside a model file.
"""
from .estimator import SequenceClassifier, train_classifier_file
from .files import fit_file, read_labelled_data, remember_format, write_reports

__all__ = ["SequenceClassifier", "fit_file", "read_labelled_data", "remember_format", "train_classifier_file",
           "write_reports"]
