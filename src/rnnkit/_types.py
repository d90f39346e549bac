"""Type aliases shared by every module (defined once, used everywhere)."""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy import ndarray

Params = dict[str, ndarray]
"""A module's parameters: flat, dotted names (``"layers.0.fwd.Wh"``) to arrays."""

Grads = dict[str, ndarray]
"""Gradients with exactly the keys and shapes of the matching ``Params`` (the mirror rule)."""

State = tuple[ndarray, ...]
"""Recurrent state: ``(h,)`` for RNN and GRU, ``(h, c)`` for LSTM."""

Cache = Any
"""Whatever a forward pass hands to its backward pass; opaque to callers."""

Seed = int | np.random.Generator | None


def as_rng(seed: Seed) -> np.random.Generator:
    """A Generator from an int seed, an existing Generator (used as is) or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def prefixed(prefix: str, params: Params) -> Params:
    """``{"W": a}`` -> ``{"prefix.W": a}``; composite modules expose their children this way."""
    return {f"{prefix}.{k}": v for k, v in params.items()}


def unprefixed(prefix: str, params: Params) -> Params:
    """The inverse of :func:`prefixed`: the entries under ``prefix.``, with the prefix removed."""
    head = prefix + "."
    return {k[len(head):]: v for k, v in params.items() if k.startswith(head)}
