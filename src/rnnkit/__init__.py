"""rnnkit: recurrent neural networks on NumPy, with backpropagation through time written by hand."""
from . import interop, losses, optim
from .cells import Cell, GRUCell, LSTMCell, RNNCell
from .gradcheck import gradcheck
from .data.vocab import Vocabulary
from .layers.bidirectional import Bidirectional
from .layers.dense import Dense
from .layers.dropout import Dropout
from .layers.embedding import Embedding
from .layers.recurrent import Recurrent
from .layers.stacked import Stacked
from .models import LanguageModel, LanguageModelConfig, load
from .models.sequence_classifier import SequenceClassifier
from .models.forecaster import Forecaster
from .models.sequence_tagger import SequenceTagger, TaggerConfig
from .models.language_model_training import evaluate_text, train_language_model
from .networks import GRU, LSTM, RNN, RecurrentNetwork
from .train import Trainer, TrainConfig

__version__ = "0.1.0"

__all__ = [
    "RNN", "GRU", "LSTM", "RecurrentNetwork",
    "RNNCell", "GRUCell", "LSTMCell", "Cell",
    "Recurrent", "Bidirectional", "Stacked", "Dense", "Embedding", "Dropout",
    "LanguageModel", "LanguageModelConfig", "train_language_model", "evaluate_text", "Vocabulary",
    "SequenceClassifier", "Forecaster",
    "SequenceTagger", "TaggerConfig",
    "Trainer", "TrainConfig", "load",
    "gradcheck", "interop", "losses", "optim",
]
