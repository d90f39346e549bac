"""Running a recurrence on blocks of the batch in parallel threads.

The rows of a batch are independent recurrences. Multi-threaded BLAS splits each step's small
``h Wh`` product across threads and joins them again, T times per sequence, while the step's
element-wise work runs on one thread. Giving each thread its own block of rows for the whole
sequence (a compiled loop from :mod:`rnnkit.kernels.loops`, which releases the GIL and runs its
products single-threaded) joins once per sequence and runs the kernels on every thread.

As many blocks as NumPy's OpenBLAS has threads (``OPENBLAS_NUM_THREADS``), each of
at least ``MIN_ROWS`` rows; ``RNNKIT_BATCH_THREADS`` overrides the number (1 disables).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from . import blas

MIN_ROWS = 4   # fewer rows per block and a thread costs more than it brings
_state: dict = {}


def blocks() -> int:
    """How many blocks of rows to run at once (1: no threads)."""
    if "blocks" not in _state:
        setting = os.environ.get("RNNKIT_BATCH_THREADS")
        _state["blocks"] = max(1, int(setting)) if setting else (blas.threads(blas.numpy_openblas()) or 1)
    return _state["blocks"]


def for_row_blocks(fn, batch: int) -> None:
    """Call ``fn(lo, hi)`` for blocks of rows covering ``range(batch)``, one per thread when the
    batch is large enough, else ``fn(0, batch)`` in this thread."""
    n = min(blocks(), batch // MIN_ROWS)
    if n <= 1:
        fn(0, batch)
        return
    if "pool" not in _state:
        _state["pool"] = ThreadPoolExecutor(blocks(), thread_name_prefix="rnnkit")
    edges = [batch * k // n for k in range(n + 1)]
    futures = [_state["pool"].submit(fn, lo, hi) for lo, hi in zip(edges[1:-1], edges[2:])]
    fn(edges[0], edges[1])                        # the first block runs here
    for future in futures:
        future.result()
