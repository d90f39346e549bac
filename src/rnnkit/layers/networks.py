"""The public recurrent networks ``RNN``, ``GRU`` and ``LSTM``, shaped like ``torch.nn``'s."""
from __future__ import annotations

import numpy as np
from numpy import ndarray

from .._types import Grads, Seed, State, as_rng
from ..cells import GRUCell, LSTMCell, RNNCell, cell_type
from ..cells.base import Cell
from .bidirectional import Bidirectional
from .checks import check_lengths, check_output_grad, check_sequence_input, check_state
from .recurrent import Recurrent
from .stacked import Stacked


class RecurrentNetwork(Stacked):
    """``num_layers`` layers of ``cell_class`` cells, each uni- or bidirectional.

    Contract::

        y, state, cache = net.forward(x, state=None, lengths=None, training=False)
        dx, dstate0, grads = net.backward(dy, dstate=None, cache=cache)

    ``x: (B, T, D)``; ``y: (B, T, num_directions * H)`` (or ``H`` for a sum/mean/product merge);
    ``state``: a tuple ``(h,)`` or ``(h, c)`` of ``(num_layers * num_directions, B, H)`` arrays in
    PyTorch's order; ``lengths: (B,)`` valid steps per sequence (padding neither changes the state
    nor gets gradient, outputs are zero there, and the final state is taken at each sequence's end,
    as PyTorch's packed sequences give). ``grads`` has exactly the keys and shapes of ``params``.
    """

    cell_class: type[Cell] = Cell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, *, merge: str = "concat", seed: Seed = None, dtype=np.float32,
                 init: str = "torch", cell_class: type[Cell] | None = None, **cell_options):
        if cell_class is not None:
            self.cell_class = cell_class
        name = type(self).__name__
        if not isinstance(num_layers, (int, np.integer)) or num_layers < 1:
            raise ValueError(f"{name}: num_layers must be a positive int, got {num_layers!r}")
        rng = as_rng(seed)
        layers, width = [], input_size
        for _ in range(num_layers):
            def make(reverse):
                cell = self.cell_class(width, hidden_size, dtype=dtype, seed=rng, init=init, **cell_options)
                return Recurrent(cell, reverse=reverse)
            layer = make(False)
            if bidirectional:
                layer = Bidirectional(layer, make(True), merge=merge)
            layers.append(layer)
            width = getattr(layer, "output_size", hidden_size)
        super().__init__(layers, dropout=dropout, seed=rng.integers(2**63))
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bidirectional, self.merge, self.dtype = bool(bidirectional), merge, np.dtype(dtype)
        self.output_size = width
        self.cell_options = dict(cell_options)

    def __repr__(self) -> str:
        options = "".join(f", {k}={v!r}" for k, v in self.cell_options.items())
        return (f"{type(self).__name__}({self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"bidirectional={self.bidirectional}, dropout={self.dropout.p}{options})")

    def _state_shape(self, batch: int) -> tuple[int, int, int]:
        return (self.num_layers * self.num_directions, batch, self.hidden_size)

    def forward(self, x: ndarray, state: State | None = None, lengths: ndarray | None = None,
                training: bool = False, rng: np.random.Generator | None = None):
        """See the class docstring. ``training=True`` switches dropout between layers on; the
        default is inference, as a PyTorch user expects of a module in ``eval()`` mode (a
        training loop passes ``training=True``)."""
        who = repr(self)
        x = check_sequence_input(who, x, self.input_size, self.dtype)
        B, T, _ = x.shape
        lengths = check_lengths(who, lengths, B, T)
        state = check_state(who, state, self.state_names, self._state_shape(B), self.dtype)
        return super().forward(x, state, lengths, training=training, rng=rng)

    def backward(self, dy: ndarray, dstate: State | None = None, cache=None) -> tuple[ndarray, State, Grads]:
        """Gradients of every input from ``dy: (B, T, output_size)`` and the final-state gradient."""
        who = repr(self)
        if cache is None:
            raise ValueError(f"{who}: backward needs the cache returned by forward")
        B, T = cache.shape
        dy = check_output_grad(who, dy, (B, T, self.output_size)).astype(self.dtype, copy=False)
        dstate = check_state(who, dstate, self.state_names, self._state_shape(B), self.dtype)
        return super().backward(dy, dstate, cache)

    def zero_state(self, batch_size: int) -> State:
        return tuple(np.zeros(self._state_shape(batch_size), self.dtype) for _ in self.state_names)

    def step(self, x: ndarray, state: State | None = None) -> tuple[ndarray, State]:
        """One time step through every layer, for generation: ``x: (B, D)`` -> ``y: (B, H)`` and
        the new state. Inference only (no dropout, no cache); unidirectional networks only, since
        a backward direction needs the whole sequence."""
        if self.bidirectional:
            raise ValueError(f"{self!r}: step() needs a unidirectional network; "
                             "a bidirectional one must see the whole sequence (use forward)")
        if state is None:
            state = self.zero_state(x.shape[0])
        new_state = []
        for l, layer in enumerate(self.layers):
            cell = layer.cell
            new, _ = cell.step(cell.project_inputs(x), tuple(s[l] for s in state))
            new_state.append(new)
            x = new[0]
        return x, tuple(np.stack(parts) for parts in zip(*new_state))


def make_network(cell: str, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, **kwargs) -> RecurrentNetwork:
    """The network of a registered cell name (:mod:`rnnkit.cells.registry`): ``"lstm"`` gives an
    :class:`LSTM`, ``"gru_cho"`` a :class:`GRU` with ``reset_after=False``, a user's own cell a
    :class:`RecurrentNetwork` of it. ``kwargs`` go to the network (``seed``, ``dtype``, ``merge`` ...)."""
    entry = cell_type(cell)
    network = _NETWORKS.get(entry.cell_class)
    if network is None:
        return RecurrentNetwork(input_size, hidden_size, num_layers, bidirectional, dropout,
                                cell_class=entry.cell_class, **entry.options, **kwargs)
    return network(input_size, hidden_size, num_layers, bidirectional, dropout, **entry.options, **kwargs)


class RNN(RecurrentNetwork):
    """Elman RNN layers; ``nonlinearity`` in ``tanh`` (default), ``relu``, ``sigmoid``.
    See :class:`rnnkit.cells.RNNCell` and :class:`RecurrentNetwork` for the contract."""

    cell_class = RNNCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, *, nonlinearity: str = "tanh", **kwargs):
        super().__init__(input_size, hidden_size, num_layers, bidirectional, dropout,
                         nonlinearity=nonlinearity, **kwargs)


class GRU(RecurrentNetwork):
    """GRU layers; ``reset_after=True`` is PyTorch's form, ``reset_after=False`` Cho et al.'s,
    ``reset_gate=False`` the update-gate-only GRU. See :class:`rnnkit.cells.GRUCell`."""

    cell_class = GRUCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, *, reset_after: bool = True, reset_gate: bool = True, **kwargs):
        super().__init__(input_size, hidden_size, num_layers, bidirectional, dropout,
                         reset_after=reset_after, reset_gate=reset_gate, **kwargs)


class LSTM(RecurrentNetwork):
    """LSTM layers in PyTorch's form; ``peephole=True`` adds Graves' diagonal peepholes and
    ``forget_bias`` sets the initial forget-gate bias. See :class:`rnnkit.cells.LSTMCell`."""

    cell_class = LSTMCell

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
                 dropout: float = 0.0, *, peephole: bool = False, forget_bias: float | None = None, **kwargs):
        super().__init__(input_size, hidden_size, num_layers, bidirectional, dropout,
                         peephole=peephole, forget_bias=forget_bias, **kwargs)


_NETWORKS: dict[type[Cell], type[RecurrentNetwork]] = {RNNCell: RNN, GRUCell: GRU, LSTMCell: LSTM}

__all__ = ["RecurrentNetwork", "RNN", "GRU", "LSTM", "make_network"]
