"""Elman RNN cell."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .. import kernels
from ..functional import ACTIVATIONS
from ..kernels.reference import ACTIVATION_CODES
from .._types import State
from .base import Cell


class RNNStepCache(NamedTuple):
    h: ndarray                 # (B, H) h_prev, which multiplied Wh
    h_new: ndarray             # (B, H) act(a), whose derivative backward reads


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

    @property
    def fast_kernel(self) -> str | None:
        computed = self._equations_of(RNNCell) and self.nonlinearity in ACTIVATION_CODES
        return "rnn" if computed else None

    def step(self, xp: ndarray, state: State) -> tuple[State, RNNStepCache]:
        (h,) = state
        # h' = act(xp + h Wh + bh): the product, then the sum and act fused (rnnkit.kernels)
        dtype = np.result_type(xp, h, self.params["Wh"])
        xp, h, Wh, bh = (np.ascontiguousarray(v, dtype) for v in (xp, h, self.params["Wh"], self.params["bh"]))
        h_new = np.empty((h.shape[0], self.hidden_size), dtype)
        kernels.get_step("rnn_step")(xp, h, Wh, bh, h_new, ACTIVATION_CODES[self.nonlinearity])
        return (h_new,), RNNStepCache(h, h_new)

    def step_backward(self, dstate: State, cache: RNNStepCache) -> tuple[ndarray, ndarray, State]:
        (dh,) = dstate
        da = dh * self._act_grad(cache.h_new)    # h' = act(a)
        dh_prev = da @ self.params["Wh"].T       # a = ... + h Wh
        return da, da, (dh_prev,)
