"""Sequence summaries: one vector per sequence from recurrent outputs ``(B, T, H)``.

Every pooling layer has the layer contract (``params``; ``forward`` returns ``(out, cache)``;
``backward`` returns ``(dh, grads)`` with the keys of ``params``) and honours ``lengths: (B,)``:
padded steps (``t >= lengths[b]``) never reach the summary and get zero gradient.

    last:       s_b = h_b[len_b - 1]  (forward direction);  h_b[0]  (backward direction)
    mean:       s_b = sum_{t < len_b} h_bt / len_b
    max:        s_b = max_{t < len_b} h_bt                  (elementwise)
    attention:  e_bt = tanh(h_bt W + b) v,  a_b = softmax over t < len_b of e_b,
                s_b = sum_t a_bt h_bt                       (Bahdanau-style, Yang et al. 2016)
    concat:     [s^(1), s^(2), ...] of several of the above (``"mean+max"``)
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .._types import Grads, Params, Seed, as_rng, prefixed
from ..kernels import parallel


def valid_mask(lengths: ndarray | None, B: int, T: int, dtype=bool) -> ndarray:
    """(B, T) with 1 where ``t < lengths[b]`` (all ones when ``lengths`` is None)."""
    if lengths is None:
        return np.ones((B, T), dtype=dtype)
    return (np.arange(T)[None, :] < np.asarray(lengths)[:, None]).astype(dtype)


def _check(who: str, h, lengths) -> tuple[ndarray, ndarray | None]:
    h = np.asarray(h)
    if not np.issubdtype(h.dtype, np.floating) or h.ndim != 3:
        raise ValueError(f"{who}: expected a float array h of shape (B, T, H), got {h.dtype} {h.shape}")
    B, T, _ = h.shape
    if lengths is not None:
        lengths = np.asarray(lengths)
        if (not np.issubdtype(lengths.dtype, np.integer) or lengths.shape != (B,)
                or lengths.min() < 1 or lengths.max() > T):
            raise ValueError(f"{who}: expected integer lengths of shape ({B},) in [1, {T}], "
                             f"got {lengths.dtype} {lengths.shape}")
    return h, lengths


class LastCache(NamedTuple):
    shape: tuple[int, int, int]   # (B, T, H) of h
    last: ndarray                 # (B,) the step read per row


class MaxCache(NamedTuple):
    shape: tuple[int, int, int]   # (B, T, H) of h
    arg: ndarray                  # (B, H) the step that won, per row and unit


class AttentionCache(NamedTuple):
    h: ndarray                    # (B, T, H) the inputs
    u: ndarray                    # (B, T, A) tanh(h W + b)
    a: ndarray                    # (B, T) the attention weights


class LastPooling:
    """The output at each sequence's last valid step, which for a unidirectional network is its
    final hidden state. With ``num_directions=2`` (outputs ``[fwd, bwd]`` concatenated, each of
    width ``H / 2``) the backward half is read at step 0, where the reverse pass ends."""

    def __init__(self, num_directions: int = 1):
        if num_directions not in (1, 2):
            raise ValueError(f"LastPooling: num_directions must be 1 or 2, got {num_directions!r}")
        self.num_directions = num_directions
        self.params: Params = {}

    def output_size(self, H: int) -> int:
        return H

    def forward(self, h: ndarray, lengths: ndarray | None = None) -> tuple[ndarray, LastCache]:
        """h: (B, T, H), lengths: (B,) -> s: (B, H), cache."""
        h, lengths = _check("LastPooling", h, lengths)
        B, T, H = h.shape
        last = np.full(B, T - 1) if lengths is None else lengths - 1
        rows = np.arange(B)
        s = h[rows, last].copy()
        if self.num_directions == 2:
            half = H // 2
            s[:, half:] = h[:, 0, half:]                  # the reverse direction ends at t = 0
        return s, LastCache(h.shape, last)

    def backward(self, ds: ndarray, cache: LastCache) -> tuple[ndarray, Grads]:
        """ds: (B, H) -> dh: (B, T, H) (nonzero only at the steps read), {}."""
        shape, last = cache.shape, cache.last
        B, T, H = shape
        dh = np.zeros(shape, dtype=ds.dtype)
        rows = np.arange(B)
        if self.num_directions == 2:
            half = H // 2
            dh[rows, last, :half] = ds[:, :half]          # s = h[len - 1] (forward half)
            dh[:, 0, half:] += ds[:, half:]               # s = h[0] (backward half)
        else:
            dh[rows, last] = ds
        return dh, {}


class MeanPooling:
    """The mean over valid steps: ``s_b = sum_{t < len_b} h_bt / len_b``."""

    def __init__(self):
        self.params: Params = {}

    def output_size(self, H: int) -> int:
        return H

    def forward(self, h: ndarray, lengths: ndarray | None = None) -> tuple[ndarray, ndarray]:
        """h: (B, T, H), lengths: (B,) -> s: (B, H), cache: the weights w (B, T)."""
        h, lengths = _check("MeanPooling", h, lengths)
        B, T, _ = h.shape
        w = valid_mask(lengths, B, T, h.dtype)
        w /= w.sum(axis=1, keepdims=True)                 # w_bt = m_bt / len_b
        return np.einsum("bt,bth->bh", w, h), w

    def backward(self, ds: ndarray, cache) -> tuple[ndarray, Grads]:
        w = cache
        return w[:, :, None] * ds[:, None, :], {}         # s = sum_t w_t h_t -> dh_t = w_t ds


class MaxPooling:
    """The elementwise maximum over valid steps; the gradient goes to the step that won (the
    first one on ties, as ``argmax`` picks)."""

    def __init__(self):
        self.params: Params = {}

    def output_size(self, H: int) -> int:
        return H

    def forward(self, h: ndarray, lengths: ndarray | None = None) -> tuple[ndarray, MaxCache]:
        h, lengths = _check("MaxPooling", h, lengths)
        B, T, H = h.shape
        masked = np.where(valid_mask(lengths, B, T)[:, :, None], h, -np.inf)
        arg = masked.argmax(axis=1)                       # (B, H)
        s = np.take_along_axis(h, arg[:, None, :], axis=1)[:, 0]
        return s, MaxCache(h.shape, arg)

    def backward(self, ds: ndarray, cache: MaxCache) -> tuple[ndarray, Grads]:
        dh = np.zeros(cache.shape, dtype=ds.dtype)
        np.put_along_axis(dh, cache.arg[:, None, :], ds[:, None, :], axis=1)  # s = h[argmax] -> route
        return dh, {}


class AttentionPooling:
    """Additive attention over valid steps (Bahdanau et al., 2015; Yang et al., 2016)::

        u_bt = tanh(h_bt W + b)          W: (H, A), b: (A,)
        e_bt = u_bt v                    v: (A,)
        a_b  = softmax(e_b) over t < len_b (padding gets weight 0)
        s_b  = sum_t a_bt h_bt
    """

    def __init__(self, input_size: int, attention_size: int = 32, dtype=np.float32, seed: Seed = None):
        for name, value in (("input_size", input_size), ("attention_size", attention_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"AttentionPooling: {name} must be a positive int, got {value!r}")
        rng = as_rng(seed)
        H, A = int(input_size), int(attention_size)
        bound = 1.0 / math.sqrt(H)
        self.input_size, self.attention_size = H, A
        self.params: Params = {"W": rng.uniform(-bound, bound, (H, A)).astype(dtype),
                               "b": np.zeros(A, dtype),
                               "v": rng.uniform(-1 / math.sqrt(A), 1 / math.sqrt(A), A).astype(dtype)}

    def output_size(self, H: int) -> int:
        return H

    def forward(self, h: ndarray, lengths: ndarray | None = None) -> tuple[ndarray, AttentionCache]:
        h, lengths = _check("AttentionPooling", h, lengths)
        B, T, H = h.shape
        if H != self.input_size:
            raise ValueError(f"AttentionPooling: expected h of shape (B, T, {self.input_size}), got {h.shape}")
        W, b, v = self.params["W"], self.params["b"], self.params["v"]
        # products through parallel.matmul: one BLAS thread per block, never BLAS's own threads,
        # which keep spinning after a call and slow the next compiled loop (see its docstring)
        u = np.tanh(parallel.matmul(h.reshape(B * T, H), W).reshape(B, T, -1) + b)   # (B, T, A)
        e = u @ v                                         # (B, T)
        m = valid_mask(lengths, B, T)
        e = np.where(m, e, -np.inf)
        a = np.exp(e - e.max(axis=1, keepdims=True))
        a /= a.sum(axis=1, keepdims=True)                 # padding: exp(-inf) = 0
        s = np.einsum("bt,bth->bh", a, h)
        return s, AttentionCache(h, u, a)

    def backward(self, ds: ndarray, cache: AttentionCache) -> tuple[ndarray, Grads]:
        h, u, a = cache.h, cache.u, cache.a
        W, v = self.params["W"], self.params["v"]
        dh = a[:, :, None] * ds[:, None, :]               # s = sum a h -> dh = a ds
        da = np.einsum("bh,bth->bt", ds, h)               # s = sum a h -> da_t = ds . h_t
        de = a * (da - (a * da).sum(axis=1, keepdims=True))  # softmax backward (0 at padding)
        dv = np.einsum("bt,bta->a", de, u)                # e = u v
        du = de[:, :, None] * v
        dz = du * (1 - u * u)                             # u = tanh(z)
        H, A = W.shape
        dz2 = dz.reshape(-1, A)
        dW = parallel.matmul(h.reshape(-1, H), dz2, True)   # z = h W + b
        dh += parallel.matmul(dz2, W.T).reshape(dh.shape)
        return dh, {"W": dW, "b": dz2.sum(axis=0), "v": dv}


class ConcatPooling:
    """Several summaries side by side: ``s = [s^(1), s^(2), ...]``; params ``<i>.*``."""

    def __init__(self, parts: list):
        if not parts:
            raise ValueError("ConcatPooling: needs at least one pooling layer")
        self.parts = list(parts)
        self.params: Params = {}
        for i, p in enumerate(self.parts):
            self.params.update(prefixed(str(i), p.params))

    def output_size(self, H: int) -> int:
        return sum(p.output_size(H) for p in self.parts)

    def forward(self, h: ndarray, lengths: ndarray | None = None) -> tuple[ndarray, list]:
        outs, caches = zip(*(p.forward(h, lengths) for p in self.parts))
        return np.concatenate(outs, axis=1), list(caches)

    def backward(self, ds: ndarray, cache) -> tuple[ndarray, Grads]:
        dh, grads, start = None, {}, 0
        for i, (p, c) in enumerate(zip(self.parts, cache)):
            width = p.output_size(ds.shape[1] // len(self.parts))  # every part keeps H
            d, g = p.backward(ds[:, start:start + width], c)
            start += width
            dh = d if dh is None else dh + d
            grads.update(prefixed(str(i), g))
        return dh, {k: grads[k] for k in self.params}


POOLINGS = ("last", "mean", "max", "attention")


def make_pooling(spec: str, input_size: int, num_directions: int = 1, dtype=np.float32,
                 seed: Seed = None, attention_size: int = 32):
    """A pooling layer from ``"last"``, ``"mean"``, ``"max"``, ``"attention"`` or a ``+``-joined
    combination such as ``"mean+max"`` (a :class:`ConcatPooling`)."""
    if not isinstance(spec, str) or not spec:
        raise ValueError(f"pooling must be a string such as 'mean+max', got {spec!r}")
    names = spec.split("+")
    bad = [n for n in names if n not in POOLINGS]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"pooling: expected {' / '.join(POOLINGS)} or a '+'-joined combination "
                         f"without repeats, got {spec!r}")
    rng = as_rng(seed)

    def one(name):
        if name == "last":
            return LastPooling(num_directions)
        if name == "mean":
            return MeanPooling()
        if name == "max":
            return MaxPooling()
        return AttentionPooling(input_size, attention_size, dtype=dtype, seed=rng)

    return one(names[0]) if len(names) == 1 else ConcatPooling([one(n) for n in names])


__all__ = ["LastPooling", "MeanPooling", "MaxPooling", "AttentionPooling", "ConcatPooling",
           "make_pooling", "valid_mask", "POOLINGS"]
