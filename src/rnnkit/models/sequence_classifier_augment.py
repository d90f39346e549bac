"""Training-time augmentation of feature sequences for :class:`SequenceClassifier`.

Small training sets (tens of series) are memorised within a few epochs; showing each series a
little differently every time it is drawn (Le Guennec et al. 2016, "Data augmentation for time
series classification"; Um et al. 2017) is the cheapest regulariser there is. The augmentations
work on the scaled input channels *before* framing, so a crop moves frame boundaries by single
samples, and before the derived channels (first differences, relative position) are computed, so
those are the augmented series' own rather than distorted copies of the original's:

    crop:   keep a random window of ``U(1 - CROP, 1) * T_i`` consecutive steps
    scale:  multiply each channel of a sequence by ``exp(N(0, SCALE))`` (scaled data: around 0)
    jitter: add ``N(0, JITTER)`` to every value

Validation and prediction always see the series as they are.
"""
from __future__ import annotations

import math

import numpy as np
from numpy import ndarray

from .sequence_classifier_inputs import frames, pad

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


__all__ = ["Augmenter", "parse_augment", "KINDS"]
