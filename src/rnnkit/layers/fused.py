"""The fast path of :class:`~rnnkit.layers.recurrent.Recurrent` for the common cells.

Same equations as the cells' ``step`` and ``step_backward`` (``Recurrent``'s tests hold both paths
to the same numbers), arranged for speed:

* time-major buffers allocated once per call: ``hs: (T + 1, B, H)`` holds h_0 and every step's
  output; the input projection ``xp = x Wx: (T, B, G*H)`` is computed in one product (the input
  bias is added inside the kernels, with ``bh``) and each step overwrites its own slice with that
  step's gate activations, which are the cache;
* per step, one product ``h Wh`` into a preallocated array (in the compiled float32 loops on a
  copy of Wh packed once per call, :mod:`rnnkit.kernels.packed`; else BLAS) and one fused kernel
  (:mod:`rnnkit.kernels`) for all the gate arithmetic; the compiled loops also copy the step's
  rows of h to the batch-major output ``y: (B, T, H)``, and in backward read the step's rows of
  ``dy: (B, T, H)``, while those rows are in cache (the Python loops transpose whole arrays);
* in backward, per step one kernel and one product ``dA Wh^T``, with ``Wh^T`` copied to a
  contiguous array once per call: OpenBLAS packs a transposed operand more slowly, and the
  per-step product on the copy was 10-40% faster (2 threads, H = 128 to 512); ``dWx``, ``dWh``,
  the biases and ``dx`` are one product each after the loop.

Used for every cell that declares one of the kernels here in its ``fast_kernel`` (the built-in
ones: the Elman cell with any nonlinearity, the LSTM without peepholes, the GRU in PyTorch's form),
without ``lengths``; every other cell takes the generic per-step loop. This module names no
concrete cell: what it runs is the cell's own declaration.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .. import kernels
from .._types import Grads, State
from ..cells.base import Cell
from ..kernels import parallel, workspace
from ..kernels.reference import ACTIVATION_CODES


class FusedCache(NamedTuple):
    x: ndarray                 # (T*B, D) time-major inputs, for dWx
    hs: ndarray                # (T + 1, B, H): h_0, then each step's h
    buffers: tuple             # per-cell: gate activations and the rest of the step caches
    reverse_index: ndarray | None
    shape: tuple[int, int]     # (B, T)


def time_major(x: ndarray, dtype=None) -> ndarray:
    """``(B, T, F)`` -> a C-contiguous ``(T, B, F)`` copy (or the reverse), from reused memory."""
    out = workspace.empty((x.shape[1], x.shape[0]) + x.shape[2:], dtype or x.dtype)
    np.copyto(out, x.transpose(1, 0, *range(2, x.ndim)))
    return out


def forward(cell: Cell, x: ndarray, state: State, steps: int) -> tuple[ndarray, ndarray, State, tuple]:
    """x: (T*B, D) time-major, state: (B, H) arrays -> hs: (T + 1, B, H), the outputs
    y: (B, T, H) (hs[1:] batch-major: the compiled loops write each step's rows to both),
    final state, buffers."""
    P = cell.params
    T, B, H, dtype = steps, state[0].shape[0], cell.hidden_size, cell.dtype
    kind, compiled = cell.fast_kernel, kernels.compiled_loops()
    hs = workspace.empty((T + 1, B, H), dtype)
    y = workspace.empty((B, T, H), dtype) if compiled else None
    hs[0] = state[0]
    if kind == "rnn" and x.dtype == dtype and P["Wx"].dtype == dtype:
        # the RNN's projection goes where its outputs will be: step t reads xp[t] and writes
        # h_{t+1} element by element over it, so there is no separate (T, B, H) array
        xp = parallel.matmul(x, P["Wx"], out=hs[1:].reshape(T * B, H))
    else:
        xp = parallel.matmul(x, P["Wx"], out=workspace.empty((T * B, P["Wx"].shape[1]), dtype))
    xp = xp.reshape(T, B, -1)                     # each step's slice becomes its gate activations
    Wh, bh = P["Wh"], _step_bias(kind, P["bx"], P["bh"], xp)
    a = np.empty((B, xp.shape[2]), dtype)         # h Wh, reused every step
    if kind == "rnn":
        act = ACTIVATION_CODES[cell.nonlinearity]
        if compiled:
            parallel.run_loop("rnn_forward", (xp, hs, y, Wh, compiled.panels(Wh, T), bh, act), B)
        else:
            step = kernels.get("rnn_forward")
            for t in range(T):
                np.matmul(hs[t], Wh, out=a)
                step(a, xp[t], bh, hs[t + 1], act)
            y = time_major(hs[1:])
        return hs, y, (hs[T],), ()
    if kind == "lstm":
        cs, tanh_c = workspace.empty((T + 1, B, H), dtype), workspace.empty((T, B, H), dtype)
        cs[0] = state[1]
        if compiled:
            parallel.run_loop("lstm_forward", (xp, hs, cs, tanh_c, y, Wh, compiled.panels(Wh, T), bh), B)
        else:
            step = kernels.get("lstm_forward")
            for t in range(T):
                np.matmul(hs[t], Wh, out=a)
                step(a, xp[t], bh, cs[t], cs[t + 1], hs[t + 1], tanh_c[t])
            y = time_major(hs[1:])
        return hs, y, (hs[T], cs[T]), (xp, cs, tanh_c)
    hp_n = workspace.empty((T, B, H), dtype)
    if compiled:
        parallel.run_loop("gru_forward", (xp, hs, hp_n, y, Wh, compiled.panels(Wh, T), bh), B)
    else:
        step = kernels.get("gru_forward")
        for t in range(T):
            np.matmul(hs[t], Wh, out=a)
            step(a, xp[t], bh, hs[t], hp_n[t], hs[t + 1])
        y = time_major(hs[1:])
    return hs, y, (hs[T],), (xp, hp_n)


def _step_bias(kind: str, bx: ndarray, bh: ndarray, xp: ndarray) -> ndarray:
    """The kernels' ``bias``, with the input bias folded in where the cell adds the two anyway:
    ``xp = x Wx`` then needs no pass of its own for ``+ bx`` (~1 ms of the LSTM step at
    (32, 100, 64, 128)). The GRU's n block keeps them apart (``r`` multiplies only ``bh_n``), so
    ``bx_n`` is added to xp's n block."""
    if kind != "gru":
        return bx + bh
    H = bh.shape[0] // 3
    xp[:, :, 2 * H:] += bx[2 * H:]
    return np.concatenate([bx[:2 * H] + bh[:2 * H], bh[2 * H:]])


def backward(cell: Cell, dy: ndarray, dstate: State | None, cache: FusedCache) -> tuple[ndarray, State, Grads]:
    """dy: (B, T, H) -> dx: (T*B, D) time-major, gradient of the initial state, grads.
    The compiled loops read dy's rows step by step; the Python loops take a time-major copy."""
    P = cell.params
    B, T = cache.shape
    H, dtype = cell.hidden_size, cell.dtype
    compiled = kernels.compiled_loops()
    dy = np.ascontiguousarray(dy, dtype) if compiled else time_major(dy, dtype)
    hs, WhT = cache.hs, workspace.empty(P["Wh"].shape[::-1], dtype)
    np.copyto(WhT, P["Wh"].T)
    dh_rec = np.zeros((B, H), dtype) if dstate is None else np.array(dstate[0], dtype)  # dh from step t + 1
    kind = cell.fast_kernel
    if kind == "rnn":
        act = ACTIVATION_CODES[cell.nonlinearity]
        # the Python loop's dy is its own copy: da, the same shape, overwrites it
        da = workspace.empty((T, B, H), dtype) if compiled else dy
        if compiled:
            parallel.run_loop("rnn_backward", (dy, hs, da, dh_rec, WhT, compiled.panels(WhT, T), act), B)
        else:
            step = kernels.get("rnn_backward")
            for t in reversed(range(T)):
                step(dy[t], dh_rec, hs[t + 1], da[t], act)
                np.matmul(da[t], WhT, out=dh_rec)         # a = ... + h Wh
        dstate0 = (dh_rec,)
    elif kind == "lstm":
        gates, cs, tanh_c = cache.buffers
        da = workspace.empty((T, B, 4 * H), dtype)
        dc = np.zeros((B, H), dtype) if dstate is None else np.array(dstate[1], dtype)
        if compiled:
            parallel.run_loop("lstm_backward",
                              (dy, gates, cs, tanh_c, da, dh_rec, dc, WhT, compiled.panels(WhT, T)), B)
        else:
            step = kernels.get("lstm_backward")
            for t in reversed(range(T)):
                step(dy[t], dh_rec, dc, gates[t], cs[t], tanh_c[t], da[t])
                np.matmul(da[t], WhT, out=dh_rec)         # a = ... + h Wh
        dstate0 = (dh_rec, dc)
    else:
        return _gru_backward(cell, dy, dh_rec, WhT, cache)
    da = da.reshape(T * B, -1)
    db = parallel.column_sums(da)                         # the same for bx and bh
    grads = {"Wx": parallel.matmul(cache.x, da, True), "bx": db,   # xp = x Wx + bx, all steps at once
             "Wh": parallel.matmul(hs[:T].reshape(T * B, H), da, True), "bh": db.copy()}
    return parallel.matmul(da, P["Wx"].T), dstate0, grads


def _gru_backward(cell: Cell, dy: ndarray, dh_rec: ndarray, WhT: ndarray, cache: FusedCache):
    P = cell.params
    B, T = cache.shape
    H, dtype = cell.hidden_size, cell.dtype
    hs = cache.hs
    gates, hp_n = cache.buffers
    dhp, dxp_n = workspace.empty((T, B, 3 * H), dtype), workspace.empty((T, B, H), dtype)
    carry = np.zeros((B, H), dtype)                       # z * dh: reaches h_prev directly
    compiled = kernels.compiled_loops()
    if compiled:
        parallel.run_loop("gru_backward",
                          (dy, gates, hs, hp_n, dhp, dxp_n, dh_rec, carry, WhT, compiled.panels(WhT, T)), B)
    else:
        step = kernels.get("gru_backward")
        for t in reversed(range(T)):
            step(dy[t], dh_rec, carry, gates[t], hs[t], hp_n[t], dhp[t], dxp_n[t])
            np.matmul(dhp[t], WhT, out=dh_rec)            # hp = h Wh + bh
    dhp, dxp_n = dhp.reshape(T * B, -1), dxp_n.reshape(T * B, H)
    x, Wx = cache.x, P["Wx"]
    # dxp shares dhp's r and z blocks (a_rz = xp_rz + hp_rz) and has its own n block
    dbh = parallel.column_sums(dhp)
    grads = {"Wx": np.concatenate([parallel.matmul(x, dhp[:, :2 * H], True),
                                   parallel.matmul(x, dxp_n, True)], axis=1),
             "bx": np.concatenate([dbh[:2 * H], parallel.column_sums(dxp_n)]),
             "Wh": parallel.matmul(hs[:T].reshape(T * B, H), dhp, True), "bh": dbh}
    dx = parallel.matmul(dhp[:, :2 * H], Wx[:, :2 * H].T)
    dx += parallel.matmul(dxp_n, Wx[:, 2 * H:].T)
    return dx, (dh_rec + carry,), grads
