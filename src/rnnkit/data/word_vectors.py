"""Word vectors in the text format of word2vec and GloVe, for initialising embeddings.

One word per line: the word, then D numbers separated by spaces. word2vec files start with a
header line ``"<count> <D>"``; GloVe files have none; both are accepted. A line with another
number of values than the first is an error naming the file and the line.
"""
from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
from numpy import ndarray


def read_word_vectors(path: str | os.PathLike, words: Iterable[str] | None = None,
                      dtype=np.float32) -> dict[str, ndarray]:
    """``{word: (D,) vector}`` from a word2vec/GloVe text file.

    Args:
        path: the file (UTF-8).
        words: keep only these words (and their lowercase forms), to save memory on large files;
            None keeps every word.
        dtype: dtype of the vectors.
    """
    source = os.fspath(path)
    wanted = None if words is None else {w for word in words for w in (word, word.lower())}
    vectors: dict[str, ndarray] = {}
    dim = None
    try:
        f = open(path, encoding="utf-8", errors="strict")
    except OSError as e:
        raise ValueError(f"{source}: cannot read ({e.strerror})") from e
    with f:
        try:
            for number, line in enumerate(f, start=1):
                parts = line.rstrip("\n\r").rstrip(" ").split(" ")
                if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                    dim = int(parts[1])                      # word2vec's "<count> <D>" header
                    continue
                if len(parts) < 2:
                    if not line.strip():
                        continue
                    raise ValueError(f"{source}:{number}: expected a word and its vector, got {line[:60]!r}")
                if dim is None:
                    dim = len(parts) - 1
                if len(parts) - 1 != dim:
                    raise ValueError(f"{source}:{number}: expected {dim} numbers after the word, got "
                                     f"{len(parts) - 1}")
                if wanted is not None and parts[0] not in wanted:
                    continue
                try:
                    vectors[parts[0]] = np.array(parts[1:], dtype=dtype)
                except ValueError as e:
                    raise ValueError(f"{source}:{number}: not a number in the vector of "
                                     f"{parts[0]!r} ({e})") from e
        except UnicodeDecodeError as e:
            raise ValueError(f"{source}: not UTF-8 text ({e.reason})") from e
    if dim is None:
        raise ValueError(f"{source}: no word vectors found")
    return vectors


def embedding_matrix(tokens: list[str], vectors: dict[str, ndarray], table: ndarray) -> int:
    """Copy ``vectors`` into the rows of ``table: (V, D)`` whose token (``tokens[i]`` is row i)
    has one, trying the token and then its lowercase form. Rows without a vector keep their
    values. Returns the number of rows set; a ValueError if the dimensions differ."""
    if vectors:
        dim = len(next(iter(vectors.values())))
        if dim != table.shape[1]:
            raise ValueError(f"embedding_matrix: the word vectors have {dim} dimensions, the embedding "
                             f"has {table.shape[1]}; set word_dim={dim}")
    found = 0
    for i, token in enumerate(tokens):
        v = vectors.get(token)
        if v is None:
            v = vectors.get(token.lower())
        if v is not None:
            table[i] = v
            found += 1
    return found


__all__ = ["embedding_matrix", "read_word_vectors"]
