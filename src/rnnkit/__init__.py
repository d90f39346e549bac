"""rnnkit: recurrent neural networks on NumPy, with backpropagation through time written by hand."""
from . import interop, losses, optim
from .cells import Cell, GRUCell, LSTMCell, RNNCell, cell_names, register_cell
from .gradcheck import gradcheck
from .data.vocab import Vocabulary
from .layers.bidirectional import Bidirectional
from .layers.dense import Dense
from .layers.dropout import Dropout
from .layers.embedding import Embedding
from .layers.recurrent import Recurrent
from .layers.stacked import Stacked
from .layers.networks import GRU, LSTM, RNN, RecurrentNetwork, make_network
from .models import Forecaster, LanguageModel, LanguageModelConfig, SequenceClassifier, SequenceTagger, TaggerConfig, load
from .models.language_model import LanguageModelNetwork, evaluate_text, train_language_model
from .train import Trainer, TrainConfig

__version__ = "0.1.0"

__all__ = [
    "RNN", "GRU", "LSTM", "RecurrentNetwork", "make_network",
    "RNNCell", "GRUCell", "LSTMCell", "Cell", "register_cell", "cell_names",
    "Recurrent", "Bidirectional", "Stacked", "Dense", "Embedding", "Dropout",
    "LanguageModel", "LanguageModelConfig", "LanguageModelNetwork", "train_language_model", "evaluate_text", "Vocabulary",
    "SequenceClassifier", "Forecaster",
    "SequenceTagger", "TaggerConfig",
    "Trainer", "TrainConfig", "load",
    "gradcheck", "interop", "losses", "optim",
]
