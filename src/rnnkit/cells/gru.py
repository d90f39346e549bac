"""Gated recurrent unit cell: PyTorch's form, Cho et al.'s form, and the update-gate-only form."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .. import kernels
from ..functional import sigmoid
from .._types import Grads, State
from .base import Cell


class GRUStepCache(NamedTuple):
    """One step's post-activations, each ``(B, H)``."""
    h: ndarray                 # h_prev, which multiplied Wh
    r: ndarray | None          # None without a reset gate
    z: ndarray
    n: ndarray
    hp_n: ndarray              # the candidate block of the recurrent product: h Wh_n + bh_n (or (r h) Wh_n + bh_n)
    rh: ndarray | None         # r * h, which multiplied Wh_n (reset_after=False only)


class GRUCell(Cell):
    """Cho et al. (2014) gated recurrent unit. Blocks of ``Wx``, ``Wh``, ``bx``, ``bh`` in PyTorch's
    order ``r z n``; ``xp = x Wx + bx`` and ``hp = h Wh + bh`` split into those blocks.

    Default (``reset_after=True``, PyTorch and cuDNN): the reset gate scales the recurrent product,
    so the candidate has two biases:

        r = sigmoid(xp_r + hp_r)   z = sigmoid(xp_z + hp_z)
        n = tanh(xp_n + r * (h Wh_n + bh_n))
        h' = (1 - z) * n + z * h

    ``reset_after=False`` (Cho et al. 2014; Keras' ``reset_after=False``): the reset gate scales h
    before the product:

        n = tanh(xp_n + (r * h) Wh_n + bh_n)

    ``reset_gate=False``: the simplified GRU with an update gate only (blocks ``z n``):

        z = sigmoid(xp_z + hp_z)   n = tanh(xp_n + h Wh_n + bh_n)   h' = (1 - z) * n + z * h

    In every form z is the share of the *old* state kept (PyTorch's convention; some texts write
    the gate on the candidate instead, i.e. their z is our 1 - z).
    """

    state_names = ("h",)

    def __init__(self, input_size: int, hidden_size: int, *, reset_after: bool = True,
                 reset_gate: bool = True, **kwargs):
        self.reset_gate = bool(reset_gate)
        # Without a reset gate there is nothing to apply before or after: the candidate is plain.
        self.reset_after = bool(reset_after) if self.reset_gate else True
        self.num_gates = 3 if self.reset_gate else 2
        super().__init__(input_size, hidden_size, **kwargs)

    def _extra_repr(self) -> str:
        if not self.reset_gate:
            return ", reset_gate=False"
        return "" if self.reset_after else ", reset_after=False"

    @property
    def fast_kernel(self) -> str | None:
        """``"gru"`` for PyTorch's form only (the kernel has the reset gate after the product)."""
        computed = self.reset_gate and self.reset_after and self._equations_of(GRUCell)
        return "gru" if computed else None

    def step(self, xp: ndarray, state: State) -> tuple[State, GRUStepCache]:
        (h,) = state
        H = self.hidden_size
        Wh, bh = self.params["Wh"], self.params["bh"]
        n_at = (self.num_gates - 1) * H   # where the candidate block starts
        if self.reset_gate and self.reset_after:
            # the product and a fused kernel for the gate arithmetic (rnnkit.kernels; the
            # equations are in the class docstring)
            dtype = np.result_type(xp, h, Wh)
            xp, h, Wh, bh = (np.ascontiguousarray(v, dtype) for v in (xp, h, Wh, bh))
            gates, hp_n, h_new = np.empty_like(xp), np.empty_like(h), np.empty_like(h)
            kernels.get_step("gru_step")(xp, h, Wh, bh, gates, hp_n, h_new)
            return (h_new,), GRUStepCache(h, gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:], hp_n, None)
        if not self.reset_gate:
            hp = h @ Wh + bh
            z = sigmoid(xp[:, :H] + hp[:, :H])
            n = np.tanh(xp[:, H:] + hp[:, H:])
            r = rh = None
        else:
            hp_rz = h @ Wh[:, :2 * H] + bh[:2 * H]
            rz = sigmoid(xp[:, :2 * H] + hp_rz)
            r, z = rz[:, :H], rz[:, H:]
            rh = r * h
            hp = np.concatenate([hp_rz, rh @ Wh[:, n_at:] + bh[n_at:]], axis=1)
            n = np.tanh(xp[:, n_at:] + hp[:, n_at:])
        h_new = n + z * (h - n)               # = (1 - z) * n + z * h
        return (h_new,), GRUStepCache(h, r, z, n, hp[:, n_at:], rh)

    def step_backward(self, dstate: State, cache: GRUStepCache) -> tuple[ndarray, ndarray, State]:
        (dh,) = dstate
        h, r, z, n, hp_n = cache.h, cache.r, cache.z, cache.n, cache.hp_n
        H = self.hidden_size
        Wh = self.params["Wh"]
        n_at = (self.num_gates - 1) * H
        dxp = np.empty((dh.shape[0], self.num_gates * H), dh.dtype)
        dz = dh * (h - n)                                     # h' = n + z * (h - n)
        dn = dh * (1 - z)
        dxp[:, n_at:] = dan = dn * (1 - n * n)                # n = tanh(a_n)
        dxp[:, n_at - H:n_at] = dz * z * (1 - z)              # z = sigmoid(a_z)
        dh_prev = dh * z                                      # h' = ... + z * h
        if not self.reset_gate:
            dhp = dxp                                         # a_n = xp_n + hp_n: same gradient
        elif self.reset_after:
            dhp = dxp.copy()
            dhp[:, n_at:] = dan * r                           # a_n = xp_n + r * hp_n
            dxp[:, :H] = dan * hp_n * r * (1 - r)             # ... and r = sigmoid(a_r)
            dhp[:, :H] = dxp[:, :H]
        else:
            drh = dan @ Wh[:, n_at:].T                        # a_n = xp_n + (r * h) Wh_n + bh_n
            dxp[:, :H] = drh * h * r * (1 - r)                # rh = r * h, r = sigmoid(a_r)
            dh_prev += drh * r
            dhp = dxp
            dh_prev += dhp[:, :n_at] @ Wh[:, :n_at].T         # hp_rz = h Wh_rz + bh_rz
            return dxp, dhp, (dh_prev,)
        dh_prev += dhp @ Wh.T                                 # hp = h Wh + bh
        return dxp, dhp, (dh_prev,)

    def recurrent_grads(self, caches: list[GRUStepCache], dhp: ndarray) -> Grads:
        if self.reset_after:
            return super().recurrent_grads(caches, dhp)
        # The candidate block of Wh multiplied r * h, not h.
        H = self.hidden_size
        h = self.recurrent_inputs(caches)
        rh = np.concatenate([k.rh for k in caches])
        dWh = np.concatenate([h.T @ dhp[:, :2 * H], rh.T @ dhp[:, 2 * H:]], axis=1)
        return {"Wh": dWh, "bh": dhp.sum(axis=0)}
