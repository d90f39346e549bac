"""Sequence labelling: one tag per token (parts of speech, named entities).

``estimator.py`` :class:`SequenceTagger` (fit, predict, score, save, load, the file methods),
``network.py`` :class:`TaggerNetwork` (embeddings, character encoder, BiRNN, head), ``inputs.py``
sentences and padded batches of word, character and tag ids, ``task.py`` the training task for
the shared Trainer, ``files.py`` CoNLL-U / CoNLL files to ``(X, y)`` and training from them.
"""
from .estimator import SequenceTagger, TaggerConfig
from .files import read_tagger_files, train_tagger_files
from .network import TaggerNetwork

__all__ = ["SequenceTagger", "TaggerConfig", "TaggerNetwork", "read_tagger_files", "train_tagger_files"]
