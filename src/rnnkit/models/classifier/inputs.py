"""Input handling for :class:`SequenceClassifier`: what ``X`` may be, frames of several steps, and
training-time augmentation."""
from __future__ import annotations

import hashlib
import math

import numpy as np
from numpy import ndarray

from ...cells import cell_type
from ...data.vocab import tokenize_words
from ...train import TrainConfig

NORMALIZE = ("channel", "series", None)


def check_hyperparameters(p: dict) -> None:
    """The checks ``SequenceClassifier.fit`` makes of its hyperparameters ``p`` before any work."""
    who = "SequenceClassifier"
    if p["normalize"] not in NORMALIZE:
        raise ValueError(f"{who}: normalize must be one of {NORMALIZE}, got {p['normalize']!r}")
    if not (p["frame"] == "auto" or (isinstance(p["frame"], int) and p["frame"] >= 1)):
        raise ValueError(f"{who}: frame must be 'auto' or an int >= 1, got {p['frame']!r}")
    if p["frame_stride"] is not None and not (isinstance(p["frame_stride"], int) and p["frame_stride"] >= 1):
        raise ValueError(f"{who}: frame_stride must be None or an int >= 1, got {p['frame_stride']!r}")
    batch_size = p["batch_size"]
    if batch_size != "auto" and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"{who}: batch_size must be 'auto' or a positive int, got {batch_size!r}")
    parse_augment(p["augment"])
    if p["position"] not in (True, False, "auto"):
        raise ValueError(f"{who}: position must be True, False or 'auto', got {p['position']!r}")
    for name in ("hidden_size", "num_layers", "n_models", "max_epochs", "patience", "embedding_dim",
                 "min_count") + (("max_steps",) if p["max_steps"] is not None else ()):
        value = p[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{who}: {name} must be a positive int{' or None' * (name == 'max_steps')}, got {value!r}")
    if not 0 <= p["val_fraction"] < 1:
        raise ValueError(f"{who}: val_fraction must lie in [0, 1), got {p['val_fraction']}")
    cell_type(p["cell"], who)
    TrainConfig(lr=p["lr"], weight_decay=p["weight_decay"], lr_decay=p["lr_decay"], average=p["average"],
                max_minutes=p["max_minutes"])   # the trainer's own checks


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


def as_labels(y, n: int, who: str) -> tuple[list, list]:
    """``(labels, classes)``: ``y`` as a list of ``n`` Python values and its sorted distinct values
    (by type name, then value, so mixed int and str labels sort too)."""
    labels = list(y.tolist() if isinstance(y, np.ndarray) else y)
    if len(labels) != n:
        raise ValueError(f"{who}: X has {n} sequences, y has {len(labels)} labels")
    try:
        classes = sorted(set(labels), key=lambda c: (type(c).__name__, c))
    except TypeError:
        raise ValueError(f"{who}: labels must be hashable and comparable within a type "
                         f"(str, int, float, bool), got {type(labels[0]).__name__}") from None
    return labels, classes


def class_array(classes: list) -> ndarray:
    """``classes_``: an array of the labels' own type, object if they mix types (1 and "1" stay apart)."""
    return np.array(classes, dtype=object if len({type(c) for c in classes}) > 1 else None)


def as_validation(validation, who: str) -> tuple:
    """``(X_val, y_val)`` or ``(X_val, y_val, lengths_val)`` -> ``(X_val, y_val, lengths_val or None)``."""
    if not isinstance(validation, (tuple, list)) or len(validation) not in (2, 3):
        raise ValueError(f"{who}: validation must be (X_val, y_val) or (X_val, y_val, lengths_val), "
                         f"got {type(validation).__name__}"
                         f"{f' of length {len(validation)}' if isinstance(validation, (tuple, list)) else ''}")
    return (*validation, None) if len(validation) == 2 else tuple(validation)


def validation_data(validation, kind: str, seqs: list, index: dict, lowercase: bool) -> tuple[list, ndarray]:
    """``fit``'s ``validation`` -> (sequences, class indices), checked against the training
    sequences ``seqs`` of input ``kind`` and the class index ``index`` (label -> i) of y."""
    who = "SequenceClassifier.fit (validation)"
    X_val, y_val, lengths_val = as_validation(validation, who)
    val_kind, val_seqs = as_sequences(X_val, lengths_val, who, lowercase)
    if val_kind != kind:
        raise ValueError(f"{who}: X holds {kind}, the validation data {val_kind}")
    if kind == "features" and val_seqs[0].shape[1] != seqs[0].shape[1]:
        raise ValueError(f"{who}: X has {seqs[0].shape[1]} channel(s), the validation sequences {val_seqs[0].shape[1]}")
    val_labels, _ = as_labels(y_val, len(val_seqs), who)
    unknown = [c for c in dict.fromkeys(val_labels) if c not in index]
    if unknown:
        raise ValueError(f"{who}: label {unknown[0]!r} is not a class of y ({list(index)})")
    return val_seqs, np.array([index[c] for c in val_labels], dtype=np.int64)


def fingerprint(seqs: list, target: ndarray) -> str:
    """A digest of training sequences (arrays or token lists) and their class indices, so a resumed
    fit can tell it continues on the same data."""
    h = hashlib.sha256(np.ascontiguousarray(target, dtype=np.int64).tobytes())
    for s in seqs:
        if isinstance(s, np.ndarray):
            h.update(str(s.shape).encode() + np.ascontiguousarray(s, dtype=np.float64).tobytes())
        else:
            h.update("\x1f".join(s).encode() + b"\x1e")
    return h.hexdigest()


def _tokens(s, i: int, who: str, lowercase: bool) -> list[str]:
    if isinstance(s, str):
        s = [t for sentence in tokenize_words(s) for t in sentence]
    elif not isinstance(s, (list, tuple)) or not all(isinstance(t, str) for t in s):
        raise ValueError(f"{who}: sequence {i} must be a str or a list of str tokens like sequence 0, "
                         f"got {type(s).__name__}")
    return [t.lower() for t in s] if lowercase else list(s)


def token_ids(vocab, seqs: list[list[str]]) -> tuple[ndarray, ndarray]:
    """Token lists -> padded ``(N, T)`` ids (``<PAD>`` = 0; an empty list reads as one ``<UNK>``)
    and lengths ``(N,)``."""
    ids = [vocab.encode(s) if s else np.array([vocab.unk_id]) for s in seqs]
    lengths = np.array([len(a) for a in ids])
    out = np.zeros((len(ids), lengths.max()), dtype=np.int64)
    for i, a in enumerate(ids):
        out[i, :len(a)] = a
    return out, lengths


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


def scaled_channels(a: ndarray, normalize: str | None, mean: ndarray, std: ndarray) -> ndarray:
    """(T, D) raw -> (T, D): the input channels scaled as ``normalize`` says (``mean``, ``std``:
    the training statistics of [channels, first differences], for ``"channel"``)."""
    D = a.shape[1]
    if normalize == "channel":
        return (a - mean[:D]) / std[:D]
    if normalize == "series":
        return series_scaled(a)
    return a


def derived_channels(b: ndarray, normalize: str | None, mean: ndarray, std: ndarray, derivatives: bool,
                     position: bool) -> ndarray:
    """(T, D) from :func:`scaled_channels` -> (T, D'): the scaled derivative channels and the
    position channel appended, both computed from b, so an augmented b gets its own."""
    if derivatives:
        db = first_difference(b)
        D = b.shape[1]
        if normalize == "channel":   # diff(b) = diff(a) / std: scale diff(a) with its own stats
            db = (db * std[:D] - mean[D:]) / std[D:]
        elif normalize == "series":
            db = series_scaled(db)
        b = np.concatenate([b, db], axis=1)
    if not position:
        return b
    T = len(b)   # relative position, uniform over [-sqrt 3, sqrt 3]: zero mean, unit variance
    where = np.sqrt(3) * (2 * np.arange(T) / (T - 1) - 1) if T > 1 else np.zeros(T)
    return np.concatenate([b, where[:, None]], axis=1)


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


__all__ = ["Augmenter", "KINDS", "NORMALIZE", "as_labels", "as_sequences", "as_validation", "check_hyperparameters",
           "class_array", "class_weights", "derived_channels", "fingerprint", "first_difference",
           "frames", "pad", "parse_augment", "scaled_channels", "series_scaled", "token_ids", "validation_data"]
