"""The cell contract: one time step forward and backward.

A cell with G gate blocks owns ``Wx: (D, G*H)``, ``Wh: (H, G*H)``, ``bx``, ``bh: (G*H,)`` (PyTorch's
``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``, transposed) plus any extra parameters.

Speed lives in the layer: the layer computes the input projection ``xp = x @ Wx + bx`` for the whole
sequence in one product and hands the cell one ``(B, G*H)`` slice per step. The cell's backward
returns the gradient of that slice (``dxp``) and of the recurrent pre-activation
``hp = h_prev @ Wh + bh`` (``dhp``); the layer then forms ``dWx``/``dbx`` in one product after the loop,
and :meth:`Cell.recurrent_grads` forms ``dWh``/``dbh`` and any extra parameter gradients the same way.

A cell whose equations a compiled whole-sequence kernel computes says so in :attr:`Cell.fast_kernel`
(``"rnn"``, ``"lstm"`` or ``"gru"``), and :class:`~rnnkit.layers.recurrent.Recurrent` then runs that
kernel (:mod:`rnnkit.layers.fused`) instead of calling ``step`` T times; every other cell takes the
generic loop over its own ``step``.
"""
from __future__ import annotations

import numpy as np
from numpy import ndarray

from .. import init as initializers
from .._types import Grads, Params, Seed, State, as_rng


# The methods that define a cell's arithmetic: a declared fast kernel stands for these, so a
# subclass that overrides any of them has other equations and must not inherit the kernel.
EQUATION_METHODS = ("project_inputs", "step", "step_backward", "recurrent_inputs", "recurrent_grads")


class Cell:
    """Base class. Subclasses set ``num_gates`` and ``state_names`` and implement ``step`` and
    ``step_backward``; they never store per-call state on ``self``."""

    num_gates: int = 1
    state_names: tuple[str, ...] = ("h",)

    def __init__(self, input_size: int, hidden_size: int, *, dtype=np.float32, seed: Seed = None,
                 init: str = "torch"):
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive int, got {value!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"{type(self).__name__}: dtype must be float32 or float64, got {dtype}")
        self.input_size, self.hidden_size, self.dtype = int(input_size), int(hidden_size), dtype
        self.params: Params = initializers.recurrent_weights(
            as_rng(seed), self.input_size, self.hidden_size, self.num_gates, init, dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}{self._extra_repr()})"

    def _extra_repr(self) -> str:
        return ""

    @property
    def fast_kernel(self) -> str | None:
        """The compiled kernel that computes exactly this cell's equations over a whole sequence:
        ``"rnn"`` (also reads ``self.nonlinearity``), ``"lstm"`` or ``"gru"`` (PyTorch's forms, the
        gate blocks in PyTorch's order, parameters ``Wx Wh bx bh`` only), or None: the layer then
        loops over :meth:`step`. None here; the built-in cells override it, through
        :meth:`_equations_of`, so a subclass that changes the equations gets None."""
        return None

    def _equations_of(self, cls: type) -> bool:
        """Whether this cell's arithmetic is ``cls``'s own: none of :data:`EQUATION_METHODS` is
        overridden below ``cls`` and there are no extra parameters, so a kernel ``cls`` declares
        still computes it."""
        kind = type(self)
        return (isinstance(self, cls) and all(getattr(kind, m) is getattr(cls, m) for m in EQUATION_METHODS)
                and set(self.params) == {"Wx", "Wh", "bx", "bh"})     # no parameter the kernel ignores

    def zero_state(self, batch_size: int) -> State:
        return tuple(np.zeros((batch_size, self.hidden_size), self.dtype) for _ in self.state_names)

    def project_inputs(self, x: ndarray) -> ndarray:
        """``x @ Wx + bx`` for any leading shape: ``(..., D) -> (..., G*H)``."""
        return x @ self.params["Wx"] + self.params["bx"]

    def step(self, xp: ndarray, state: State) -> tuple[State, tuple]:
        """One step. ``xp: (B, G*H)`` projected input, ``state`` of ``(B, H)`` arrays.
        Returns the new state and this step's cache: a NamedTuple of post-activations (so backward
        recomputes nothing) whose field ``h`` is the h_prev that multiplied ``Wh``."""
        raise NotImplementedError

    def step_backward(self, dstate: State, cache: tuple) -> tuple[ndarray, ndarray, State]:
        """Inverts :meth:`step`. ``dstate``: gradient of the new state.
        Returns ``dxp (B, G*H)``, ``dhp (B, G*H)`` and the gradient of the previous state."""
        raise NotImplementedError

    def recurrent_inputs(self, caches: list[tuple]) -> ndarray:
        """``(N, H)``: the rows that multiplied ``Wh`` at every step, stacked (default: h_prev)."""
        return np.concatenate([c.h for c in caches])

    def recurrent_grads(self, caches: list[tuple], dhp: ndarray) -> Grads:
        """``dWh``, ``dbh`` (and extra parameters) from all steps at once.
        ``dhp: (N, G*H)`` stacks every step's ``dhp`` in the order of ``caches``."""
        return {"Wh": self.recurrent_inputs(caches).T @ dhp, "bh": dhp.sum(axis=0)}
