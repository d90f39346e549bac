"""The cell registry: every name a user can give as ``cell=`` (or ``--cell``) and what it builds.

The task models, the character encoder and every ``--cell`` flag read this one table, so a new
cell is its own module under ``cells/`` plus one :func:`register_cell` line below (or a call from
the user's code before the model is built or loaded). A name may fix constructor options of its
class, so each variant the textbooks name is one word::

    register_cell("lstm_peephole", LSTMCell, peephole=True)

Model files store the name, so a model trained with a registered cell loads wherever the same
name is registered.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .base import Cell
from .gru import GRUCell
from .lstm import LSTMCell
from .rnn import RNNCell


@dataclass(frozen=True)
class CellType:
    """A registered name: the cell class and the constructor options the name fixes."""

    name: str
    cell_class: type[Cell]
    options: dict[str, Any] = field(default_factory=dict)
    description: str = ""


_REGISTRY: dict[str, CellType] = {}


def register_cell(name: str, cell_class: type[Cell], *, description: str = "", **options) -> CellType:
    """Make ``name`` buildable: ``cell_class(input_size, hidden_size, **options, ...)``.

    Registering a name again replaces it (a user may redefine a variant); the class must follow
    the :class:`~rnnkit.cells.base.Cell` contract.
    """
    if not isinstance(name, str) or not name or not name.replace("_", "").isalnum():
        raise ValueError(f"register_cell: name must be a word of letters, digits and '_', got {name!r}")
    if not (isinstance(cell_class, type) and issubclass(cell_class, Cell)):
        raise TypeError(f"register_cell: {name!r} needs a subclass of rnnkit.cells.Cell, got {cell_class!r}")
    entry = CellType(name, cell_class, dict(options), description)
    _REGISTRY[name] = entry
    return entry


def unregister_cell(name: str) -> None:
    """Remove ``name`` (tests that register a cell of their own clean up with this)."""
    _REGISTRY.pop(name, None)


def cell_names() -> tuple[str, ...]:
    """The registered names, in registration order (the built-in ones first)."""
    return tuple(_REGISTRY)


def cell_type(name: str, who: str = "rnnkit") -> CellType:
    """The entry for ``name``; a ValueError naming the choices when there is none."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"{who}: cell must be one of {list(_REGISTRY)}, got {name!r}") from None


register_cell("lstm", LSTMCell, description="LSTM, PyTorch's form (gates i f g o)")
register_cell("gru", GRUCell, description="GRU, PyTorch's form (reset after the product)")
register_cell("rnn", RNNCell, description="Elman RNN with tanh")
register_cell("lstm_peephole", LSTMCell, peephole=True, description="LSTM with Gers' peepholes")
register_cell("gru_cho", GRUCell, reset_after=False, description="GRU, Cho et al.'s form (reset before the product)")
register_cell("gru_update", GRUCell, reset_gate=False, description="GRU with an update gate only")
register_cell("rnn_relu", RNNCell, nonlinearity="relu", description="Elman RNN with ReLU")
register_cell("rnn_sigmoid", RNNCell, nonlinearity="sigmoid", description="Elman RNN with the logistic sigmoid")

__all__ = ["CellType", "cell_names", "cell_type", "register_cell", "unregister_cell"]
