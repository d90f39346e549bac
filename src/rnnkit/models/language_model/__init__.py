"""The language model: next-token prediction over characters or words, sampling, evaluation.

``network.py`` the model (embedding, recurrent stack, softmax head; save and load), ``inputs.py``
the text split and vocabulary, ``task.py`` its training task and loss over a text for the shared
Trainer, ``estimator.py`` training end to end.
"""
from .estimator import train_language_model
from .network import LanguageModel, LanguageModelConfig
from .task import evaluate_text

__all__ = ["LanguageModel", "LanguageModelConfig", "evaluate_text", "train_language_model"]
