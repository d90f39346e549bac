"""Long short-term memory cell, with optional peepholes."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .. import kernels
from ..functional import sigmoid
from .._types import Grads, State
from .base import Cell


class LSTMStepCache(NamedTuple):
    """One step's post-activations, each ``(B, H)``."""
    h: ndarray                 # h_prev, which multiplied Wh
    c: ndarray                 # c_prev
    i: ndarray
    f: ndarray
    g: ndarray
    o: ndarray
    c_new: ndarray             # c'
    tanh_c: ndarray            # tanh(c')


class LSTMCell(Cell):
    """Hochreiter & Schmidhuber (1997) with a forget gate (Gers et al., 2000), PyTorch's gate order
    ``i f g o`` in the blocks of ``Wx``, ``Wh``, ``bx``, ``bh``:

        a = x Wx + bx + h Wh + bh,  split into  a_i, a_f, a_g, a_o
        i = sigmoid(a_i)   f = sigmoid(a_f)   g = tanh(a_g)   o = sigmoid(a_o)
        c' = f * c + i * g
        h' = o * tanh(c')

    With ``peephole=True`` (Gers & Schmidhuber, 2000; Graves, 2013) the gates also see the cell
    through diagonal weights ``p: (3, H)`` (rows: input, forget, output):

        i = sigmoid(a_i + p_i * c)   f = sigmoid(a_f + p_f * c)   o = sigmoid(a_o + p_o * c')

    ``forget_bias`` (when given) sets the forget block of ``bx`` to that value and of ``bh`` to 0,
    so the initial forget gate is sigmoid(forget_bias) (Jozefowicz et al., 2015 recommend 1).
    """

    num_gates = 4
    state_names = ("h", "c")

    def __init__(self, input_size: int, hidden_size: int, *, peephole: bool = False,
                 forget_bias: float | None = None, **kwargs):
        super().__init__(input_size, hidden_size, **kwargs)
        self.peephole = bool(peephole)
        H = self.hidden_size
        if forget_bias is not None:
            self.params["bx"][H:2 * H] = forget_bias
            self.params["bh"][H:2 * H] = 0.0
        if self.peephole:
            # Zero start: the cell begins as a plain LSTM and learns how much to look at c.
            self.params["p"] = np.zeros((3, H), self.dtype)

    def _extra_repr(self) -> str:
        return ", peephole=True" if self.peephole else ""

    @property
    def fast_kernel(self) -> str | None:
        """``"lstm"`` without peepholes (the kernel's gates do not read c)."""
        return "lstm" if not self.peephole and self._equations_of(LSTMCell) else None

    def step(self, xp: ndarray, state: State) -> tuple[State, LSTMStepCache]:
        h, c = state
        H = self.hidden_size
        if not self.peephole:
            # the product and a fused kernel for the gate arithmetic (rnnkit.kernels; the
            # equations are in the class docstring, with p = 0)
            dtype = np.result_type(xp, h, c, self.params["Wh"])
            xp, h, c, Wh, bh = (np.ascontiguousarray(v, dtype) for v in
                                (xp, h, c, self.params["Wh"], self.params["bh"]))
            gates, c_new, h_new, tanh_c = np.empty_like(xp), np.empty_like(c), np.empty_like(c), np.empty_like(c)
            kernels.get_step("lstm_step")(xp, h, c, Wh, bh, gates, c_new, h_new, tanh_c)
            i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
            return (h_new, c_new), LSTMStepCache(h, c, i, f, g, o, c_new, tanh_c)
        # with peepholes: the gates also read c (and o reads c'), so no fused kernel
        p = self.params["p"]
        a = xp + h @ self.params["Wh"] + self.params["bh"]
        a[:, :H] += p[0] * c
        a[:, H:2 * H] += p[1] * c
        i = sigmoid(a[:, :H])
        f = sigmoid(a[:, H:2 * H])
        g = np.tanh(a[:, 2 * H:3 * H])
        c_new = f * c + i * g
        a[:, 3 * H:] += p[2] * c_new
        o = sigmoid(a[:, 3 * H:])
        tanh_c = np.tanh(c_new)
        h_new = o * tanh_c
        return (h_new, c_new), LSTMStepCache(h, c, i, f, g, o, c_new, tanh_c)

    def step_backward(self, dstate: State, cache: LSTMStepCache) -> tuple[ndarray, ndarray, State]:
        dh, dc = dstate
        c, i, f, g, o, tanh_c = cache.c, cache.i, cache.f, cache.g, cache.o, cache.tanh_c
        H = self.hidden_size
        da = np.empty((dh.shape[0], 4 * H), dh.dtype)
        do = dh * tanh_c                                  # h' = o * tanh(c')
        da[:, 3 * H:] = do * o * (1 - o)                  # o = sigmoid(a_o [+ p_o c'])
        dc_new = dc + dh * o * (1 - tanh_c * tanh_c)      # h' = o * tanh(c'), c' also flows on
        if self.peephole:
            dc_new += da[:, 3 * H:] * self.params["p"][2]  # a_o += p_o * c'
        da[:, :H] = dc_new * g * i * (1 - i)              # c' = ... + i * g, i = sigmoid(a_i)
        da[:, H:2 * H] = dc_new * c * f * (1 - f)         # c' = f * c + ..., f = sigmoid(a_f)
        da[:, 2 * H:3 * H] = dc_new * i * (1 - g * g)     # g = tanh(a_g)
        dc_prev = dc_new * f                              # c' = f * c + ...
        if self.peephole:
            p = self.params["p"]
            dc_prev += da[:, :H] * p[0] + da[:, H:2 * H] * p[1]  # a_i += p_i c, a_f += p_f c
        dh_prev = da @ self.params["Wh"].T                # a = ... + h Wh
        return da, da, (dh_prev, dc_prev)

    def recurrent_grads(self, caches: list[LSTMStepCache], dhp: ndarray) -> Grads:
        grads = super().recurrent_grads(caches, dhp)
        if self.peephole:
            H = self.hidden_size
            c = np.concatenate([k.c for k in caches])
            c_new = np.concatenate([k.c_new for k in caches])
            grads["p"] = np.stack([(dhp[:, :H] * c).sum(0), (dhp[:, H:2 * H] * c).sum(0),
                                   (dhp[:, 3 * H:] * c_new).sum(0)])
        return grads
