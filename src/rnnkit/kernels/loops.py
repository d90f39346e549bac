"""Whole-sequence loops in Numba: each step's BLAS product and fused kernel, T times, without
returning to Python, for one block of batch rows ``lo:hi``; and single steps (``*_step``, for
generation), product and kernel in one call.

Each function is the Python loop of :mod:`rnnkit.layers.fused` (which documents it and runs
when this module cannot load) compiled as one call: no interpreter overhead per step, the GIL
released throughout, so blocks of rows run in parallel threads: all blocks in one Numba parallel
region (``*_blocks``, below), or in :mod:`rnnkit.kernels.parallel`'s pool. The per-step
products run on the weight packed once per call (:func:`panels`, :mod:`.packed`) where that
applies (float32, G*H a multiple of 16), else they call the ``cblas_?gemm`` of the OpenBLAS
that NumPy loaded, single-threaded (whoever runs the blocks sets
``openblas_set_num_threads_local`` to 1 around them; per-step products this small lose more to
waking BLAS threads than they gain, and the parallelism is across row blocks instead).

The BLAS entry points are registered with LLVM by name (``llvmlite.binding.add_symbol``) at
import, so the machine code caches on disk like the rest; importing raises ImportError when
NumPy's BLAS is not an OpenBLAS with those symbols, and the caller falls back to Python loops.
"""
from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import prange, types
from numba.extending import overload

from . import blas, compiled, packed
from .compiled import jit

# no fastmath: only products and calls run in these
pjit = numba.njit(cache=True, nogil=True, parallel=True)


def _register_blas() -> bool:
    """Register ``rnnkit_sgemm``, ``rnnkit_dgemm`` and ``rnnkitblas_threads_local`` with LLVM;
    True when the BLAS uses 64-bit integers."""
    lib = blas.numpy_openblas()
    if lib is not None:
        local = getattr(lib, "openblas_set_num_threads_local", None)
        for suffix, ilp64 in (("64_", True), ("", False)):
            found = {}
            for routine in ("sgemm", "dgemm", "sgemv", "dgemv"):
                fn = [getattr(lib, f"{prefix}cblas_{routine}{suffix}", None) for prefix in ("scipy_", "")]
                found[f"rnnkit_{routine}"] = fn[0] or fn[1]
            if local is not None and all(fn is not None for fn in found.values()):
                found["rnnkitblas_threads_local"] = local
                for name, fn in found.items():
                    llvm.add_symbol(name, ctypes.cast(fn, ctypes.c_void_p).value)
                return ilp64
    raise ImportError("rnnkit.kernels.loops: NumPy's BLAS is not an OpenBLAS with cblas_sgemm and "
                      "openblas_set_num_threads_local")


_int = types.int64 if _register_blas() else types.int32
_ptr = types.uintp
_sgemm = types.ExternalFunction("rnnkit_sgemm", types.void(
    types.intc, types.intc, types.intc, _int, _int, _int, types.float32, _ptr, _int, _ptr, _int,
    types.float32, _ptr, _int))
_dgemm = types.ExternalFunction("rnnkit_dgemm", types.void(
    types.intc, types.intc, types.intc, _int, _int, _int, types.float64, _ptr, _int, _ptr, _int,
    types.float64, _ptr, _int))
_sgemv = types.ExternalFunction("rnnkit_sgemv", types.void(
    types.intc, types.intc, _int, _int, types.float32, _ptr, _int, _ptr, _int, types.float32, _ptr, _int))
_dgemv = types.ExternalFunction("rnnkit_dgemv", types.void(
    types.intc, types.intc, _int, _int, types.float64, _ptr, _int, _ptr, _int, types.float64, _ptr, _int))
blas_threads_local = types.ExternalFunction("rnnkitblas_threads_local", types.intc(types.intc))
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112


def gemm(A, W, C, transpose):
    """``C = A @ W`` (or ``A @ W.T``), all row-major with contiguous rows (any row strides). One
    row goes to ``gemv``: ``gemm`` would copy (pack) all of W for a single row (5x slower at
    H = 256)."""


@overload(gemm)
def _gemm(A, W, C, transpose):
    mm, mv = (_sgemm, _sgemv) if A.dtype == types.float32 else (_dgemm, _dgemv)

    def impl(A, W, C, transpose):
        M, K = A.shape
        N = C.shape[1]
        one, zero = C.dtype.type(1), C.dtype.type(0)
        ldw = W.strides[0] // W.itemsize
        if M == 1:   # c = W^T a (or W a): W is (K, N) row-major, or (N, K) when transposed
            rows, cols = W.shape
            mv(ROW_MAJOR, NO_TRANS if transpose else TRANS, rows, cols, one, W.ctypes.data, ldw,
               A.ctypes.data, 1, zero, C.ctypes.data, 1)
            return
        mm(ROW_MAJOR, NO_TRANS, TRANS if transpose else NO_TRANS, M, N, K, one, A.ctypes.data,
           A.strides[0] // A.itemsize, W.ctypes.data, ldw, zero, C.ctypes.data, C.strides[0] // C.itemsize)
    return impl


def gemm_tn(A, B, C):
    """``C = A.T @ B`` for row-major A ``(K, M)`` and B ``(K, N)`` with contiguous rows."""


@overload(gemm_tn)
def _gemm_tn(A, B, C):
    mm = _sgemm if A.dtype == types.float32 else _dgemm

    def impl(A, B, C):
        K, M = A.shape
        N = B.shape[1]
        mm(ROW_MAJOR, TRANS, NO_TRANS, M, N, K, C.dtype.type(1), A.ctypes.data, A.strides[0] // A.itemsize,
           B.ctypes.data, B.strides[0] // B.itemsize, C.dtype.type(0), C.ctypes.data, C.strides[0] // C.itemsize)
    return impl


NO_PANELS = np.empty((0, 0, packed.NR), np.float32)


def panels(W, steps: int):
    """The loops' packed weight for ``steps`` products: :func:`rnnkit.kernels.packed.pack` (W)
    where it applies (float32, columns a multiple of 16, a CPU with vector FMA) and pays (more than
    one step: for one, BLAS packs W once anyway), else an empty array and the loops call BLAS."""
    return packed.pack(W) if steps > 1 and packed.packable(W) else NO_PANELS


def product(h, W, P, out):
    """``out = h @ W``: on the packed weight P when it has panels, else through BLAS."""


@overload(product)
def _product(h, W, P, out):
    if h.dtype != types.float32:
        return lambda h, W, P, out: gemm(h, W, out, False)

    def impl(h, W, P, out):
        if P.shape[0] > 0:
            packed.packed_matmul(h, P, out)
        else:
            gemm(h, W, out, False)
    return impl


# The loops keep their buffers time-major (step t's rows are one contiguous block), and meet the
# caller's batch-major ``(B, T, H)`` arrays one row at a time: each step's new h goes to ``y``
# as well, and each step's ``dy`` comes from there, while the rows are in cache (a separate
# transposing copy of the whole sequence cost ~0.25 ms per direction at (32, 100, 128)).
#
# Ragged batches: the buffers' rows are in the caller's order ``rows`` (row b of a buffer is row
# ``rows[b]`` of x, y and dy), arranged so that each block ``lo:hi`` is sorted by descending
# length ``steps``. At step t the rows still running are then a prefix ``lo:end`` of the block:
# the product and the kernel run on that prefix only. A finished row keeps its state (h, and c,
# copied forward, so the last buffer holds each row's final state) and outputs zero; in backward
# it gets zero gate gradients and leaves the state gradients as they are (the state passed
# through). A full-length batch is the same loop with every ``steps[b] = T``.

@jit
def running_until(steps, t, lo, end):
    """Forward in time: the end of the rows running at step t (``end``: the end at t - 1)."""
    while end > lo and steps[end - 1] <= t:
        end -= 1
    return end


@jit
def running_from(steps, t, end, hi):
    """Backward in time: the end of the rows running at step t (``end``: the end at t + 1)."""
    while end < hi and steps[end] > t:
        end += 1
    return end


@jit
def put_rows(src, dst, rows, t, lo, end, hi):
    """``dst[rows[b], t] = src[b]`` for the running rows lo:end, zero for the finished end:hi;
    ``dst: (B, T, H)``."""
    for b in range(lo, hi):
        row, out = src[b], dst[rows[b], t]
        for j in range(out.shape[0]):
            out[j] = row[j] if b < end else 0


@jit
def take_rows(src, rows, t, dst, lo, end):
    """``dst[b - lo] = src[rows[b], t]`` for b in lo:end; ``src: (B, T, H)``."""
    for b in range(lo, end):
        row, out = src[rows[b], t], dst[b - lo]
        for j in range(out.shape[0]):
            out[j] = row[j]


@jit
def rnn_forward(xp, hs, y, rows, steps, Wh, P, bh, act, lo, hi):
    T = xp.shape[0]
    a = np.empty((hi - lo, Wh.shape[1]), xp.dtype)
    end = hi
    for t in range(T):
        end = running_until(steps, t, lo, end)
        if end > lo:
            product(hs[t, lo:end], Wh, P, a[:end - lo])
            compiled.rnn_forward(a[:end - lo], xp[t, lo:end], bh, hs[t + 1, lo:end], act)
        hs[t + 1, end:hi] = hs[t, end:hi]          # finished rows keep their state
        put_rows(hs[t + 1], y, rows, t, lo, end, hi)


@jit
def lstm_forward(xp, hs, cs, tanh_c, y, rows, steps, Wh, P, bh, lo, hi):
    T = xp.shape[0]
    a = np.empty((hi - lo, Wh.shape[1]), xp.dtype)
    end = hi
    for t in range(T):
        end = running_until(steps, t, lo, end)
        if end > lo:
            product(hs[t, lo:end], Wh, P, a[:end - lo])
            compiled.lstm_forward(a[:end - lo], xp[t, lo:end], bh, cs[t, lo:end], cs[t + 1, lo:end],
                                  hs[t + 1, lo:end], tanh_c[t, lo:end])
        hs[t + 1, end:hi] = hs[t, end:hi]
        cs[t + 1, end:hi] = cs[t, end:hi]
        put_rows(hs[t + 1], y, rows, t, lo, end, hi)


@jit
def gru_forward(xp, hs, hp_n, y, rows, steps, Wh, P, bh, lo, hi):
    T = xp.shape[0]
    a = np.empty((hi - lo, Wh.shape[1]), xp.dtype)
    end = hi
    for t in range(T):
        end = running_until(steps, t, lo, end)
        if end > lo:
            product(hs[t, lo:end], Wh, P, a[:end - lo])
            compiled.gru_forward(a[:end - lo], xp[t, lo:end], bh, hs[t, lo:end], hp_n[t, lo:end],
                                 hs[t + 1, lo:end])
        hs[t + 1, end:hi] = hs[t, end:hi]
        put_rows(hs[t + 1], y, rows, t, lo, end, hi)


@jit
def rnn_backward(dy, rows, steps, hs, da, dh_rec, WhT, P, act, lo, hi):
    dy_t = np.empty((hi - lo, dy.shape[2]), dy.dtype)
    end = lo
    for t in range(dy.shape[1] - 1, -1, -1):
        end = running_from(steps, t, end, hi)
        da[t, end:hi] = 0                          # finished rows: no gradient reaches this step
        if end > lo:
            take_rows(dy, rows, t, dy_t, lo, end)
            compiled.rnn_backward(dy_t[:end - lo], dh_rec[lo:end], hs[t + 1, lo:end], da[t, lo:end], act)
            product(da[t, lo:end], WhT, P, dh_rec[lo:end])        # a = ... + h Wh


@jit
def lstm_backward(dy, rows, steps, gates, cs, tanh_c, da, dh_rec, dc, WhT, P, lo, hi):
    dy_t = np.empty((hi - lo, dy.shape[2]), dy.dtype)
    end = lo
    for t in range(dy.shape[1] - 1, -1, -1):
        end = running_from(steps, t, end, hi)
        da[t, end:hi] = 0                          # finished rows: the state passed through
        if end > lo:
            take_rows(dy, rows, t, dy_t, lo, end)
            compiled.lstm_backward(dy_t[:end - lo], dh_rec[lo:end], dc[lo:end], gates[t, lo:end], cs[t, lo:end],
                                   tanh_c[t, lo:end], da[t, lo:end])
            product(da[t, lo:end], WhT, P, dh_rec[lo:end])        # a = ... + h Wh


@jit
def gru_backward(dy, rows, steps, gates, hs, hp_n, dhp, dxp_n, dh_rec, carry, WhT, P, lo, hi):
    dy_t = np.empty((hi - lo, dy.shape[2]), dy.dtype)
    end = lo
    for t in range(dy.shape[1] - 1, -1, -1):
        end = running_from(steps, t, end, hi)
        dhp[t, end:hi] = 0                         # finished rows: the state passed through
        dxp_n[t, end:hi] = 0
        if end > lo:
            take_rows(dy, rows, t, dy_t, lo, end)
            compiled.gru_backward(dy_t[:end - lo], dh_rec[lo:end], carry[lo:end], gates[t, lo:end], hs[t, lo:end],
                                  hp_n[t, lo:end], dhp[t, lo:end], dxp_n[t, lo:end])
            product(dhp[t, lo:end], WhT, P, dh_rec[lo:end])       # hp = h Wh + bh


# -- the same, for every block of rows at once ---------------------------------------------------
# One Numba parallel region per call: its threads (OpenMP's, when Numba has that layer) take
# a block each within microseconds, where a Python thread pool's hand-off cost 150-290 us on this
# 2-core VM, 9 times per training step. ``edges: (n + 1,)`` bounds the blocks; BLAS runs
# single-threaded inside (set once around the region: the setting is process-wide). One wrapper
# per loop rather than one taking the loop as an argument: Numba does not cache a function with
# a function argument, and recompiling it cost 1.4-1.8 s in every new process (measured).

@pjit
def start_threads():
    """Starts Numba's threading layer (``numba.threading_layer()`` names it afterwards)."""
    count = np.zeros(2, np.int64)
    for k in prange(2):
        count[k] = 1
    return count.sum()


@pjit
def rnn_forward_blocks(xp, hs, y, rows, steps, Wh, P, bh, act, edges):
    previous = blas_threads_local(1)
    for k in prange(edges.shape[0] - 1):
        rnn_forward(xp, hs, y, rows, steps, Wh, P, bh, act, edges[k], edges[k + 1])
    blas_threads_local(previous)


@pjit
def lstm_forward_blocks(xp, hs, cs, tanh_c, y, rows, steps, Wh, P, bh, edges):
    previous = blas_threads_local(1)
    for k in prange(edges.shape[0] - 1):
        lstm_forward(xp, hs, cs, tanh_c, y, rows, steps, Wh, P, bh, edges[k], edges[k + 1])
    blas_threads_local(previous)


@pjit
def gru_forward_blocks(xp, hs, hp_n, y, rows, steps, Wh, P, bh, edges):
    previous = blas_threads_local(1)
    for k in prange(edges.shape[0] - 1):
        gru_forward(xp, hs, hp_n, y, rows, steps, Wh, P, bh, edges[k], edges[k + 1])
    blas_threads_local(previous)


@pjit
def rnn_backward_blocks(dy, rows, steps, hs, da, dh_rec, WhT, P, act, edges):
    previous = blas_threads_local(1)
    for k in prange(edges.shape[0] - 1):
        rnn_backward(dy, rows, steps, hs, da, dh_rec, WhT, P, act, edges[k], edges[k + 1])
    blas_threads_local(previous)


@pjit
def lstm_backward_blocks(dy, rows, steps, gates, cs, tanh_c, da, dh_rec, dc, WhT, P, edges):
    previous = blas_threads_local(1)
    for k in prange(edges.shape[0] - 1):
        lstm_backward(dy, rows, steps, gates, cs, tanh_c, da, dh_rec, dc, WhT, P, edges[k], edges[k + 1])
    blas_threads_local(previous)


@pjit
def gru_backward_blocks(dy, rows, steps, gates, hs, hp_n, dhp, dxp_n, dh_rec, carry, WhT, P, edges):
    previous = blas_threads_local(1)
    for k in prange(edges.shape[0] - 1):
        gru_backward(dy, rows, steps, gates, hs, hp_n, dhp, dxp_n, dh_rec, carry, WhT, P, edges[k], edges[k + 1])
    blas_threads_local(previous)


@pjit
def matmul_blocks(A, W, C, transpose, edges):
    """``C[lo:hi] = A[lo:hi] @ W`` (``W.T`` if transpose) for each block."""
    previous = blas_threads_local(1)
    for k in prange(edges.shape[0] - 1):
        gemm(A[edges[k]:edges[k + 1]], W, C[edges[k]:edges[k + 1]], transpose)
    blas_threads_local(previous)


@pjit
def matmul_tn_blocks(A, B, parts, edges):
    """``parts[k] = A[lo:hi].T @ B[lo:hi]`` for each block k (the caller adds them in order)."""
    previous = blas_threads_local(1)
    for k in prange(edges.shape[0] - 1):
        gemm_tn(A[edges[k]:edges[k + 1]], B[edges[k]:edges[k + 1]], parts[k])
    blas_threads_local(previous)


@pjit
def column_sums_blocks(A, parts, edges):
    """``parts[k] = A[lo:hi].sum(axis=0)`` for each block k, rows added in order (as NumPy does)."""
    for k in prange(edges.shape[0] - 1):
        part = parts[k]
        part[:] = 0
        for i in range(edges[k], edges[k + 1]):
            row = A[i]
            for j in range(part.shape[0]):
                part[j] += row[j]


@jit
def one_thread_product(h, Wh):
    """``h @ Wh`` through BLAS on one thread, for a single step (generation)."""
    a = np.empty((h.shape[0], Wh.shape[1]), h.dtype)
    previous = blas_threads_local(1)
    gemm(h, Wh, a, False)
    blas_threads_local(previous)
    return a


@jit
def rnn_step(xp, h, Wh, bias, h_new, act):
    compiled.rnn_forward(one_thread_product(h, Wh), xp, bias, h_new, act)


@jit
def lstm_step(xp, h, c, Wh, bias, gates, c_new, h_new, tanh_c):
    gates[:, :] = xp
    compiled.lstm_forward(one_thread_product(h, Wh), gates, bias, c, c_new, h_new, tanh_c)


@jit
def gru_step(xp, h, Wh, bias, gates, hp_n, h_new):
    gates[:, :] = xp
    compiled.gru_forward(one_thread_product(h, Wh), gates, bias, h, hp_n, h_new)
