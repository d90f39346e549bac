"""Task models, one subpackage each, and :func:`load` for any model file rnnkit writes.

Every subpackage has the same modules in the same roles: ``estimator.py`` (the public class:
fit, predict, score, save), ``network.py`` (forward and backward over layers), ``inputs.py``
(user data to arrays and batches), ``task.py`` (the training task the shared
:class:`~rnnkit.train.Trainer` runs) and ``files.py`` (data files to training and evaluation).
"""
from __future__ import annotations

import os

from ..io import ModelFileError, load_model_file
from .classifier import SequenceClassifier
from .forecaster import Forecaster
from .language_model import LanguageModel, LanguageModelConfig, LanguageModelNetwork
from .tagger import SequenceTagger, TaggerConfig

MODEL_KINDS = {LanguageModel.kind: LanguageModel, Forecaster.kind: Forecaster, SequenceClassifier.kind: SequenceClassifier,
               SequenceTagger.kind: SequenceTagger}


def load(path: str | os.PathLike):
    """The model saved at ``path`` (any kind: language model, ...), read without pickle.

    Raises:
        ModelFileError: the file is missing, truncated, corrupt, or not an rnnkit model.
    """
    arrays, metadata = load_model_file(path)
    kind = metadata.get("kind")
    if kind not in MODEL_KINDS:
        hint = " (a training checkpoint: resume it with --resume)" if kind == "checkpoint" else ""
        raise ModelFileError(f"{os.fspath(path)}: not an rnnkit model (kind {kind!r}){hint}; "
                             f"expected one of {sorted(MODEL_KINDS)}")
    return MODEL_KINDS[kind].from_file_contents(arrays, metadata, os.fspath(path))


__all__ = ["load", "Forecaster", "LanguageModel", "LanguageModelConfig", "LanguageModelNetwork", "SequenceClassifier", "SequenceTagger", "TaggerConfig",
           "MODEL_KINDS"]
