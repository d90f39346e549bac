"""The OpenBLAS that NumPy loaded, found through the process's memory map (Linux)."""
from __future__ import annotations

import ctypes


def numpy_openblas() -> ctypes.CDLL | None:
    """NumPy's OpenBLAS, or None (another BLAS, or no ``/proc``). Other libraries (SciPy, which
    Numba may import) can load an OpenBLAS of their own: NumPy's is the one under ``numpy``."""
    import numpy  # noqa: F401  (loads BLAS)
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return None
    for path in sorted(paths, key=lambda p: "numpy" not in p):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def threads(lib: ctypes.CDLL | None) -> int | None:
    """The number of threads ``lib`` runs, or None if it does not say."""
    for name in ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_"):
        get = getattr(lib, name, None) if lib is not None else None
        if get is not None:
            get.restype = ctypes.c_int
            return get()
    return None
