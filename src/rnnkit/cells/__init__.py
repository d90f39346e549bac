"""Cells: one time step forward and backward each (see :mod:`rnnkit.cells.base` for the contract)."""
from .base import Cell
from .gru import GRUCell
from .lstm import LSTMCell
from .rnn import RNNCell

__all__ = ["Cell", "RNNCell", "GRUCell", "LSTMCell"]
