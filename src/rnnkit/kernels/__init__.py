"""Fused element-wise kernels for one time step of each cell, forward and backward.

A recurrent step is one matrix product (``h Wh``, done by BLAS) and a dozen element-wise
operations on ``(B, G*H)`` arrays. NumPy runs each of those as a separate pass over memory with a
single-threaded ``tanh`` that costs as much as the matrix product itself at ``B = 32, H = 128``;
the kernels here do all of a step's gate arithmetic in one pass, writing into buffers the caller
owns.

Two implementations with the same signatures and the same numbers (to float rounding):

* :mod:`rnnkit.kernels.reference`: plain NumPy, always available; the executable specification.
* :mod:`rnnkit.kernels.compiled`: Numba (``pip install rnnkit[fast]``), compiled on first use and
  cached on disk (``cache=True``), never at ``import rnnkit``. In float32 its ``tanh`` (and the
  sigmoid built on it) is a rational approximation within 3e-7 of the exact value, which
  vectorises; in float64 it calls the exact ``tanh``, so gradient checks hold to 1e-6.

``RNNKIT_KERNELS=numpy`` (or ``numba``) in the environment, or :func:`set_backend`, chooses;
the default ``auto`` takes Numba when it imports. Besides the step kernels both modules have
``softmax_xent``, softmax cross-entropy and its gradient in one pass per row (the compiled one
with a vectorised float32 ``exp`` within 3e-7).

For whoever edits them: Numba's on-disk cache of a function is checked against its own file
only, and :mod:`.loops` inlines the kernels of :mod:`.compiled` and :mod:`.packed`: after
changing ``compiled.py`` or ``packed.py``, delete ``kernels/__pycache__/*.nbi`` and ``*.nbc``,
or ``loops`` keeps running the old kernels.
"""
from __future__ import annotations

import os
from types import ModuleType

from . import reference

BACKENDS = ("auto", "numba", "numpy")
_state = {"backend": os.environ.get("RNNKIT_KERNELS", "auto"), "compiled": None, "loops": None}


def set_backend(name: str) -> str:
    """Choose ``"numba"``, ``"numpy"`` or ``"auto"``; returns the previous choice."""
    if name not in BACKENDS:
        raise ValueError(f"rnnkit.kernels: backend must be one of {BACKENDS}, got {name!r}")
    previous, _state["backend"] = _state["backend"], name
    return previous


def numba_available() -> bool:
    return _compiled() is not None


def backend() -> str:
    """The backend in use: ``"numba"`` or ``"numpy"``."""
    return "numba" if _module() is not reference else "numpy"


def get(name: str):
    """The kernel ``name`` (e.g. ``"lstm_forward"``) from the chosen backend."""
    return getattr(_module(), name)


def compiled_loops() -> ModuleType | None:
    """:mod:`rnnkit.kernels.loops` (whole-sequence compiled loops) when the Numba backend is in
    use and NumPy's BLAS is an OpenBLAS it can call, else None (the caller loops in Python)."""
    if _module() is reference:
        return None
    if _state["loops"] is None:
        try:
            from . import loops as module
        except (ImportError, OSError):
            module = False
        _state["loops"] = module
    return _state["loops"] or None


def get_step(name: str):
    """A whole step with its product (``"lstm_step"``, ``"gru_step"``, ``"rnn_step"``): the
    compiled one from :mod:`rnnkit.kernels.loops` when available, else the reference."""
    module = compiled_loops()
    return getattr(reference if module is None else module, name)


def _compiled() -> ModuleType | None:
    if _state["compiled"] is None:
        try:
            from . import compiled
        except ImportError:
            compiled = False
        _state["compiled"] = compiled
    return _state["compiled"] or None


def _module() -> ModuleType:
    choice = _state["backend"]
    if choice == "numpy":
        return reference
    compiled = _compiled()
    if compiled is None:
        if choice == "numba":
            raise ImportError("rnnkit.kernels: the numba backend needs numba (pip install rnnkit[fast])")
        return reference
    return compiled


__all__ = ["BACKENDS", "backend", "compiled_loops", "get", "get_step", "numba_available", "set_backend"]
