"""What each ``rnnkit`` command does: read, call the library, print. No maths here.

The four ``train-*`` commands are one procedure (:func:`run_training`) over a :class:`Training`
that names the estimator and how its data files are read; everything else (checking paths before
work starts, mapping flags to hyperparameters, fitting, saving, reporting) is written once.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

from ..estimator import LOGGER
from ..models import load
from .flags import estimator_params
from .paths import UsageError, check_inputs, check_output

DEMO_TEXT = "shakespeare_excerpt.txt"


@dataclass(frozen=True)
class Training:
    """A ``train-*`` command: its estimator, how it fits on the data files, what it reports."""

    estimator: Callable[[], type]
    fit: Callable[[object, argparse.Namespace, list[str], str | None], object]   # model, args, paths, validation
    report: Callable[[object, argparse.Namespace], None]                        # after saving: scores, plots


def run_training(args: argparse.Namespace, training: Training) -> int:
    """Check paths, build the estimator from the flags, fit on the files, save, report."""
    paths = args.data if isinstance(args.data, list) else [args.data]
    extra = [p for p in (args.validation, args.test) if p is not None]
    check_inputs(paths + extra)
    check_output(args.out, inputs=paths + extra, resume=args.resume)
    estimator_class = training.estimator()
    model = estimator_class(**estimator_params(args, estimator_class), out=args.out, resume=args.resume,
                            verbose=not args.quiet)
    training.fit(model, args, paths, args.validation)
    model.save(args.out)
    training.report(model, args)
    LOGGER.info(f"saved {args.out}")
    return 0


def print_metrics(metrics: dict, as_json: bool = False) -> None:
    """One line ``name value  name value`` (floats to 4 significant digits), or strict JSON
    (a non-finite number becomes null: JSON has no NaN)."""
    if as_json:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in metrics.items()}
        print(json.dumps(clean, allow_nan=False))
        return
    print("  ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()
                    if not isinstance(v, (list, dict))))


def _kind_error(path: str, model, wanted: str, command: str) -> UsageError:
    return UsageError(f"{path}: a {model.kind} model cannot {command}; that needs a {wanted} model")


# -- using a model ---------------------------------------------------------------------------
def cmd_sample(args) -> int:
    check_inputs([args.model])
    model = load(args.model)
    if not hasattr(model, "sample"):
        raise _kind_error(args.model, model, "language", "sample")
    print(model.sample(length=args.length, prime=args.prime, temperature=args.temperature, top_k=args.top_k,
                       seed=args.seed, stop_at_eos=args.stop_at_eos))
    return 0


def cmd_evaluate(args) -> int:
    check_inputs([args.model, args.data])
    print_metrics(load(args.model).evaluate_file(args.data), args.json)
    return 0


def cmd_predict(args) -> int:
    check_inputs([args.model, args.data])
    model = load(args.model)
    if not hasattr(model, "predict_file"):
        raise _kind_error(args.model, model, "classifier or forecaster", "predict from data files")
    for line in model.predict_file(args.data):
        print(line)
    return 0


def cmd_tag(args) -> int:
    from ..io import atomic_write_text
    check_inputs([args.model, args.data])
    if args.out is not None:
        check_output(args.out, inputs=[args.model, args.data])
    model = load(args.model)
    if not hasattr(model, "tag_file"):
        raise _kind_error(args.model, model, "tagger (train-tagger)", "tag files")
    text = model.tag_file(args.data)
    if args.out is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(args.out, text)
        LOGGER.info(f"wrote {args.out}")
    return 0


def cmd_demo(args) -> int:
    from ..models.language_model import train_language_model
    check_output(args.out, inputs=[])
    text = resources.files("rnnkit").joinpath("datasets", DEMO_TEXT).read_text(encoding="utf-8")

    def show(model, row):
        print(f"--- sample after {row['minutes']:.1f} min (validation {row['val_loss']:.3f} nats/char) ---")
        print(model.sample(length=200, prime="\n", temperature=0.8, seed=args.seed).strip("\n"))
        print("---")

    print(f"training a character-level LSTM on {len(text):,} characters of Shakespeare for "
          f"{args.max_minutes:g} minutes")
    train_language_model(text, args.out, hidden_size=256, batch_size=32, eval_every=50,
                         max_minutes=args.max_minutes, patience=100, seed=args.seed, on_evaluate=show,
                         verbose=not args.quiet)
    print(f"saved {args.out}; try:  rnnkit sample {args.out} --prime 'ROMEO:'")
    return 0


__all__ = ["Training", "cmd_demo", "cmd_evaluate", "cmd_predict", "cmd_sample", "cmd_tag", "print_metrics",
           "run_training"]
