"""The ``rnnkit`` command: parses, calls the library, prints. No maths here.

``flags.py`` declares every flag once, ``paths.py`` checks paths before work starts,
``commands.py`` runs the commands, ``trainings.py`` says what each ``train-*`` command trains.

Exit codes: 0 done, 1 a failure while running (a corrupt file, training that diverged), 2 a
usage error (a bad flag, a missing input, an output that cannot be written), 130 interrupted.
Results go to stdout; messages and the progress bar (only on a terminal) to stderr.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from .. import __version__
from ..io import ModelFileError
from .commands import cmd_demo, cmd_evaluate, cmd_predict, cmd_sample, cmd_tag, run_training
from .flags import add_estimator_flags, output_flags, training_flags
from .paths import UsageError
from .trainings import TRAININGS, add_data_flags


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks on NumPy.")
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    quiet, train = output_flags(), training_flags()

    for command, (training, text, data_help, nargs) in TRAININGS.items():
        p = sub.add_parser(command, help=text, description=text, parents=[train, quiet])
        p.add_argument("data", nargs=nargs, help=data_help)
        add_data_flags(command, p)
        add_estimator_flags(p, training.estimator())
        p.set_defaults(run=lambda args, training=training: run_training(args, training))

    p = sub.add_parser("sample", help="generate text from a language model", parents=[quiet])
    p.add_argument("model", help="a model file from train-lm")
    p.add_argument("--length", type=int, default=500, help="tokens to generate (default: 500)")
    p.add_argument("--temperature", type=float, default=0.8, help="softmax temperature; 0 is greedy (default: 0.8)")
    p.add_argument("--top-k", type=int, default=None, help="draw only from the k most likely tokens (default: all)")
    p.add_argument("--prime", default="", help="text to start from (default: the start of a line)")
    p.add_argument("--stop-at-eos", action="store_true", help="stop at the first end of line/sentence")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: fresh)")
    p.set_defaults(run=cmd_sample)

    p = sub.add_parser("evaluate", help="score any rnnkit model on a data file (a text for language models)",
                       parents=[quiet])
    p.add_argument("model", help="a model file")
    p.add_argument("data", help="data in the format the model was trained on")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("predict", help="print a model's prediction for each case of a data file", parents=[quiet])
    p.add_argument("model", help="a model file from train-classifier or train-forecaster")
    p.add_argument("data", help="data in the format the model was trained on (labels not needed)")
    p.set_defaults(run=cmd_predict)

    p = sub.add_parser("tag", help="write a CoNLL-U or CoNLL file back with a tagger's predicted tags",
                       parents=[quiet])
    p.add_argument("model", help="a model file from train-tagger")
    p.add_argument("data", help="a CoNLL-U file, or a CoNLL file (a token per line, tag column optional)")
    p.add_argument("--out", default=None, help="file to write (default: standard output)")
    p.set_defaults(run=cmd_tag)

    p = sub.add_parser("demo", help="train on a bundled Shakespeare excerpt for about two minutes", parents=[quiet])
    p.add_argument("--out", default="demo-model.safetensors", help="model file to write (default: demo-model.safetensors)")
    p.add_argument("--max-minutes", type=float, default=2.0, help="training time (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.set_defaults(run=cmd_demo)
    return parser


def _configure_logging(quiet: bool) -> logging.Handler:
    """rnnkit's messages to stderr, plain, unless --quiet."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("rnnkit")
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    return handler


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)      # a usage error exits here with 2
    handler = _configure_logging(args.quiet)
    try:
        return args.run(args)
    except UsageError as e:
        print(f"rnnkit {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, ModelFileError, OSError, FloatingPointError, ImportError) as e:
        if isinstance(e, BrokenPipeError):
            return _closed_pipe()
        print(f"rnnkit {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"rnnkit {args.command}: interrupted", file=sys.stderr)
        return 130
    finally:
        logging.getLogger("rnnkit").removeHandler(handler)


def _closed_pipe() -> int:
    """``rnnkit predict M DATA | head``: the reader left; end quietly, as Python's docs advise
    (stdout points at /dev/null so the interpreter's final flush does not fail again)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):   # a stdout that is not a file (tests, embedding)
        pass
    return 0


__all__ = ["build_parser", "main"]
