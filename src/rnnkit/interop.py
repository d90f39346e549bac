"""Weights to and from PyTorch's ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` layout, importing torch only
when tensors are asked for (``to_torch(..., tensors=True)``).

rnnkit keeps ``Wx: (D, G*H)``, ``Wh: (H, G*H)``, ``bx``, ``bh`` per layer and direction with the gate
blocks in PyTorch's order, so the mapping is a rename and a transpose::

    layers.<l>.Wx       <->  weight_ih_l<l>.T      (bidirectional: layers.<l>.fwd.Wx)
    layers.<l>.Wh       <->  weight_hh_l<l>.T
    layers.<l>.bx, .bh  <->  bias_ih_l<l>, bias_hh_l<l>
    layers.<l>.bwd.*    <->  the same names with the suffix ``_reverse``

Variants PyTorch lacks (peepholes, the two other GRU forms) and merges other than ``concat`` have
no PyTorch counterpart and are refused with a clear error.
"""
from __future__ import annotations

import numpy as np
from numpy import ndarray

from ._types import Params
from .cells import GRUCell
from .layers.networks import RecurrentNetwork

_TORCH_NAME = {"Wx": "weight_ih", "Wh": "weight_hh", "bx": "bias_ih", "bh": "bias_hh"}


def _check_convertible(layer: RecurrentNetwork) -> None:
    who = repr(layer)
    if not isinstance(layer, RecurrentNetwork):
        raise TypeError(f"interop: expected an rnnkit.RNN, GRU or LSTM, got {type(layer).__name__}")
    options = layer.cell_options
    if options.get("peephole"):
        raise ValueError(f"{who}: PyTorch's nn.LSTM has no peephole weights; no equivalent exists")
    if issubclass(layer.cell_class, GRUCell) and not (options.get("reset_after", True) and options.get("reset_gate", True)):
        raise ValueError(f"{who}: PyTorch's nn.GRU only has the reset_after=True, reset_gate=True form")
    if layer.bidirectional and layer.merge != "concat":
        raise ValueError(f"{who}: PyTorch concatenates the two directions; merge={layer.merge!r} has no equivalent")


def name_map(layer: RecurrentNetwork) -> dict[str, str]:
    """rnnkit parameter name -> PyTorch state_dict name, for every parameter of ``layer``."""
    _check_convertible(layer)
    names = {}
    for key in layer.params:
        parts = key.split(".")          # layers, l, [fwd|bwd,] name
        l, short = parts[1], parts[-1]
        suffix = "_reverse" if parts[2] == "bwd" else ""
        names[key] = f"{_TORCH_NAME[short]}_l{l}{suffix}"
    return names


def _to_numpy(value) -> ndarray:
    if hasattr(value, "detach"):  # a torch.Tensor, read without importing torch
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def from_torch(layer: RecurrentNetwork, state_dict) -> RecurrentNetwork:
    """Copy an ``nn.RNN/GRU/LSTM`` state_dict (tensors or arrays) of the same configuration into
    ``layer``'s parameters, in place (so optimizers holding the arrays see the new values)."""
    names = name_map(layer)
    who = repr(layer)
    expected, given = set(names.values()), set(state_dict)
    if expected != given:
        missing, extra = sorted(expected - given), sorted(given - expected)
        raise ValueError(f"{who}: state_dict does not match this configuration; "
                         f"missing {missing}, unexpected {extra}")
    for key, torch_name in names.items():
        value = _to_numpy(state_dict[torch_name])
        target = layer.params[key]
        value = value.T if value.ndim == 2 else value
        if value.shape != target.shape:
            raise ValueError(f"{who}: {torch_name} has shape {value.T.shape if value.ndim == 2 else value.shape}, "
                             f"expected {target.T.shape if target.ndim == 2 else target.shape}")
        target[...] = value
    return layer


def to_torch(layer: RecurrentNetwork, arrays: Params | None = None, *, tensors: bool = False) -> dict:
    """``layer.params`` (or any dict with the same keys, such as grads) under PyTorch's names and
    shapes.

    By default contiguous NumPy arrays, with no torch import (for comparing numbers, or saving).
    ``tensors=True`` returns ``torch.Tensor`` s (``torch.from_numpy`` of those arrays: the dtype
    kept, no copy beyond the transpose), which is what ``nn.LSTM.load_state_dict`` accepts (it
    refuses arrays)::

        torch_lstm.load_state_dict(rnnkit.interop.to_torch(lstm, tensors=True))

    torch is imported only then; an ImportError says so when it is not installed."""
    names = name_map(layer)
    arrays = layer.params if arrays is None else arrays
    if set(arrays) != set(names):
        raise ValueError(f"{layer!r}: expected arrays with the keys of params, got {sorted(arrays)}")
    out = {names[k]: np.ascontiguousarray(v.T if v.ndim == 2 else v) for k, v in arrays.items()}
    if not tensors:
        return out
    try:
        import torch
    except ImportError as error:
        raise ImportError(f"{layer!r}: to_torch(..., tensors=True) needs PyTorch (pip install torch); "
                          "without it, to_torch returns NumPy arrays") from error
    return {name: torch.from_numpy(value) for name, value in out.items()}
