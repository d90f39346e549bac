"""Running a recurrence on blocks of the batch in parallel threads.

The rows of a batch are independent recurrences. Multi-threaded BLAS splits each step's small
``h Wh`` product across threads and joins them again, T times per sequence, while the step's
element-wise work runs on one thread. Giving each thread its own block of rows for the whole
sequence (a compiled loop from :mod:`rnnkit.kernels.loops`, which releases the GIL and runs its
products single-threaded) joins once per sequence and runs the kernels on every thread.

The large products outside the time loop (``x Wx`` for all steps, ``dA Wx^T``, ``x^T dA``,
``h^T dA``) are split the same way by :func:`matmul`: blocks of rows, one per thread, each
with single-threaded BLAS (``openblas_set_num_threads_local``). Multi-threaded OpenBLAS on
this 2-core machine was 1.5 to 45 times slower than one thread on such shapes when other
processes were running (``x^T dA`` with K = 3200: 180 ms against 4 ms).

Who runs the blocks: with the compiled loops, one Numba parallel region per call
(:func:`numba_regions`; OpenMP's threads start a block in microseconds); otherwise a Python
thread pool (:func:`for_row_blocks`), whose hand-off cost 150-290 us here. Both give the same
numbers: the same blocks, each with one BLAS thread.

Products too small to split (fewer than ``2 * MIN_PRODUCT_ROWS`` rows) also run with one BLAS
thread: after a multi-threaded call OpenBLAS's worker keeps spinning on its core for a while,
and a compiled loop that starts meanwhile shares that core with it. Measured on a bidirectional
LSTM training step at (B, T, D, H) = (16, 20, 32, 64): 26-28 ms with the small products on
OpenBLAS's two threads, 3.1 ms with one.

As many blocks as NumPy's OpenBLAS has threads (``OPENBLAS_NUM_THREADS``), each of
at least ``MIN_ROWS`` rows; ``RNNKIT_BATCH_THREADS`` overrides the number (1 disables).
"""
from __future__ import annotations

import ctypes
import os
from contextlib import contextmanager
from types import ModuleType

from .. import kernels
from . import blas, workspace

import numpy as np
from numpy import ndarray

MIN_ROWS = 4          # fewer rows per block and a thread costs more than it brings
MIN_PRODUCT_ROWS = 256
_state: dict = {}


def _local_threads():
    """NumPy's ``openblas_set_num_threads_local``, or None. Despite its name it changes the
    thread count of the whole process in NumPy's pthreads build (measured: a call from another
    thread changes what the main thread's next product uses)."""
    if "local" not in _state:
        lib = blas.numpy_openblas()
        local = getattr(lib, "openblas_set_num_threads_local", None) if lib is not None else None
        if local is not None:
            local.argtypes, local.restype = [ctypes.c_int], ctypes.c_int
        _state["local"] = local
    return _state["local"]


@contextmanager
def one_blas_thread():
    """NumPy's BLAS on one thread inside the block (and as before afterwards)."""
    local = _local_threads()
    previous = local(1) if local is not None else None
    try:
        yield
    finally:
        if local is not None:
            local(previous)


def blocks() -> int:
    """How many blocks of rows to run at once (1: no threads)."""
    if "blocks" not in _state:
        setting = os.environ.get("RNNKIT_BATCH_THREADS")
        _state["blocks"] = max(1, int(setting)) if setting else (blas.threads(blas.numpy_openblas()) or 1)
    return _state["blocks"]


def _after_fork_in_child() -> None:
    """A forked child has none of its parent's threads: the pool starts anew, and Numba's
    regions are not used (GNU OpenMP aborts a child whose parent ran a region)."""
    _state.pop("pool", None)
    _state["forked"] = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def row_edges(batch: int, min_rows: int = MIN_ROWS) -> ndarray:
    """``(n + 1,)`` bounds of the blocks of rows: one block per thread, each of at least
    ``min_rows`` rows (one block when NumPy's BLAS has no per-call thread setting)."""
    n = max(1, min(blocks(), batch // min_rows)) if _local_threads() is not None else 1
    return np.array([batch * k // n for k in range(n + 1)], dtype=np.int64)


def for_row_blocks(fn, batch: int, min_rows: int = MIN_ROWS) -> None:
    """Call ``fn(lo, hi)`` for the blocks of :func:`row_edges`, one per thread of a Python pool,
    each with single-threaded BLAS; a single block runs here."""
    for_edges(fn, row_edges(batch, min_rows))


def for_edges(fn, edges: ndarray) -> None:
    """:func:`for_row_blocks` on the blocks bounded by ``edges``."""
    if len(edges) > 2 and "pool" not in _state:
        from concurrent.futures import ThreadPoolExecutor  # here, not at import rnnkit
        _state["pool"] = ThreadPoolExecutor(blocks(), thread_name_prefix="rnnkit")
    # One BLAS thread per block while the blocks run. In NumPy's OpenBLAS (pthreads) this
    # "local" setting is in fact process-wide: it is set once here, before any block starts, and
    # put back only after every block has finished, so that a block never sees the other's
    # setting and the caller's BLAS threads are as they were afterwards.
    futures = []
    with one_blas_thread():
        try:
            futures = [_state["pool"].submit(fn, int(lo), int(hi)) for lo, hi in zip(edges[1:-1], edges[2:])]
            fn(int(edges[0]), int(edges[1]))          # the first block runs here
        finally:
            for future in futures:
                future.exception()                    # waits
    for future in futures:
        future.result()                           # raises a block's exception, if any


def numba_regions() -> ModuleType | None:
    """:mod:`rnnkit.kernels.loops` when its ``*_blocks`` functions (one Numba parallel region
    per call) may run here, else None and the blocks go to :func:`for_row_blocks`' pool.

    A region's threads take their blocks within microseconds where the pool's hand-off cost
    150-290 us on this 2-core VM (9 times per training step). Only with Numba's OpenMP or TBB
    threading layer: its fallback (workqueue) hands off no faster than the pool and aborts when
    two threads launch regions at once; and not in a process forked after one ran, where GNU
    OpenMP aborts the child."""
    loops = kernels.compiled_loops()
    if loops is None or _state.get("forked"):
        return None
    if "layer" not in _state:
        try:
            loops.start_threads()
            import numba
            _state["layer"] = numba.threading_layer()
        except (ValueError, RuntimeError, ImportError):   # no threading layer could start
            _state["layer"] = None
    return loops if _state["layer"] in ("omp", "tbb") else None


def run_loop(name: str, args: tuple, edges: ndarray) -> None:
    """The compiled whole-sequence loop ``loops.<name>(*args, lo, hi)`` on every block of rows
    bounded by ``edges`` (:func:`row_edges`: the caller arranged its rows for these blocks)."""
    loops = numba_regions()
    if loops is not None:
        getattr(loops, name + "_blocks")(*args, edges)
    else:
        loop = getattr(kernels.compiled_loops(), name)
        for_edges(lambda lo, hi: loop(*args, lo, hi), edges)


def _compiled_products(*arrays: ndarray) -> ModuleType | None:
    """:func:`numba_regions` when it can multiply these: one float dtype, 2-D, rows contiguous."""
    dtype = arrays[0].dtype
    if dtype not in (np.float32, np.float64) or any(
            a.dtype != dtype or a.ndim != 2 or a.strides[1] != dtype.itemsize for a in arrays):
        return None
    return numba_regions()


def matmul(a: ndarray, b: ndarray, transpose_a: bool = False, out: ndarray | None = None) -> ndarray:
    """``a @ b`` (or ``a.T @ b``) for 2-D arrays, in blocks of a's rows over the threads. With
    ``transpose_a`` the blocks are slices of the summed dimension, and their products are added
    in block order (the same bits every call). ``out`` (not with ``transpose_a``): where to write
    ``a @ b``; by default reused memory (:mod:`.workspace`)."""
    M = a.shape[0]
    dtype = np.result_type(a, b)
    if not transpose_a and out is None:
        out = workspace.empty((M, b.shape[1]), dtype)
    edges = row_edges(M, MIN_PRODUCT_ROWS)
    n = len(edges) - 1
    if n == 1:
        with one_blas_thread():
            return np.matmul(a.T, b) if transpose_a else np.matmul(a, b, out=out)
    if not transpose_a:
        if b.T.flags.c_contiguous and not b.flags.c_contiguous:
            W, transpose = b.T, True              # a @ W.T: BLAS reads W transposed, no copy
        else:
            W, transpose = np.ascontiguousarray(b), False
        loops = _compiled_products(a, W, out)
        if loops is not None:
            loops.matmul_blocks(a, W, out, transpose, edges)
        else:
            for_row_blocks(lambda lo, hi: np.matmul(a[lo:hi], b, out=out[lo:hi]), M, MIN_PRODUCT_ROWS)
        return out
    loops = _compiled_products(a, b)
    return _summed_blocks(M, (a.shape[1], b.shape[1]), dtype, loops and loops.matmul_tn_blocks, (a, b),
                          lambda lo, hi, part: np.matmul(a[lo:hi].T, b[lo:hi], out=part))


def column_sums(a: ndarray) -> ndarray:
    """``a.sum(axis=0)`` for a 2-D array (a bias gradient), in blocks of rows over the threads,
    the blocks' sums added in block order."""
    if len(row_edges(a.shape[0], MIN_PRODUCT_ROWS)) == 2:
        return a.sum(axis=0)
    loops = _compiled_products(a)
    return _summed_blocks(a.shape[0], (a.shape[1],), a.dtype, loops and loops.column_sums_blocks, (a,),
                          lambda lo, hi, part: np.sum(a[lo:hi], axis=0, out=part))


def _summed_blocks(rows: int, shape: tuple, dtype, compiled, args: tuple, block) -> ndarray:
    """The sum of one part per block of ``rows`` rows: ``compiled(*args, parts, edges)`` writes
    every block's part in one Numba region, else ``block(lo, hi, part)`` does one block in the
    pool; the parts are added in block order, so a call gives the same bits every time."""
    edges = row_edges(rows, MIN_PRODUCT_ROWS)
    parts = workspace.empty((len(edges) - 1,) + shape, dtype)
    if compiled:
        compiled(*args, parts, edges)
    else:
        index = {int(lo): k for k, lo in enumerate(edges[:-1])}
        for_row_blocks(lambda lo, hi: block(lo, hi, parts[index[lo]]), rows, MIN_PRODUCT_ROWS)
    out = parts[0]
    for k in range(1, len(parts)):
        out += parts[k]
    return out
