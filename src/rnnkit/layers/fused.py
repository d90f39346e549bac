"""The fast path of :class:`~rnnkit.layers.recurrent.Recurrent` for the common cells.

Same equations as the cells' ``step`` and ``step_backward``, and with ``lengths`` the same
semantics as ``Recurrent``'s general loop (``Recurrent``'s tests hold both paths to the same
numbers), arranged for speed:

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
  the biases and ``dx`` are one product each after the loop;
* ragged batches (``lengths``): the buffers hold the rows sorted by descending length within
  each block of rows that one thread runs (:func:`arrange_rows`), so at step t the rows still
  running are a prefix of each block and the product and kernel run on that prefix only; the
  finished rows carry their state forward and output zeros (in backward: zero gate gradients,
  the state's gradient passed through untouched). A full-length batch is the same loop with
  every length T and the rows in the caller's order.

Used for every cell that declares one of the kernels here in its ``fast_kernel`` (the built-in
ones: the Elman cell with any nonlinearity, the LSTM without peepholes, the GRU in PyTorch's
form); every other cell takes the generic per-step loop. This module names no concrete cell:
what it runs is the cell's own declaration.
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


class RowOrder(NamedTuple):
    """Where the caller's rows sit in the loops' buffers."""
    order: ndarray | None      # (B,) the caller's row held in each buffer row; None: the same rows
    inverse: ndarray | None    # (B,) the buffer row of each caller's row
    rows: ndarray              # (B,) int64: order, or arange(B); the loops' y/dy row per buffer row
    steps: ndarray             # (B,) int64 lengths per buffer row, descending within each block
    edges: ndarray             # (n + 1,) bounds of the blocks of rows (parallel.row_edges)


class LSTMBuffers(NamedTuple):
    """The LSTM's step caches for the whole sequence, time-major in buffer row order."""
    gates: ndarray             # (T, B, 4H) i f g o
    cs: ndarray                # (T + 1, B, H) c_0, then each step's c'
    tanh_c: ndarray            # (T, B, H) tanh(c')


class GRUBuffers(NamedTuple):
    gates: ndarray             # (T, B, 3H) r z n
    hp_n: ndarray              # (T, B, H) h Wh_n + bh_n, which r scaled


class FusedCache(NamedTuple):
    x: ndarray                 # (T*B, D) time-major inputs in buffer row order, for dWx
    hs: ndarray                # (T + 1, B, H): h_0, then each step's h (all the RNN's backward reads)
    buffers: LSTMBuffers | GRUBuffers | None   # the rest of the step caches (None: the RNN)
    rows: RowOrder
    reverse_index: ndarray | None
    shape: tuple[int, int]     # (B, T)


def arrange_rows(lengths: ndarray | None, batch: int, steps: int, edges: ndarray) -> RowOrder:
    """The buffer order for ``lengths: (B,)`` (None: all ``steps`` long): rows sorted by
    descending length and dealt round-robin into the blocks bounded by ``edges``, so that every
    block is sorted (its running rows are a prefix at each step) and the blocks, one per thread,
    get about the same work. Full-length batches keep the caller's order."""
    rows = np.arange(batch, dtype=np.int64)
    if lengths is None or lengths.min() == steps:
        return RowOrder(None, None, rows, np.full(batch, steps, np.int64), edges)
    by_length = np.argsort(-lengths, kind="stable")
    sizes = np.diff(edges)
    n, m = len(sizes), int(sizes.min())
    rest = list(by_length[n * m:])               # one each for the larger blocks: the shortest rows
    parts = []
    for k in range(n):
        part = by_length[k:n * m:n]              # the k-th, (k + n)-th ... longest rows
        parts.append(np.append(part, rest.pop(0)) if sizes[k] > m else part)
    order = np.concatenate(parts).astype(np.int64)
    inverse = np.empty_like(order)
    inverse[order] = rows
    return RowOrder(order, inverse, order, np.ascontiguousarray(lengths[order], np.int64), edges)


def time_major(x: ndarray, dtype=None) -> ndarray:
    """``(B, T, F)`` -> a C-contiguous ``(T, B, F)`` copy (or the reverse), from reused memory."""
    out = workspace.empty((x.shape[1], x.shape[0]) + x.shape[2:], dtype or x.dtype)
    np.copyto(out, x.transpose(1, 0, *range(2, x.ndim)))
    return out


def _take(z: ndarray, flat: ndarray) -> ndarray:
    """``z.reshape(-1, F)[flat]`` into reused memory: ``flat``'s shape + ``(F,)``."""
    out = workspace.empty(flat.shape + z.shape[2:], z.dtype)
    np.take(z.reshape(-1, *z.shape[2:]), flat, axis=0, out=out, mode="clip")
    return out


def in_buffer_order(x: ndarray, rows: RowOrder, index: ndarray | None) -> ndarray:
    """``x: (B, T, F)`` the caller's -> ``(T, B, F)`` time-major in buffer row order, each row in
    its direction's time order (``index``: :func:`~rnnkit.layers.recurrent.reverse_index`)."""
    if rows.order is None:              # all rows full length: a reverse direction reads a view
        return time_major(x if index is None else x[:, ::-1])
    B, T = x.shape[:2]
    t = np.arange(T)[None, :] if index is None else index[rows.order]
    return _take(x, (rows.order[:, None] * T + t).T)            # [t, k] = x[order[k], t or index]


def in_caller_order(z: ndarray, rows: RowOrder, index: ndarray | None) -> ndarray:
    """The inverse of :func:`in_buffer_order`: ``(T, B, F)`` -> ``(B, T, F)``."""
    if rows.order is None:
        return time_major(z if index is None else z[::-1])
    T, B = z.shape[:2]
    t = np.arange(T)[None, :] if index is None else index
    return _take(z, t * B + rows.inverse[:, None])              # [b, s] = z[index[b, s], inverse[b]]


def running(rows: RowOrder, steps: int) -> list[list[tuple[int, int, int]]]:
    """For the Python loops: per step t, per block ``lo:hi``, ``(lo, end, hi)`` with ``lo:end`` the
    rows still running at t."""
    edges, t = rows.edges, np.arange(steps)[:, None]
    ends = [lo + (rows.steps[None, lo:hi] > t).sum(axis=1) for lo, hi in zip(edges[:-1], edges[1:])]
    return [[(int(lo), int(e[s]), int(hi)) for lo, hi, e in zip(edges[:-1], edges[1:], ends)]
            for s in range(steps)]


def _forward_loop(spans, step, keep) -> None:
    """Run ``step(t, rows)`` on each block's running rows, ``keep(t, rows)`` on its finished ones."""
    for t, blocks in enumerate(spans):
        for lo, end, hi in blocks:
            if end > lo:
                step(t, slice(lo, end))
            if end < hi:
                keep(t, slice(end, hi))


def _backward_loop(spans, step, finished) -> None:
    for t in reversed(range(len(spans))):
        for lo, end, hi in spans[t]:
            if end < hi:
                finished(t, slice(end, hi))
            if end > lo:
                step(t, slice(lo, end))


def forward(cell: Cell, x: ndarray, state: State, lengths: ndarray | None,
            index: ndarray | None) -> tuple[ndarray, State, FusedCache]:
    """x: (B, T, D) the caller's, state: (B, H) arrays, lengths: (B,) or None, index: the reverse
    direction's :func:`~rnnkit.layers.recurrent.reverse_index` or None -> y: (B, T, H) (zero at
    padding), the final state (each row's own last step), the cache."""
    P = cell.params
    (B, T, _), H, dtype = x.shape, cell.hidden_size, cell.dtype
    kind, compiled = cell.fast_kernel, kernels.compiled_loops()
    rows = arrange_rows(lengths, B, T, parallel.row_edges(B) if compiled else np.array([0, B]))
    x = in_buffer_order(x, rows, index).reshape(T * B, -1)
    if rows.order is not None:
        state = tuple(s[rows.order] for s in state)
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
    loop_rows = (rows.rows, rows.steps)
    spans = None if compiled else running(rows, T)

    def keep_h(t, r):                             # a finished row's state passes on unchanged
        hs[t + 1, r] = hs[t, r]
    if kind == "rnn":
        act = ACTIVATION_CODES[cell.nonlinearity]
        buffers = None
        if compiled:
            parallel.run_loop("rnn_forward", (xp, hs, y, *loop_rows, Wh, compiled.panels(Wh, T), bh, act), rows.edges)
        else:
            kernel = kernels.get("rnn_forward")

            def step(t, r):
                np.matmul(hs[t, r], Wh, out=a[r])
                kernel(a[r], xp[t, r], bh, hs[t + 1, r], act)
            _forward_loop(spans, step, keep_h)
        final = (hs[T],)
    elif kind == "lstm":
        cs, tanh_c = workspace.empty((T + 1, B, H), dtype), workspace.empty((T, B, H), dtype)
        cs[0] = state[1]
        buffers = LSTMBuffers(xp, cs, tanh_c)
        if compiled:
            parallel.run_loop("lstm_forward", (xp, hs, cs, tanh_c, y, *loop_rows, Wh, compiled.panels(Wh, T), bh),
                              rows.edges)
        else:
            kernel = kernels.get("lstm_forward")

            def step(t, r):
                np.matmul(hs[t, r], Wh, out=a[r])
                kernel(a[r], xp[t, r], bh, cs[t, r], cs[t + 1, r], hs[t + 1, r], tanh_c[t, r])

            def keep(t, r):
                keep_h(t, r)
                cs[t + 1, r] = cs[t, r]
            _forward_loop(spans, step, keep)
        final = (hs[T], cs[T])
    else:
        hp_n = workspace.empty((T, B, H), dtype)
        buffers = GRUBuffers(xp, hp_n)
        if compiled:
            parallel.run_loop("gru_forward", (xp, hs, hp_n, y, *loop_rows, Wh, compiled.panels(Wh, T), bh), rows.edges)
        else:
            kernel = kernels.get("gru_forward")

            def step(t, r):
                np.matmul(hs[t, r], Wh, out=a[r])
                kernel(a[r], xp[t, r], bh, hs[t, r], hp_n[t, r], hs[t + 1, r])
            _forward_loop(spans, step, keep_h)
        final = (hs[T],)
    if compiled:                                  # y: the caller's rows, the direction's time order
        if index is not None:
            y = _take(y, np.arange(B)[:, None] * T + index)
    else:
        y = in_caller_order(hs[1:], rows, index)
        if rows.order is not None:
            y *= (np.arange(T)[None, :] < lengths[:, None])[:, :, None]   # zero at padding
    if rows.order is not None:
        final = tuple(s[rows.inverse] for s in final)
    return y, final, FusedCache(x, hs, buffers, rows, index, (B, T))


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
    """dy: (B, T, H) the caller's, dstate: gradient of the final state ((B, H) arrays) or None ->
    dx: (B, T, D), gradient of the initial state, grads. The compiled loops read dy's rows step
    by step; the Python loops take a time-major copy in buffer order."""
    P = cell.params
    B, T = cache.shape
    H, dtype, rows, index = cell.hidden_size, cell.dtype, cache.rows, cache.reverse_index
    compiled = kernels.compiled_loops()
    dy = dy.astype(dtype, copy=False)
    if not compiled:
        dy = in_buffer_order(dy, rows, index)
    elif index is not None:
        dy = _take(dy, np.arange(B)[:, None] * T + index)       # the direction's time order
    else:
        dy = np.ascontiguousarray(dy)
    hs, WhT = cache.hs, workspace.empty(P["Wh"].shape[::-1], dtype)
    np.copyto(WhT, P["Wh"].T)
    order = slice(None) if rows.order is None else rows.order
    # dh from step t + 1 (and dc), in buffer order: copies, which the loops overwrite
    d = [np.zeros((B, H), dtype) if dstate is None else np.array(s[order], dtype) for s in
         (dstate or [None] * len(cell.state_names))]
    loop_rows, spans = (rows.rows, rows.steps), None if compiled else running(rows, T)
    kind = cell.fast_kernel
    if kind == "gru":
        dx, d, grads = _gru_backward(cell, dy, d[0], WhT, cache, loop_rows, spans)
    else:
        dh_rec = d[0]
        da = workspace.empty((T, B, H if kind == "rnn" else 4 * H), dtype)
        if kind == "rnn":
            act = ACTIVATION_CODES[cell.nonlinearity]
            if compiled:
                parallel.run_loop("rnn_backward", (dy, *loop_rows, hs, da, dh_rec, WhT, compiled.panels(WhT, T), act),
                                  rows.edges)
            else:
                kernel = kernels.get("rnn_backward")

                def step(t, r):
                    kernel(dy[t, r], dh_rec[r], hs[t + 1, r], da[t, r], act)
                    np.matmul(da[t, r], WhT, out=dh_rec[r])       # a = ... + h Wh
        else:
            gates, cs, tanh_c = cache.buffers.gates, cache.buffers.cs, cache.buffers.tanh_c
            dc = d[1]
            if compiled:
                parallel.run_loop("lstm_backward", (dy, *loop_rows, gates, cs, tanh_c, da, dh_rec, dc, WhT,
                                                    compiled.panels(WhT, T)), rows.edges)
            else:
                kernel = kernels.get("lstm_backward")

                def step(t, r):
                    kernel(dy[t, r], dh_rec[r], dc[r], gates[t, r], cs[t, r], tanh_c[t, r], da[t, r])
                    np.matmul(da[t, r], WhT, out=dh_rec[r])       # a = ... + h Wh
        if not compiled:
            def finished(t, r):                   # padding: no gradient; the state's passes through
                da[t, r] = 0
            _backward_loop(spans, step, finished)
        da = da.reshape(T * B, -1)
        db = parallel.column_sums(da)                         # the same for bx and bh
        grads = {"Wx": parallel.matmul(cache.x, da, True), "bx": db,   # xp = x Wx + bx, all steps at once
                 "Wh": parallel.matmul(hs[:T].reshape(T * B, H), da, True), "bh": db.copy()}
        dx = parallel.matmul(da, P["Wx"].T)
    dx = in_caller_order(dx.reshape(T, B, -1), rows, index)
    if rows.order is not None:
        d = [s[rows.inverse] for s in d]
    return dx, tuple(d), grads


def _gru_backward(cell: Cell, dy: ndarray, dh_rec: ndarray, WhT: ndarray, cache: FusedCache, loop_rows, spans):
    """The GRU's loop and products: dx (T*B, D) in buffer order, [dstate0], grads."""
    P = cell.params
    B, T = cache.shape
    H, dtype = cell.hidden_size, cell.dtype
    hs = cache.hs
    gates, hp_n = cache.buffers.gates, cache.buffers.hp_n
    dhp, dxp_n = workspace.empty((T, B, 3 * H), dtype), workspace.empty((T, B, H), dtype)
    carry = np.zeros((B, H), dtype)                       # z * dh: reaches h_prev directly
    if spans is None:
        compiled = kernels.compiled_loops()
        parallel.run_loop("gru_backward", (dy, *loop_rows, gates, hs, hp_n, dhp, dxp_n, dh_rec, carry, WhT,
                                           compiled.panels(WhT, T)), cache.rows.edges)
    else:
        kernel = kernels.get("gru_backward")

        def step(t, r):
            kernel(dy[t, r], dh_rec[r], carry[r], gates[t, r], hs[t, r], hp_n[t, r], dhp[t, r], dxp_n[t, r])
            np.matmul(dhp[t, r], WhT, out=dh_rec[r])          # hp = h Wh + bh

        def finished(t, r):
            dhp[t, r] = 0
            dxp_n[t, r] = 0
        _backward_loop(spans, step, finished)
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
    return dx, [dh_rec + carry], grads
