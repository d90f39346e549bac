"""The four ``train-*`` commands: which estimator each trains and how it reads its data files.

Each is a :class:`~rnnkit.cli.commands.Training`; :func:`~rnnkit.cli.commands.run_training` does
the rest. The file handling itself lives with each model (``models/<task>/files.py``).
"""
from __future__ import annotations

import argparse
import os

from .commands import Training, print_metrics


def _test_scores(prefix_metrics: dict) -> None:
    print_metrics({"test_" + k: v for k, v in prefix_metrics.items() if isinstance(v, (int, float))})


# -- language model --------------------------------------------------------------------------
def _lm_class():
    from ..models.language_model import LanguageModel
    return LanguageModel


def _lm_fit(model, args, paths, validation):
    from ..data.files import read_text
    return model.fit(read_text(paths[0]), None if validation is None else read_text(validation))


def _lm_report(model, args):
    if args.test is not None:
        _test_scores(model.evaluate_file(args.test))


LANGUAGE_MODEL = Training(_lm_class, _lm_fit, _lm_report)


# -- classifier ------------------------------------------------------------------------------
def _classifier_class():
    from ..models.classifier import SequenceClassifier
    return SequenceClassifier


def _classifier_fit(model, args, paths, validation):
    from ..models.classifier.files import fit_file
    options = {"features": args.features} if args.format == "audio" or os.path.isdir(paths[0]) else None
    return fit_file(model, paths[0], args.format, options, validation)


def _classifier_report(model, args):
    from ..models.classifier.files import write_reports
    metrics = None if args.test is None else model.evaluate_file(args.test)
    write_reports(model, args.out, metrics, args.test)
    if metrics is not None:
        _test_scores({k: metrics[k] for k in ("accuracy", "macro_f1", "n")})


CLASSIFIER = Training(_classifier_class, _classifier_fit, _classifier_report)


# -- forecaster ------------------------------------------------------------------------------
def _forecaster_class():
    from ..models.forecaster import Forecaster
    return Forecaster


def csv_options(args) -> dict:
    time_column = None if args.time_column.lower() == "none" else args.time_column
    return dict(columns=args.columns.split(",") if args.columns else None, time_column=time_column,
                sort_by_time=args.sort_by_time, missing=args.missing)


def _forecaster_fit(model, args, paths, validation):
    from ..models.forecaster.files import fit_csv
    return fit_csv(model, paths, validation, **csv_options(args))


def _forecaster_report(model, args):
    from ..models.forecaster.files import write_forecast_report
    _test_scores(write_forecast_report(model, args.out, args.test if args.test is not None else args.data[-1],
                                       held_out_tail=args.test is None))


FORECASTER = Training(_forecaster_class, _forecaster_fit, _forecaster_report)


# -- tagger ----------------------------------------------------------------------------------
def _tagger_class():
    from ..models.tagger import SequenceTagger
    return SequenceTagger


def _tagger_fit(model, args, paths, validation):
    from ..models.tagger.files import read_tagger_files
    (X, y), dev = read_tagger_files(paths[0], validation, column=model.column, format=args.format)
    return model.fit(X, y, dev)


def _tagger_report(model, args):
    if args.test is not None:
        _test_scores(model.evaluate_file(args.test))


TAGGER = Training(_tagger_class, _tagger_fit, _tagger_report)


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
