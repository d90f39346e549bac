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

As many blocks as NumPy's OpenBLAS has threads (``OPENBLAS_NUM_THREADS``), each of
at least ``MIN_ROWS`` rows; ``RNNKIT_BATCH_THREADS`` overrides the number (1 disables).
"""
from __future__ import annotations

import ctypes
import os

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


def blocks() -> int:
    """How many blocks of rows to run at once (1: no threads)."""
    if "blocks" not in _state:
        setting = os.environ.get("RNNKIT_BATCH_THREADS")
        _state["blocks"] = max(1, int(setting)) if setting else (blas.threads(blas.numpy_openblas()) or 1)
    return _state["blocks"]


def for_row_blocks(fn, batch: int, min_rows: int = MIN_ROWS) -> None:
    """Call ``fn(lo, hi)`` for blocks of rows covering ``range(batch)``, one per thread, each
    with single-threaded BLAS, when the batch is large enough; else ``fn(0, batch)`` here."""
    local = _local_threads()
    n = min(blocks(), batch // min_rows) if local is not None else 1
    if n <= 1:
        fn(0, batch)
        return
    if "pool" not in _state:
        from concurrent.futures import ThreadPoolExecutor, wait  # here, not at import rnnkit
        _state["pool"], _state["wait"] = ThreadPoolExecutor(blocks(), thread_name_prefix="rnnkit"), wait
    edges = [batch * k // n for k in range(n + 1)]
    # One BLAS thread per block while the blocks run. In NumPy's OpenBLAS (pthreads) this
    # "local" setting is in fact process-wide: it is set once here, before any block starts, and
    # put back only after every block has finished, so that a block never sees the other's
    # setting and the caller's BLAS threads are as they were afterwards.
    previous = local(1)
    futures = []
    try:
        futures = [_state["pool"].submit(fn, lo, hi) for lo, hi in zip(edges[1:-1], edges[2:])]
        fn(edges[0], edges[1])                    # the first block runs here
    finally:
        _state["wait"](futures)
        local(previous)
    for future in futures:
        future.result()                           # raises a block's exception, if any


def matmul(a: ndarray, b: ndarray, transpose_a: bool = False, out: ndarray | None = None) -> ndarray:
    """``a @ b`` (or ``a.T @ b``) for 2-D arrays, in blocks of a's rows over the threads. With
    ``transpose_a`` the blocks are slices of the summed dimension, and their products are added.
    ``out`` (not with ``transpose_a``): where to write ``a @ b``; by default reused memory
    (:mod:`.workspace`)."""
    M = a.shape[0]
    n = min(blocks(), M // MIN_PRODUCT_ROWS)
    if not transpose_a and out is None:
        out = workspace.empty((M, b.shape[1]), np.result_type(a, b))
    if n <= 1 or _local_threads() is None:
        if transpose_a:
            return a.T @ b
        return np.matmul(a, b, out=out)
    if not transpose_a:
        for_row_blocks(lambda lo, hi: np.matmul(a[lo:hi], b, out=out[lo:hi]), M, MIN_PRODUCT_ROWS)
        return out
    parts = {}

    def part(lo, hi):
        parts[lo] = np.matmul(a[lo:hi].T, b[lo:hi], out=workspace.empty((a.shape[1], b.shape[1]), np.result_type(a, b)))
    for_row_blocks(part, M, MIN_PRODUCT_ROWS)
    starts = sorted(parts)                        # a fixed order: the same bits every call
    out = parts[starts[0]]
    for lo in starts[1:]:
        out += parts[lo]
    return out
