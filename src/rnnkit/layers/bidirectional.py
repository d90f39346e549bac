"""``Bidirectional``: a forward and a backward ``Recurrent`` over the same input, outputs merged."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .._types import Grads, Params, State, prefixed
from .recurrent import Recurrent

MERGE_MODES = ("concat", "sum", "mean", "product")


class BidirectionalCache(NamedTuple):
    fwd: object                # the forward layer's cache
    bwd: object                # the reverse layer's cache
    yf: ndarray | None         # (B, T, H) both directions' outputs, which the product merge's
    yb: ndarray | None         # backward reads (None for the other merges)


class Bidirectional:
    """Schuster & Paliwal (1997): ``y_t = merge(fwd(x)_t, bwd(x)_t)`` where ``bwd`` reads each
    sequence from its last valid step back to step 0.

    merge: ``concat`` -> ``(B, T, 2H)`` (PyTorch's layout: forward half first); ``sum``, ``mean``,
    ``product`` -> ``(B, T, H)``. States are ``(2, B, H)``: forward direction first, as in PyTorch.
    Parameters are ``fwd.*`` and ``bwd.*``.
    """

    num_directions = 2

    def __init__(self, fwd: Recurrent, bwd: Recurrent, merge: str = "concat"):
        if merge not in MERGE_MODES:
            raise ValueError(f"Bidirectional: merge must be one of {MERGE_MODES}, got {merge!r}")
        if fwd.reverse or not bwd.reverse:
            raise ValueError("Bidirectional: expected a forward layer and a reverse=True layer")
        if fwd.hidden_size != bwd.hidden_size or fwd.input_size != bwd.input_size:
            raise ValueError("Bidirectional: both directions need the same input and hidden sizes")
        self.fwd, self.bwd, self.merge = fwd, bwd, merge
        self.input_size, self.hidden_size, self.state_names = fwd.input_size, fwd.hidden_size, fwd.state_names
        self.output_size = 2 * self.hidden_size if merge == "concat" else self.hidden_size
        self.params: Params = {**prefixed("fwd", fwd.params), **prefixed("bwd", bwd.params)}

    def __repr__(self) -> str:
        return f"Bidirectional({self.fwd!r}, {self.bwd!r}, merge={self.merge!r})"

    def forward(self, x: ndarray, state: State | None = None, lengths: ndarray | None = None):
        """x: (B, T, D) -> y: (B, T, 2H or H), final state of (2, B, H) arrays, cache."""
        sf = sb = None
        if state is not None:
            sf, sb = tuple(s[0:1] for s in state), tuple(s[1:2] for s in state)
        yf, hf, cf = self.fwd.forward(x, sf, lengths)
        yb, hb, cb = self.bwd.forward(x, sb, lengths)
        if self.merge == "concat":
            y = np.concatenate([yf, yb], axis=-1)
        elif self.merge == "sum":
            y = yf + yb
        elif self.merge == "mean":
            y = 0.5 * (yf + yb)
        else:
            y = yf * yb
        final = tuple(np.concatenate([a, b]) for a, b in zip(hf, hb))
        keep = self.merge == "product"
        return y, final, BidirectionalCache(cf, cb, yf if keep else None, yb if keep else None)

    def backward(self, dy: ndarray, dstate: State | None, cache: BidirectionalCache) -> tuple[ndarray, State, Grads]:
        H = self.hidden_size
        if self.merge == "concat":
            dyf, dyb = dy[..., :H], dy[..., H:]
        elif self.merge == "sum":
            dyf = dyb = dy
        elif self.merge == "mean":
            dyf = dyb = 0.5 * dy
        else:
            dyf, dyb = dy * cache.yb, dy * cache.yf      # y = yf * yb
        df = db = None
        if dstate is not None:
            df, db = tuple(s[0:1] for s in dstate), tuple(s[1:2] for s in dstate)
        dxf, d0f, gf = self.fwd.backward(dyf, df, cache.fwd)
        dxb, d0b, gb = self.bwd.backward(dyb, db, cache.bwd)
        dstate0 = tuple(np.concatenate([a, b]) for a, b in zip(d0f, d0b))
        return dxf + dxb, dstate0, {**prefixed("fwd", gf), **prefixed("bwd", gb)}


__all__ = ["Bidirectional", "BidirectionalCache", "MERGE_MODES"]
