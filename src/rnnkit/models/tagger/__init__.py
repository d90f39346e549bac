"""Sequence labelling: one tag per token (parts of speech, named entities).

``estimator.py`` :class:`SequenceTagger` (its network, fit, predict, score, save, load),
``inputs.py`` sentences and padded batches of word, character and tag ids, ``task.py`` the
training task for the shared Trainer, ``files.py`` training from CoNLL-U / CoNLL files.
"""
from .estimator import SequenceTagger, TaggerConfig
from .files import train_tagger_files

__all__ = ["SequenceTagger", "TaggerConfig", "train_tagger_files"]
