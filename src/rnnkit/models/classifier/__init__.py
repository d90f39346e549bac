"""Sequence classification (many-to-one): one label per sequence of features or tokens.

``estimator.py`` :class:`SequenceClassifier` (fit, predict, save, load), ``network.py`` the
network it ensembles, ``inputs.py`` what ``X`` may be, its framing and its
training-time augmentation, ``task.py`` the training task for the shared Trainer,
``files.py`` labelled data files (``.ts``, text, WAV folders).
"""
from .estimator import SequenceClassifier, train_classifier_file

__all__ = ["SequenceClassifier", "train_classifier_file"]
