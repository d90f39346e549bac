"""rnnkit: recurrent neural networks on NumPy, with backpropagation through time written by hand."""
from . import interop
from .cells import Cell, GRUCell, LSTMCell, RNNCell
from .gradcheck import gradcheck
from .layers.bidirectional import Bidirectional
from .layers.recurrent import Recurrent
from .layers.stacked import Stacked
from .networks import GRU, LSTM, RNN, RecurrentNetwork

__version__ = "0.1.0"

__all__ = [
    "RNN", "GRU", "LSTM", "RecurrentNetwork",
    "RNNCell", "GRUCell", "LSTMCell", "Cell",
    "Recurrent", "Bidirectional", "Stacked",
    "gradcheck", "interop",
]
