"""Cells: one time step forward and backward each (see :mod:`rnnkit.cells.base` for the contract),
and the registry of the names models and flags accept (:mod:`rnnkit.cells.registry`)."""
from .base import Cell
from .gru import GRUCell
from .lstm import LSTMCell
from .registry import CellType, cell_names, cell_type, register_cell, unregister_cell
from .rnn import RNNCell

__all__ = ["Cell", "RNNCell", "GRUCell", "LSTMCell", "CellType", "cell_names", "cell_type", "register_cell",
           "unregister_cell"]
