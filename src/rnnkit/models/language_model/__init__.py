"""The language model: next-token prediction over characters or words, sampling, evaluation.

``estimator.py`` :class:`LanguageModel` (fit, sample, evaluate, score, save, load) and the
conveniences :func:`train_language_model` and :func:`evaluate_text`; ``network.py`` the network
(embedding, recurrent stack, softmax head); ``inputs.py`` the text split and vocabulary;
``task.py`` its training task and its loss over a token stream for the shared Trainer.
"""
from .estimator import LanguageModel, evaluate_text, train_language_model
from .network import LanguageModelCache, LanguageModelConfig, LanguageModelNetwork

__all__ = ["LanguageModel", "LanguageModelCache", "LanguageModelConfig", "LanguageModelNetwork", "evaluate_text",
           "train_language_model"]
