"""Input handling for :class:`SequenceClassifier`: what ``X`` may be, and frames of several steps."""
from __future__ import annotations

import math

import numpy as np
from numpy import ndarray

from ..data.vocab import tokenize_words


def as_sequences(X, lengths, who: str, lowercase: bool = True) -> tuple[str, list]:
    """("tokens", list of token lists) or ("features", list of (T_i, D) float arrays)."""
    if isinstance(X, np.ndarray) and X.dtype.kind in "fiu":
        if X.ndim == 2:
            X = X[:, :, None]
        if X.ndim != 3 or 0 in X.shape:
            raise ValueError(f"{who}: expected X of shape (N, T, D) or (N, T), got {X.shape}")
        N, T, _ = X.shape
        if lengths is None:
            lengths = np.full(N, T)
        lengths = np.asarray(lengths)
        if (lengths.shape != (N,) or not np.issubdtype(lengths.dtype, np.integer)
                or lengths.min() < 1 or lengths.max() > T):
            raise ValueError(f"{who}: expected lengths: ({N},) integers in [1, {T}], "
                             f"got {lengths.dtype} {lengths.shape}")
        return "features", [X[i, :lengths[i]].astype(np.float64) for i in range(N)]
    if lengths is not None:
        raise ValueError(f"{who}: lengths goes with a padded (N, T, D) array; a list carries its own lengths")
    if isinstance(X, (str, bytes)) or not hasattr(X, "__len__") or len(X) == 0:
        raise ValueError(f"{who}: expected a non-empty list of sequences, got {type(X).__name__}")
    first = X[0]
    if isinstance(first, str) or (isinstance(first, (list, tuple)) and first and isinstance(first[0], str)):
        return "tokens", [_tokens(s, i, who, lowercase) for i, s in enumerate(X)]
    out, D = [], None
    for i, s in enumerate(X):
        try:
            a = np.asarray(s, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{who}: sequence {i} is not numeric (got {type(s).__name__}); mixed "
                             "token and numeric sequences cannot be classified together") from None
        a = a[:, None] if a.ndim == 1 else a
        if a.ndim != 2 or a.shape[0] == 0:
            raise ValueError(f"{who}: sequence {i} must be a (T, D) or (T,) array with T >= 1, got {a.shape}")
        if D is not None and a.shape[1] != D:
            raise ValueError(f"{who}: sequence {i} has {a.shape[1]} channels, sequence 0 has {D}")
        if not np.isfinite(a).all():
            raise ValueError(f"{who}: sequence {i} contains NaN or Inf (fill or drop missing values first)")
        D = a.shape[1]
        out.append(a)
    return "features", out


def _tokens(s, i: int, who: str, lowercase: bool) -> list[str]:
    if isinstance(s, str):
        s = [t for sentence in tokenize_words(s) for t in sentence]
    elif not isinstance(s, (list, tuple)) or not all(isinstance(t, str) for t in s):
        raise ValueError(f"{who}: sequence {i} must be a str or a list of str tokens like sequence 0, "
                         f"got {type(s).__name__}")
    return [t.lower() for t in s] if lowercase else list(s)


def frames(a: ndarray, f: int, s: int) -> ndarray:
    """(T, D) -> (T', f * D): frame k holds steps ``k s .. k s + f - 1`` (zero-padded past the end)."""
    if f == 1 and s == 1:
        return a
    T, D = a.shape
    n = 1 + max(0, math.ceil((T - f) / s))
    padded = np.zeros((s * (n - 1) + f, D))
    padded[:T] = a
    index = np.arange(n)[:, None] * s + np.arange(f)
    return padded[index].reshape(n, f * D)


def pad(seqs: list[ndarray], dtype=np.float32) -> tuple[ndarray, ndarray]:
    """A list of (T_i, F) arrays -> padded (N, max T_i, F) and lengths (N,)."""
    lengths = np.array([len(a) for a in seqs])
    out = np.zeros((len(seqs), lengths.max(), seqs[0].shape[1]), dtype=dtype)
    for i, a in enumerate(seqs):
        out[i, :len(a)] = a
    return out, lengths


__all__ = ["as_sequences", "frames", "pad"]
