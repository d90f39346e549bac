"""Input handling for :class:`SequenceTagger`: what sentences and tags may be, and padded batches of
word, character and tag ids."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from ...layers.char_encoder import encode_words

Sentences = list[list[str]]
CharTable = tuple[dict, ndarray, ndarray]   # form -> row, character ids (N, L), lengths (N,)


class TaggerBatch(NamedTuple):
    """A padded batch of B sentences of at most T tokens, with the U distinct word forms in it."""

    words: ndarray             # (B, T) word ids, 0 (<PAD>) after each sentence's end
    types: ndarray             # (B, T) index into the U forms, 0 at padding (masked out)
    chars: ndarray             # (U, L) character ids of the distinct forms, 0 padding
    char_lengths: ndarray      # (U,)
    lengths: ndarray           # (B,)
    mask: ndarray              # (B, T) bool, True at real tokens
    tags: ndarray | None       # (B, T) tag ids (-1 for padding and tags unknown to the model)


def check_sentences(who: str, sentences, tags=None) -> None:
    """Lists of non-empty lists of non-empty str (and of tags of the same lengths)."""
    if isinstance(sentences, str) or not hasattr(sentences, "__len__"):
        raise TypeError(f"{who}: expected sentences as a list of token lists, got {type(sentences).__name__}")
    if tags is not None and (isinstance(tags, str) or len(tags) != len(sentences)):
        raise ValueError(f"{who}: expected one tag list per sentence ({len(sentences)}), got "
                         f"{len(tags) if hasattr(tags, '__len__') else type(tags).__name__}")
    for s, sentence in enumerate(sentences):
        if isinstance(sentence, str) or not hasattr(sentence, "__len__"):
            raise TypeError(f"{who}: sentence {s} must be a list of token strings, got {type(sentence).__name__}")
        if len(sentence) == 0:
            raise ValueError(f"{who}: sentence {s} is empty")
        for k, token in enumerate(sentence):
            if not isinstance(token, str) or not token:
                raise ValueError(f"{who}: token {k} of sentence {s} must be a non-empty str, got {token!r}")
        if tags is not None:
            if isinstance(tags[s], str) or len(tags[s]) != len(sentence):
                raise ValueError(f"{who}: sentence {s} has {len(sentence)} tokens but "
                                 f"{len(tags[s]) if not isinstance(tags[s], str) else 'a str of'} tags")
            for k, tag in enumerate(tags[s]):
                if not isinstance(tag, str) or not tag:
                    raise ValueError(f"{who}: tag {k} of sentence {s} must be a non-empty str, got {tag!r}")


def char_table(sentences: Sentences, char_index: dict[str, int], max_word_length: int) -> CharTable:
    """Every distinct form of ``sentences`` encoded once: (form -> row, ids (N, L), lengths (N,))."""
    forms = list(dict.fromkeys(t for s in sentences for t in s))
    chars, lengths = encode_words(forms, char_index, max_word_length)
    return {f: i for i, f in enumerate(forms)}, chars, lengths


def pad_batch(sentences: Sentences, word_ids: list[ndarray], tag_ids: list[ndarray] | None,
              char_index: dict[str, int] | None, max_word_length: int,
              table: CharTable | None = None) -> TaggerBatch:
    """A :class:`TaggerBatch` of ``sentences`` from their word ids and tag ids (one array per
    sentence; ``tag_ids=None`` for untagged text). ``char_index=None`` leaves the characters out
    (a tagger without a character encoder); otherwise the distinct forms of the batch are encoded,
    or looked up in ``table`` (see :func:`char_table`) when the caller encoded them in advance."""
    B, T = len(sentences), max(len(s) for s in sentences)
    lengths = np.fromiter((len(s) for s in sentences), np.int64, B)
    mask = np.arange(T)[None, :] < lengths[:, None]
    words = np.zeros((B, T), np.int64)
    for b, ids in enumerate(word_ids):
        words[b, :len(ids)] = ids
    tags = None
    if tag_ids is not None:
        tags = np.full((B, T), -1, np.int64)
        for b, t in enumerate(tag_ids):
            tags[b, :len(t)] = t
    types = np.zeros((B, T), np.int64)
    if char_index is None:
        return TaggerBatch(words, types, np.zeros((0, 1), np.int64), np.zeros(0, np.int64), lengths, mask, tags)
    if table is None:
        row, chars, char_lengths = char_table(sentences, char_index, max_word_length)
        types[mask] = [row[t] for s in sentences for t in s]
        return TaggerBatch(words, types, chars, char_lengths, lengths, mask, tags)
    row, table_chars, table_lengths = table
    global_types = np.zeros((B, T), np.int64)
    global_types[mask] = [row[t] for s in sentences for t in s]
    unique, inverse = np.unique(global_types[mask], return_inverse=True)
    types[mask] = inverse
    char_lengths = table_lengths[unique]
    return TaggerBatch(words, types, table_chars[unique, :char_lengths.max()], char_lengths, lengths, mask, tags)


__all__ = ["CharTable", "Sentences", "TaggerBatch", "char_table", "check_sentences", "pad_batch"]
