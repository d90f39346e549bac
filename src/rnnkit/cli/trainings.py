"""The four ``train-*`` commands: which estimator each trains and how its data files are read.

Each is a :class:`~rnnkit.cli.commands.Training`; :func:`~rnnkit.cli.commands.run_training` does
the rest. The estimators are imported when a command runs, not when the parser is built.
"""
from __future__ import annotations

import argparse
import os

from .commands import Training, print_metrics


# -- language model --------------------------------------------------------------------------
def _lm_class():
    from ..models.language_model import LanguageModel
    return LanguageModel


def _read_text(args, paths):
    from ..data.files import read_text
    return (read_text(paths[0]),)


def _lm_report(model, args, test):
    if test is not None:
        print_metrics({"test_" + k: v for k, v in model.evaluate(test[0]).items()})


LANGUAGE_MODEL = Training(_lm_class, _read_text, lambda model, args: None, _lm_report)


# -- classifier ------------------------------------------------------------------------------
def _classifier_class():
    from ..models.classifier import SequenceClassifier
    return SequenceClassifier


def _classifier_options(args) -> dict | None:
    return {"features": args.features} if args.format == "audio" or os.path.isdir(args.data) else None


def _read_labelled(args, paths):
    from ..models.classifier.files import read_labelled_data
    X, y, _, _ = read_labelled_data(paths[0], args.format, _classifier_options(args))
    return X, y


def _classifier_remember(model, args):
    from ..models.classifier.files import guess_format, read_labelled_data
    fmt = args.format or guess_format(args.data)
    options = _classifier_options(args)
    if fmt == "audio":      # the reader fills in its defaults; the model reads later files alike
        options = read_labelled_data(args.data, fmt, options)[3]
    model.set_file_format(fmt, options or {})


def _classifier_report(model, args, test):
    from ..models.classifier.files import write_reports
    metrics = None if test is None else model.evaluate(*test)
    write_reports(model, args.out, metrics, test_name=None if test is None else os.path.basename(args.test))
    if metrics is not None:
        print_metrics({"test_accuracy": metrics["accuracy"], "test_macro_f1": metrics["macro_f1"], "n": metrics["n"]})


CLASSIFIER = Training(_classifier_class, _read_labelled, _classifier_remember, _classifier_report)


# -- forecaster ------------------------------------------------------------------------------
def _forecaster_class():
    from ..models.forecaster import Forecaster
    return Forecaster


def csv_options(args) -> dict:
    time_column = None if args.time_column.lower() == "none" else args.time_column
    return dict(columns=args.columns.split(",") if args.columns else None, time_column=time_column,
                sort_by_time=args.sort_by_time, missing=args.missing)


def _read_series(args, paths):
    from ..models.forecaster.files import read_series
    return (read_series(paths, csv_options(args)),)


def _forecaster_remember(model, args):
    from ..models.forecaster.files import read_columns
    model.set_file_format(read_columns(args.data, csv_options(args)), csv_options(args))


def _forecaster_report(model, args, test):
    from ..models.forecaster.files import write_reports
    print_metrics({"test_" + k: v for k, v in write_reports(model, args.out, args.test or args.data[-1],
                                                             held_out_tail=args.test is None).items()})


FORECASTER = Training(_forecaster_class, _read_series, _forecaster_remember, _forecaster_report)


# -- tagger ----------------------------------------------------------------------------------
def _tagger_class():
    from ..models.tagger import SequenceTagger
    return SequenceTagger


def _read_tagged(args, paths):
    from ..data.conll import read_tagged_file
    sentences, tags, _ = read_tagged_file(paths[0], args.format, args.column)
    return sentences, tags


def _tagger_remember(model, args):
    from ..data.conll import sniff_format
    fmt = args.format if args.format != "auto" else sniff_format(args.data)
    model.set_file_format(fmt, args.column)


def _tagger_report(model, args, test):
    if test is not None:
        scores = model.score(*test)
        print_metrics({"test_" + k: v for k, v in scores.items() if isinstance(v, float)})


TAGGER = Training(_tagger_class, _read_tagged, _tagger_remember, _tagger_report)


def add_data_flags(command: str, p: argparse.ArgumentParser) -> None:
    """The flags that say how a command's files are read (not hyperparameters)."""
    if command == "train-classifier":
        p.add_argument("--format", choices=["ts", "text", "audio"], default=None,
                       help="data format (default: a directory is audio, *.ts is ts, anything else text)")
        p.add_argument("--features", choices=["mfcc", "logmel"], default="mfcc",
                       help="audio: frame features (default: mfcc)")
    elif command == "train-forecaster":
        p.add_argument("--columns", default=None, help="comma-separated channels to use (default: every numeric column)")
        p.add_argument("--time-column", default="auto",
                       help="column of time stamps, or 'none' (default: auto, by name or dates)")
        p.add_argument("--sort-by-time", action="store_true", help="order rows by the time column, not file order")
        p.add_argument("--missing", choices=["error", "interpolate", "ffill"], default="error",
                       help="what to do with empty or NA cells (default: error, naming file and line)")
    elif command == "train-tagger":
        p.add_argument("--format", choices=["auto", "conllu", "conll"], default="auto",
                       help="file format (default: auto, by extension and content)")
        p.add_argument("--column", choices=["upos", "xpos"], default="upos", help="CoNLL-U tag column (default: upos)")


TRAININGS = {
    "train-lm": (LANGUAGE_MODEL, "train a language model on a text file", "a UTF-8 text file", None),
    "train-classifier": (CLASSIFIER, "train a sequence classifier on a labelled data file",
                         "a UCR/UEA .ts file, 'sentence<TAB>label' lines, or a directory of WAV files", None),
    "train-forecaster": (FORECASTER, "train a forecaster on CSV time series (one series per file)",
                         "CSV files: a row per time step, a column per channel", "+"),
    "train-tagger": (TAGGER, "train a sequence tagger (POS, NER) on a CoNLL-U or CoNLL file",
                     "training data: CoNLL-U (.conllu) or CoNLL columns (token ... tag)", None),
}
"""command -> (training, help, help of the data argument, nargs of the data argument)."""

__all__ = ["TRAININGS", "add_data_flags", "csv_options"]
