"""Elman RNN cell."""
from __future__ import annotations

import numpy as np
from numpy import ndarray

from ..functional import ACTIVATIONS
from .._types import State
from .base import Cell


class RNNCell(Cell):
    """Elman (1990) recurrent cell, PyTorch's ``nn.RNNCell``:

        h' = act(x Wx + bx + h Wh + bh),   act in {tanh, relu, sigmoid}
    """

    num_gates = 1
    state_names = ("h",)

    def __init__(self, input_size: int, hidden_size: int, *, nonlinearity: str = "tanh", **kwargs):
        if nonlinearity not in ACTIVATIONS:
            raise ValueError(f"RNNCell: nonlinearity must be one of {sorted(ACTIVATIONS)}, got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self._act, self._act_grad = ACTIVATIONS[nonlinearity]
        super().__init__(input_size, hidden_size, **kwargs)

    def _extra_repr(self) -> str:
        return f", nonlinearity={self.nonlinearity!r}"

    def step(self, xp: ndarray, state: State) -> tuple[State, tuple]:
        (h,) = state
        h_new = self._act(xp + h @ self.params["Wh"] + self.params["bh"])
        return (h_new,), (h, h_new)

    def step_backward(self, dstate: State, cache: tuple) -> tuple[ndarray, ndarray, State]:
        (dh,) = dstate
        h, h_new = cache
        da = dh * self._act_grad(h_new)          # backprop through act
        dh_prev = da @ self.params["Wh"].T       # a = ... + h Wh
        return da, da, (dh_prev,)
