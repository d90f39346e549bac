"""Training a :class:`SequenceTagger` from CoNLL-U or CoNLL files (what ``rnnkit train-tagger`` runs)."""
from __future__ import annotations

import os

from ...data.conll import read_tagged_file
from .estimator import SequenceTagger


def train_tagger_files(train: str | os.PathLike, dev: str | os.PathLike | None = None,
                       out: str | os.PathLike | None = None, *, column: str = "upos", format: str = "auto",
                       config: dict | None = None, **options) -> SequenceTagger:
    """Read CoNLL-U (tags from ``column``) or CoNLL NER files, train, and return the tagger (written
    to ``out`` as it improves). ``config`` holds :class:`TaggerConfig` fields; ``options`` go to
    :func:`fit_tagger`."""
    sentences, tags, fmt = read_tagged_file(train, format, column)
    dev_sentences = dev_tags = None
    if dev is not None:
        dev_sentences, dev_tags, _ = read_tagged_file(dev, format, column)
    tagger = SequenceTagger(**(config or {}))
    tagger.data_format = {"format": fmt, "column": column}
    return tagger.fit(sentences, tags, dev_sentences, dev_tags, out=out, **options)


__all__ = ["train_tagger_files"]
