"""The data files of a :class:`SequenceTagger`: CoNLL-U or CoNLL files read into ``(X, y)``, and
training from them (what ``rnnkit train-tagger`` runs)."""
from __future__ import annotations

import os

from ...data.conll import read_tagged_file
from .estimator import SequenceTagger
from .inputs import Sentences


def read_tagger_files(train: str | os.PathLike, dev: str | os.PathLike | None = None, *, column: str = "upos",
                      format: str = "auto") -> tuple[tuple[Sentences, Sentences], tuple[Sentences, Sentences] | None]:
    """``((X, y), validation)`` from a training file and an optional dev file (``validation`` is
    ``(X_dev, y_dev)``, or None without ``dev``), ready for :meth:`SequenceTagger.fit`.

    ``format``: ``"conllu"``, ``"conll"`` or ``"auto"`` (by extension and content, per file);
    ``column``: the CoNLL-U column the tags come from (give the tagger the same ``column``, so its
    file methods read and write that column)."""
    sentences, tags, _ = read_tagged_file(train, format, column)
    validation = None
    if dev is not None:
        dev_sentences, dev_tags, _ = read_tagged_file(dev, format, column)
        validation = (dev_sentences, dev_tags)
    return (sentences, tags), validation


def train_tagger_files(train: str | os.PathLike, dev: str | os.PathLike | None = None,
                       out: str | os.PathLike | None = None, *, column: str = "upos", format: str = "auto",
                       config: dict | None = None, progress: bool | None = None, **params) -> SequenceTagger:
    """Read CoNLL-U (tags from ``column``) or CoNLL NER files (:func:`read_tagger_files`), fit a
    :class:`SequenceTagger` with ``params`` (its parameters by name, ``out`` and ``column`` among
    them) and return it. ``config`` (more parameters) and ``progress`` (``verbose``) are the
    forms the command line passed before it built the estimator itself."""
    (X, y), validation = read_tagger_files(train, dev, column=column, format=format)
    if progress is not None:
        params.setdefault("verbose", progress)
    tagger = SequenceTagger(**(config or {}), **params, out=out, column=column)
    return tagger.fit(X, y, validation)


__all__ = ["read_tagger_files", "train_tagger_files"]
