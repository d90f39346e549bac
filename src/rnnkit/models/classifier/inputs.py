"""Input handling for :class:`SequenceClassifier`: what ``X`` may be, frames of several steps, and
training-time augmentation."""
from __future__ import annotations

import math

import numpy as np
from numpy import ndarray

from ...data.vocab import tokenize_words


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


def class_weights(cw, classes: list, y: ndarray) -> ndarray | None:
    """Per-class loss weights for ``class_weight`` ``cw``: None, ``"balanced"`` (``n / (K n_c)``)
    or a dict label -> weight (1 for labels it leaves out); ``y``: (N,) class indices."""
    if cw is None:
        return None
    counts = np.bincount(y, minlength=len(classes)).astype(np.float64)
    if cw == "balanced":
        return (len(y) / (len(counts) * counts)).astype(np.float32)
    if isinstance(cw, dict):
        unknown = [k for k in cw if k not in classes]
        if unknown:
            raise ValueError(f"SequenceClassifier: class_weight names {unknown[0]!r}, not a class of y")
        return np.array([float(cw.get(c, 1.0)) for c in classes], dtype=np.float32)
    raise ValueError(f"SequenceClassifier: class_weight must be None, 'balanced' or a dict, got {cw!r}")

def first_difference(a: ndarray) -> ndarray:
    """(T, D) -> (T, D): each channel's change from the step before, 0 at t = 0."""
    return np.diff(a, axis=0, prepend=a[:1])

def series_scaled(a: ndarray) -> ndarray:
    """Each channel of one series to zero mean and unit variance."""
    return (a - a.mean(0)) / np.maximum(a.std(0), 1e-8)


# -- augmentation -----------------------------------------------------------------------------------
# Training-time augmentation of feature sequences for :class:`SequenceClassifier`.
#
# Small training sets (tens of series) are memorised within a few epochs; showing each series a
# little differently every time it is drawn (Le Guennec et al. 2016, "Data augmentation for time
# series classification"; Um et al. 2017) is the cheapest regulariser there is. The augmentations
# work on the scaled input channels *before* framing, so a crop moves frame boundaries by single
# samples, and before the derived channels (first differences, relative position) are computed, so
# those are the augmented series' own rather than distorted copies of the original's:
#
#     crop:   keep a random window of ``U(1 - CROP, 1) * T_i`` consecutive steps
#     scale:  multiply each channel of a sequence by ``exp(N(0, SCALE))`` (scaled data: around 0)
#     jitter: add ``N(0, JITTER)`` to every value
#
# Validation and prediction always see the series as they are.

KINDS = ("crop", "scale", "jitter")
CROP, SCALE, JITTER = 0.1, 0.1, 0.05


def parse_augment(spec: str | None, who: str = "SequenceClassifier") -> tuple[str, ...]:
    """``"crop+scale+jitter"`` -> ("crop", "scale", "jitter"); None or "" -> ()."""
    if spec is None or spec == "":
        return ()
    parts = tuple(spec.split("+")) if isinstance(spec, str) else None
    if not parts or any(p not in KINDS for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(f"{who}: augment must be None or '+'-joined names from {KINDS}, got {spec!r}")
    return parts


class Augmenter:
    """``augmenter(idx, rng) -> (x, lengths)``: network input ``(B, T', frame * D)`` and ``(B,)``
    for the training cases ``idx``, each series augmented anew and then framed.

    Args:
        seqs: the training series with their input channels scaled, each ``(T_i, D)``.
        kinds: a subset of :data:`KINDS`.
        frame, stride: the framing of :func:`frames`.
        finish: ``(T, D) -> (T, D')``, the derived channels appended to an augmented series.
    """

    def __init__(self, seqs: list[ndarray], kinds: tuple[str, ...], frame: int, stride: int,
                 finish=lambda a: a):
        self.seqs, self.kinds, self.frame, self.stride, self.finish = seqs, kinds, frame, stride, finish

    def one(self, a: ndarray, rng: np.random.Generator) -> ndarray:
        """(T, D) -> (T', D) with T' <= T, one random draw of every augmentation in ``kinds``."""
        T, D = a.shape
        if "crop" in self.kinds and T > 1:
            keep = max(1, math.ceil(rng.uniform(1 - CROP, 1) * T))
            start = int(rng.integers(0, T - keep + 1))
            a = a[start:start + keep]
        if "scale" in self.kinds:
            a = a * np.exp(rng.normal(0.0, SCALE, size=D))
        if "jitter" in self.kinds:
            a = a + rng.normal(0.0, JITTER, size=a.shape)
        return a

    def __call__(self, idx: ndarray, rng: np.random.Generator) -> tuple[ndarray, ndarray]:
        return pad([frames(self.finish(self.one(self.seqs[i], rng)), self.frame, self.stride) for i in idx])


__all__ = ["Augmenter", "KINDS", "as_sequences", "class_weights", "first_difference", "frames", "pad", "parse_augment",
           "series_scaled"]
