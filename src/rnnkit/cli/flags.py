"""Every flag of the ``rnnkit`` command, declared once.

A ``train-*`` command gets one flag per hyperparameter of its estimator, named after it
(``hidden_size`` -> ``--hidden-size``), with the estimator's own default: the flag table below
says only how to read a value from the command line and what to print in ``--help``. So a flag
has one name, one meaning and one default source in every command, and a command passes its
flags to the estimator by name (:func:`estimator_params`) instead of by hand.
"""
from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..cells import cell_names


def _none_or(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def read(text: str):
        return None if text.lower() == "none" else parse(text)
    read.__name__ = getattr(parse, "__name__", "value")
    return read


def _int_or_auto(text: str) -> int | str:
    return "auto" if text == "auto" else int(text)


def _bool_or_auto(text: str) -> bool | str:
    lowered = text.lower()
    if lowered in ("auto", "true", "false", "yes", "no", "1", "0"):
        return "auto" if lowered == "auto" else lowered in ("true", "yes", "1")
    raise ValueError(text)


_bool_or_auto.__name__ = "true/false/auto"
_int_or_auto.__name__ = "int or auto"


@dataclass(frozen=True)
class Flag:
    """How to read one hyperparameter from the command line."""

    help: str
    type: Callable[[str], Any] | None = None      # None: bool, as --name / --no-name
    choices: Callable[[], tuple] | tuple | None = None
    metavar: str | None = None
    extra: dict = field(default_factory=dict)


HYPERPARAMETERS: dict[str, Flag] = {
    # the network
    "cell": Flag("recurrent cell", str, cell_names),
    "hidden_size": Flag("units per layer (and direction)", int),
    "num_layers": Flag("stacked recurrent layers", int),
    "bidirectional": Flag("read sequences in both directions"),
    "dropout": Flag("dropout between layers and before the output", float),
    "embedding_dim": Flag("token embedding size", int),
    "pooling": Flag("last, mean, max, attention or a '+' mix", str),
    # what the model reads
    "level": Flag("model characters or words", str, ("char", "word")),
    "seq_len": Flag("truncated-BPTT window in tokens", int),
    "min_count": Flag("rarer words become <UNK>", int),
    "max_vocab": Flag("largest vocabulary (none: no limit)", _none_or(int)),
    "lowercase": Flag("lowercase words before looking them up"),
    "normalize": Flag("z-score each channel over the training data, each series alone, or not",
                      _none_or(str), ("channel", "series", None), "{channel,series,none}"),
    "derivatives": Flag("add each channel's first difference as a channel"),
    "frame": Flag("steps per input frame, or auto", _int_or_auto),
    "frame_stride": Flag("steps between frames (none: the frame length)", _none_or(int)),
    "augment": Flag("training-time variants of feature series: crop, scale, jitter or a '+' mix (none: off)",
                    _none_or(str)),
    "position": Flag("add each step's relative position as a channel (true, false or auto)", _bool_or_auto),
    "class_weight": Flag("weight rare classes up", _none_or(str), ("balanced", None), "{balanced,none}"),
    "lookback": Flag("window length (none: twice the dominant period)", _none_or(int)),
    "horizon": Flag("steps to forecast", int),
    "strategy": Flag("emit every horizon step at once, or one step fed back", str, ("direct", "recursive")),
    "linear": Flag("add a linear autoregressive path"),
    "subtract_last": Flag("read windows relative to their last value"),
    "scaling": Flag("per-channel scaling, stored with the model", str, ("standard", "minmax", "none")),
    "season": Flag("seasonal period of MASE's naive forecast", int),
    "word_dim": Flag("word embedding size", int),
    "char_dim": Flag("character embedding size", int),
    "char_hidden_size": Flag("character RNN units per direction (0: no character features)", int),
    "word_dropout": Flag("alpha: a word seen n times is <UNK> with probability alpha / (alpha + n)", float),
    "max_word_length": Flag("longer words keep their first and last half of this many characters", int),
    "column": Flag("CoNLL-U tag column to learn", str, ("upos", "xpos")),
    "word_vectors": Flag("word2vec/GloVe text file to initialise word embeddings (none: random)", _none_or(str)),
    # training
    "n_models": Flag("networks in the ensemble", int),
    "lr": Flag("learning rate", float),
    "lr_decay": Flag("learning-rate factor after an evaluation without improvement", float),
    "weight_decay": Flag("decoupled weight decay", float),
    "clip": Flag("max global gradient norm (0: none)", float),
    "batch_size": Flag("sequences per step (auto: chosen from the data)", _int_or_auto),
    "val_fraction": Flag("training data held out for validation when --validation is not given", float),
    "eval_every": Flag("steps between evaluations (none: once an epoch)", _none_or(int)),
    "patience": Flag("evaluations without improvement before stopping", int),
    "average": Flag("decay of the moving average of the weights that is evaluated and kept (0: none)", float),
    "max_epochs": Flag("epoch budget (none: no limit)", _none_or(int)),
    "max_steps": Flag("step budget (none: no limit)", _none_or(int)),
    "max_minutes": Flag("training time budget in minutes (none: no limit)", _none_or(float)),
    "clock": Flag("what --max-minutes counts: wall-clock or this process's CPU time", str, ("wall", "cpu")),
    "seed": Flag("random seed", int),
}
"""The estimators' hyperparameters the command line sets, by parameter name."""

NOT_FLAGS = {"out", "resume", "verbose"}
"""Hyperparameters set by the shared training flags instead (``--out``, ``--resume``, ``--quiet``)."""


def flag_name(param: str) -> str:
    return "--" + param.replace("_", "-")


def _shown(value) -> str:
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def add_estimator_flags(parser: argparse.ArgumentParser, estimator_class: type) -> None:
    """One flag per hyperparameter of ``estimator_class``, its default taken from the class
    (``argparse.SUPPRESS``: a flag not given leaves the estimator's default in place)."""
    group = parser.add_argument_group(f"{estimator_class.__name__} hyperparameters")
    for name, p in inspect.signature(estimator_class.__init__).parameters.items():
        if name == "self" or name in NOT_FLAGS:
            continue
        if name not in HYPERPARAMETERS:
            raise KeyError(f"rnnkit.cli: {estimator_class.__name__}({name}=...) has no entry in "
                           "cli.flags.HYPERPARAMETERS; add one so the command line can set it")
        flag = HYPERPARAMETERS[name]
        default = p.default
        text = f"{flag.help} (default: {_shown(default)})"
        if flag.type is None:
            group.add_argument(flag_name(name), dest=name, action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=text)
            continue
        choices = flag.choices() if callable(flag.choices) else flag.choices
        group.add_argument(flag_name(name), dest=name, type=flag.type, choices=choices,
                           metavar=flag.metavar or (None if choices else name.upper()),
                           default=argparse.SUPPRESS, help=text.replace("%", "%%"))


def estimator_params(args: argparse.Namespace, estimator_class: type) -> dict[str, Any]:
    """The hyperparameters given on the command line, by name (the rest keep their defaults)."""
    names = [n for n in inspect.signature(estimator_class.__init__).parameters if n != "self"]
    return {name: getattr(args, name) for name in names if hasattr(args, name) and name not in NOT_FLAGS}


def training_flags() -> argparse.ArgumentParser:
    """The flags every ``train-*`` command has, beside its estimator's hyperparameters."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("training run")
    g.add_argument("--out", required=True, metavar="MODEL",
                   help="model file to write (safetensors); MODEL.ckpt, MODEL.history.csv and MODEL.loss.png "
                        "go beside it")
    g.add_argument("--resume", action="store_true", help="continue the run that MODEL.ckpt holds")
    g.add_argument("--validation", default=None, metavar="FILE",
                   help="data to early-stop and select the model on (default: a part of the training data)")
    g.add_argument("--test", default=None, metavar="FILE", help="data to report the trained model's scores on")
    return p


def output_flags() -> argparse.ArgumentParser:
    """``--quiet``, for every command. Messages and the progress bar go to stderr, the bar only
    when stderr is a terminal; results go to stdout."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--quiet", "-q", action="store_true", help="print only results and errors (no messages, no progress bar)")
    return p


__all__ = ["Flag", "HYPERPARAMETERS", "NOT_FLAGS", "add_estimator_flags", "estimator_params", "flag_name",
           "output_flags", "training_flags"]
