"""``Recurrent``: runs a cell over time and owns backpropagation through time."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .._types import Grads, Params, State
from ..cells.base import Cell
from . import fused
from .fused import time_major


def step_mask(lengths: ndarray | None, steps: int) -> ndarray | None:
    """``(T, B, 1)`` boolean: True where step t is inside sequence b."""
    if lengths is None:
        return None
    return (np.arange(steps)[:, None] < lengths[None, :])[:, :, None]


def reverse_index(lengths: ndarray | None, batch: int, steps: int) -> ndarray:
    """``(B, T)`` gather index that reverses each sequence within its own length and leaves the
    padding where it is; it is its own inverse."""
    t = np.arange(steps)[None, :]
    if lengths is None:
        return np.broadcast_to(steps - 1 - t, (batch, steps))
    L = lengths[:, None]
    return np.where(t < L, L - 1 - t, t)


def gather_time(x: ndarray, index: ndarray) -> ndarray:
    """``x[b, index[b, t]]`` for ``x: (B, T, F)``."""
    return np.take_along_axis(x, index[:, :, None], axis=1)


class RecurrentCache(NamedTuple):
    x: ndarray                 # (T*B, D) time-major inputs, for dWx
    steps: list                # one cell cache per step
    mask: ndarray | None       # (T, B, 1)
    reverse_index: ndarray | None
    shape: tuple[int, int]     # (B, T)


class Recurrent:
    """Runs ``cell`` over a batch of sequences, forward in time or (``reverse=True``) backward.

    ``forward`` is equivalent to this loop (the projection ``x Wx + bx`` is hoisted out of it)::

        state = state0                                   # zeros when None
        for t in range(T):                               # reversed within each length if reverse
            new, _ = cell.step(x[:, t] @ Wx + bx, state)
            valid = t < lengths                          # all True when lengths is None
            state = where(valid, new, state)             # padding never changes the state
            y[:, t] = where(valid, new[0], 0)            # and outputs zero there

    State arrays are ``(1, B, H)``, PyTorch's ``(num_layers * num_directions, B, H)`` for one layer.
    """

    num_directions = 1

    def __init__(self, cell: Cell, reverse: bool = False):
        self.cell, self.reverse = cell, bool(reverse)
        self.params: Params = cell.params
        self.input_size, self.hidden_size = cell.input_size, cell.hidden_size
        self.state_names = cell.state_names

    def __repr__(self) -> str:
        return f"Recurrent({self.cell!r}{', reverse=True' if self.reverse else ''})"

    def forward(self, x: ndarray, state: State | None = None,
                lengths: ndarray | None = None) -> tuple[ndarray, State, RecurrentCache | fused.FusedCache]:
        """x: (B, T, D) -> y: (B, T, H), final state of (1, B, H) arrays, cache.
        Inputs are trusted here: the public networks (``rnnkit.LSTM`` ...) validate them.
        Cells that declare a compiled kernel (``cell.fast_kernel``) take the fused path
        (:mod:`rnnkit.layers.fused`), ragged batches too; the loop below is the general one, and
        the definition both are tested against."""
        B, T, D = x.shape
        cell = self.cell
        index = reverse_index(lengths, B, T) if self.reverse else None
        state = cell.zero_state(B) if state is None else tuple(s[0] for s in state)
        if cell.fast_kernel is not None:
            y, state, cache = fused.forward(cell, x, state, lengths, index)
            return y, tuple(s[None] for s in state), cache
        if index is not None:
            x = gather_time(x, index)
        mask = step_mask(lengths, T)
        x_tm = time_major(x).reshape(T * B, D)
        xp = cell.project_inputs(x_tm).reshape(T, B, -1)
        if mask is not None:
            xp *= mask  # padded steps see zero input, so they stay finite whatever the padding holds
        y = np.empty((T, B, self.hidden_size), cell.dtype)
        steps = []
        for t in range(T):
            new, step_cache = cell.step(xp[t], state)
            if mask is not None:
                new = tuple(np.where(mask[t], n, s) for n, s in zip(new, state))
                y[t] = new[0] * mask[t]
            else:
                y[t] = new[0]
            state = new
            steps.append(step_cache)
        y = y.transpose(1, 0, 2)
        if index is not None:
            y = gather_time(y, index)
        cache = RecurrentCache(x_tm, steps, mask, index, (B, T))
        return np.ascontiguousarray(y), tuple(s[None] for s in state), cache

    def backward(self, dy: ndarray, dstate: State | None,
                 cache: RecurrentCache | fused.FusedCache) -> tuple[ndarray, State, Grads]:
        """dy: (B, T, H), dstate: gradient of the final state (None = zeros) ->
        dx: (B, T, D), gradient of the initial state, grads with the keys of ``params``."""
        cell, index = self.cell, cache.reverse_index
        B, T = cache.shape
        if isinstance(cache, fused.FusedCache):
            d = None if dstate is None else tuple(s[0] for s in dstate)
            dx, d, grads = fused.backward(cell, dy, d, cache)
            grads = {k: grads[k] for k in self.params}
            return dx, tuple(s[None] for s in d), grads
        if index is not None:
            dy = gather_time(dy, index)
        dy = dy.transpose(1, 0, 2)
        mask = cache.mask
        if mask is not None:
            dy = dy * mask  # outputs at padded steps are constant zeros
        if dstate is None:
            d = cell.zero_state(B)
        else:
            d = tuple(np.asarray(s[0], cell.dtype) for s in dstate)
        dxp_steps, dhp_steps = [None] * T, [None] * T
        for t in reversed(range(T)):
            d = (d[0] + dy[t],) + d[1:]
            d_in = d if mask is None else tuple(g * mask[t] for g in d)
            dxp_steps[t], dhp_steps[t], d_prev = cell.step_backward(d_in, cache.steps[t])
            # where a step was padding, the state passed through untouched
            d = d_prev if mask is None else tuple(np.where(mask[t], p, g) for p, g in zip(d_prev, d))
        dxp = np.concatenate(dxp_steps)                         # (T*B, G*H)
        shared = all(a is b for a, b in zip(dxp_steps, dhp_steps))
        dhp = dxp if shared else np.concatenate(dhp_steps)
        grads = {"Wx": cache.x.T @ dxp, "bx": dxp.sum(axis=0)}  # xp = x Wx + bx, all steps at once
        grads.update(cell.recurrent_grads(cache.steps, dhp))
        dx = (dxp @ cell.params["Wx"].T).reshape(T, B, -1).transpose(1, 0, 2)
        if index is not None:
            dx = gather_time(dx, index)
        grads = {k: grads[k] for k in self.params}
        return np.ascontiguousarray(dx), tuple(s[None] for s in d), grads
