"""The ``rnnkit`` command: parses, calls the library, prints. No maths here."""
from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import resources

from .cells import cell_names
from .data.files import read_text
from .io import ModelFileError

DEMO_TEXT = "shakespeare_excerpt.txt"


def add_lm_training_flags(p: argparse.ArgumentParser, hidden_size: int = 512, batch_size: int = 64) -> None:
    p.add_argument("--level", choices=["char", "word"], default="char", help="model characters or words (default: char)")
    p.add_argument("--cell", choices=cell_names(), default="lstm", help="recurrent cell (default: lstm)")
    p.add_argument("--hidden-size", type=int, default=hidden_size, help=f"units per layer (default: {hidden_size})")
    p.add_argument("--num-layers", type=int, default=2, help="stacked recurrent layers (default: 2)")
    p.add_argument("--embedding-dim", type=int, default=64, help="token embedding size (default: 64)")
    p.add_argument("--dropout", type=float, default=0.25, help="dropout between layers and before the softmax (default: 0.25)")
    p.add_argument("--seq-len", type=int, default=100, help="truncated-BPTT window in tokens (default: 100)")
    p.add_argument("--batch-size", type=int, default=batch_size, help=f"parallel text streams (default: {batch_size})")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default: 2e-3)")
    p.add_argument("--clip", type=float, default=5.0, help="max global gradient norm, 0 for none (default: 5)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="last part of the text held out (default: 0.1)")
    p.add_argument("--min-count", type=int, default=1, help="word level: rarer words become <UNK> (default: 1)")
    p.add_argument("--max-vocab", type=int, default=None, help="word level: largest vocabulary (default: no limit)")
    p.add_argument("--eval-every", type=int, default=None, help="steps between evaluations (default: each epoch, at most 200)")
    p.add_argument("--patience", type=int, default=3, help="evaluations without improvement before stopping (default: 3)")
    p.add_argument("--max-minutes", type=float, default=None, help="training time budget (default: none)")
    p.add_argument("--max-steps", type=int, default=None, help="training step budget (default: none)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_classifier_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=["ts", "text", "audio"], default=None,
                   help="data format (default: a directory is audio, *.ts is ts, anything else text)")
    p.add_argument("--cell", choices=cell_names(), default="lstm", help="recurrent cell (default: lstm)")
    p.add_argument("--hidden-size", type=int, default=64, help="units per layer and direction (default: 64)")
    p.add_argument("--num-layers", type=int, default=1, help="stacked recurrent layers (default: 1)")
    p.add_argument("--unidirectional", action="store_true", help="read sequences forward only")
    p.add_argument("--pooling", default="mean+max", help="last, mean, max, attention or a '+' mix (default: mean+max)")
    p.add_argument("--dropout", type=float, default=0.2, help="dropout between layers and before the output (default: 0.2)")
    p.add_argument("--frame", default="auto",
                   help="steps per input frame, or auto: ~32 short and 5 wide frames tried, the better kept (default: auto)")
    p.add_argument("--normalize", choices=["channel", "series", "none"], default="channel",
                   help="z-score each channel over the training data, each series alone, or not (default: channel)")
    p.add_argument("--augment", default=None,
                   help="training-time variants of feature series: crop, scale, jitter or a '+' mix (default: none)")
    p.add_argument("--position", action="store_true", help="add each step's relative position as an input channel")
    p.add_argument("--class-weight", choices=["none", "balanced"], default="none", help="weight rare classes up (default: none)")
    p.add_argument("--n-models", type=int, default=3, help="networks in the ensemble (default: 3)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default: 3e-3)")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per step (default: 32)")
    p.add_argument("--max-epochs", type=int, default=300, help="epochs per network at most (default: 300)")
    p.add_argument("--patience", type=int, default=20, help="epochs without validation improvement before stopping (default: 20)")
    p.add_argument("--val-fraction", type=float, default=0.2, help="training data held out per network (default: 0.2)")
    p.add_argument("--max-minutes", type=float, default=None, help="training time budget for all networks (default: none)")
    p.add_argument("--features", choices=["mfcc", "logmel"], default="mfcc", help="audio: frame features (default: mfcc)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def add_forecaster_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--columns", default=None, help="comma-separated channels to use (default: every numeric column)")
    p.add_argument("--time-column", default="auto", help="column of time stamps, or 'none' (default: auto, by name or dates)")
    p.add_argument("--sort-by-time", action="store_true", help="order rows by the time column, not file order")
    p.add_argument("--missing", choices=["error", "interpolate", "ffill"], default="error",
                   help="what to do with empty or NA cells (default: error, naming file and line)")
    p.add_argument("--lookback", type=int, default=None, help="window length (default: twice the dominant period)")
    p.add_argument("--horizon", type=int, default=1, help="steps to forecast (default: 1)")
    p.add_argument("--strategy", choices=["direct", "recursive"], default="direct",
                   help="emit all horizon steps at once, or one step fed back (default: direct)")
    p.add_argument("--cell", choices=cell_names(), default="lstm", help="recurrent cell (default: lstm)")
    p.add_argument("--hidden-size", type=int, default=32, help="units per layer (default: 32)")
    p.add_argument("--num-layers", type=int, default=1, help="stacked recurrent layers (default: 1)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout between layers and before the head (default: 0)")
    p.add_argument("--no-linear", action="store_true", help="drop the linear autoregressive path")
    p.add_argument("--scaling", choices=["standard", "minmax", "none"], default="standard",
                   help="per-channel input scaling, stored with the model (default: standard)")
    p.add_argument("--season", type=int, default=1, help="seasonal period of MASE's naive forecast (default: 1)")
    p.add_argument("--n-models", type=int, default=5, help="networks averaged (default: 5)")
    p.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default: 3e-3)")
    p.add_argument("--batch-size", type=int, default=32, help="windows per step (default: 32)")
    p.add_argument("--max-epochs", type=int, default=200, help="epoch budget (default: 200)")
    p.add_argument("--patience", type=int, default=20, help="epochs without validation improvement before stopping (default: 20)")
    p.add_argument("--val-fraction", type=float, default=0.2, help="tail of each series held out (default: 0.2)")
    p.add_argument("--max-minutes", type=float, default=None, help="training time budget (default: none)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--resume", action="store_true", help="continue from OUT.ckpt")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rnnkit", description="Recurrent neural networks on NumPy.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train-lm", help="train a language model on a text file")
    p.add_argument("text", help="a UTF-8 text file")
    p.add_argument("--out", required=True, help="model file to write (safetensors)")
    add_lm_training_flags(p)
    p.add_argument("--resume", action="store_true", help="continue from OUT.ckpt")

    p = sub.add_parser("sample", help="generate text from a language model")
    p.add_argument("model", help="a model file from train-lm")
    p.add_argument("--length", type=int, default=500, help="tokens to generate (default: 500)")
    p.add_argument("--temperature", type=float, default=0.8, help="softmax temperature; 0 is greedy (default: 0.8)")
    p.add_argument("--top-k", type=int, default=None, help="draw only from the k most likely tokens (default: all)")
    p.add_argument("--prime", default="", help="text to start from (default: the start of a line)")
    p.add_argument("--stop-at-eos", action="store_true", help="stop at the first end of line/sentence")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: fresh)")

    p = sub.add_parser("evaluate", help="score any rnnkit model on a data file (a text for language models)")
    p.add_argument("model", help="a model file")
    p.add_argument("data", help="data in the format the model was trained on")
    p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("train-classifier", help="train a sequence classifier on a labelled data file")
    p.add_argument("data", help="a UCR/UEA .ts file, 'sentence<TAB>label' lines, or a directory of WAV files")
    p.add_argument("--test", default=None, help="labelled data to report accuracy, macro-F1 and a confusion matrix on")
    p.add_argument("--out", required=True, help="model file to write (safetensors)")
    add_classifier_flags(p)

    p = sub.add_parser("train-forecaster", help="train a forecaster on CSV time series (one series per file)")
    p.add_argument("data", nargs="+", help="CSV files: a row per time step, a column per channel")
    p.add_argument("--test", default=None, help="a CSV series to report RMSE, MAE and MASE on (default: the held-out tail)")
    p.add_argument("--out", required=True, help="model file to write (safetensors)")
    add_forecaster_flags(p)

    p = sub.add_parser("predict", help="print a model's prediction for each case of a data file")
    p.add_argument("model", help="a model file")
    p.add_argument("data", help="data in the format the model was trained on (labels not needed)")

    p = sub.add_parser("train-tagger", help="train a sequence tagger (POS, NER) on a CoNLL-U or CoNLL file")
    p.add_argument("train", help="training data: CoNLL-U (.conllu) or CoNLL columns (token ... tag)")
    p.add_argument("--dev", default=None, help="development data for early stopping (default: 10%% of TRAIN held out)")
    p.add_argument("--out", required=True, help="model file to write (safetensors)")
    add_tagger_flags(p)

    p = sub.add_parser("tag", help="write a CoNLL-U or CoNLL file back with a tagger's predicted tags")
    p.add_argument("model", help="a model file from train-tagger")
    p.add_argument("data", help="a CoNLL-U file, or a CoNLL file (a token per line, tag column optional)")
    p.add_argument("--output", default=None, help="file to write (default: standard output)")

    p = sub.add_parser("demo", help="train on a bundled Shakespeare excerpt for about two minutes")
    p.add_argument("--out", default="demo-model.safetensors", help="model file to write (default: demo-model.safetensors)")
    p.add_argument("--max-minutes", type=float, default=2.0, help="training time (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    return parser


def train_lm_options(args) -> dict:
    return dict(level=args.level, cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers,
                embedding_dim=args.embedding_dim, dropout=args.dropout, seq_len=args.seq_len,
                batch_size=args.batch_size, lr=args.lr, clip=args.clip, val_fraction=args.val_fraction,
                min_count=args.min_count, max_vocab=args.max_vocab, eval_every=args.eval_every,
                patience=args.patience, max_minutes=args.max_minutes, max_steps=args.max_steps, seed=args.seed,
                progress=not args.no_progress)


def cmd_train_lm(args) -> int:
    from .models.language_model import train_language_model
    train_language_model(read_text(args.text), args.out, resume=args.resume, **train_lm_options(args))
    print(f"saved {args.out}")
    return 0


def cmd_sample(args) -> int:
    from .models import load
    model = load(args.model)
    print(model.sample(length=args.length, prime=args.prime, temperature=args.temperature, top_k=args.top_k,
                       seed=args.seed, stop_at_eos=args.stop_at_eos))
    return 0


def cmd_evaluate(args) -> int:
    from .models import load
    metrics = load(args.model).evaluate_file(args.data)
    if args.json:
        print(json.dumps(metrics))
    else:
        print("  ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))
    return 0


def cmd_demo(args) -> int:
    from .models.language_model import train_language_model
    text = resources.files("rnnkit").joinpath("datasets", DEMO_TEXT).read_text(encoding="utf-8")

    def show(model, row):
        print(f"--- sample after {row['minutes']:.1f} min (validation {row['val_loss']:.3f} nats/char) ---")
        print(model.sample(length=200, prime="\n", temperature=0.8, seed=args.seed).strip("\n"))
        print("---")

    print(f"training a character-level LSTM on {len(text):,} characters of Shakespeare for "
          f"{args.max_minutes:g} minutes")
    train_language_model(text, args.out, hidden_size=256, batch_size=32, eval_every=50,
                         max_minutes=args.max_minutes, patience=100, seed=args.seed, on_evaluate=show)
    print(f"saved {args.out}; try:  rnnkit sample {args.out} --prime 'ROMEO:'")
    return 0


def cmd_train_classifier(args) -> int:
    from .models.classifier import train_classifier_file
    frame = args.frame if args.frame == "auto" else _positive_int("--frame", args.frame)
    options = {"features": args.features} if (args.format or "") == "audio" or os.path.isdir(args.data) else None
    model, metrics = train_classifier_file(
        args.data, args.out, test=args.test, data_format=args.format, data_options=options,
        cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers,
        bidirectional=not args.unidirectional, pooling=args.pooling, dropout=args.dropout, frame=frame,
        normalize=None if args.normalize == "none" else args.normalize, augment=args.augment, position=args.position,
        class_weight=None if args.class_weight == "none" else args.class_weight, n_models=args.n_models,
        lr=args.lr, batch_size=args.batch_size, max_epochs=args.max_epochs, patience=args.patience,
        val_fraction=args.val_fraction, max_minutes=args.max_minutes, seed=args.seed, verbose=not args.no_progress)
    if metrics is not None:
        print(f"test accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  ({metrics['n']} cases)")
    print(f"saved {args.out}")
    return 0


def cmd_predict(args) -> int:
    from .models import load
    model = load(args.model)
    if not hasattr(model, "predict_file"):
        raise ValueError(f"{args.model}: a {model.kind} model does not predict from data files")
    for label in model.predict_file(args.data):
        print(label)
    return 0


def cmd_train_forecaster(args) -> int:
    from .models.forecaster import train_forecaster_files
    time_column = None if args.time_column.lower() == "none" else args.time_column
    csv_options = dict(columns=args.columns.split(",") if args.columns else None, time_column=time_column,
                       sort_by_time=args.sort_by_time, missing=args.missing)
    train_forecaster_files(
        args.data, args.out, test=args.test, resume=args.resume, csv_options=csv_options,
        lookback=args.lookback, horizon=args.horizon, strategy=args.strategy, cell=args.cell,
        hidden_size=args.hidden_size, num_layers=args.num_layers, dropout=args.dropout, linear=not args.no_linear,
        scaling=args.scaling, season=args.season, n_models=args.n_models, lr=args.lr, batch_size=args.batch_size,
        max_epochs=args.max_epochs, patience=args.patience, val_fraction=args.val_fraction,
        max_minutes=args.max_minutes, seed=args.seed, verbose=not args.no_progress)
    print(f"saved {args.out}")
    return 0


def add_tagger_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--column", choices=["upos", "xpos"], default="upos", help="CoNLL-U tag column (default: upos)")
    p.add_argument("--format", choices=["auto", "conllu", "conll"], default="auto",
                   help="file format (default: auto, by extension and content)")
    p.add_argument("--cell", choices=cell_names(), default="lstm", help="recurrent cell (default: lstm)")
    p.add_argument("--hidden-size", type=int, default=128, help="sentence RNN units per direction (default: 128)")
    p.add_argument("--num-layers", type=int, default=1, help="stacked bidirectional layers (default: 1)")
    p.add_argument("--word-dim", type=int, default=100, help="word embedding size (default: 100)")
    p.add_argument("--char-hidden-size", type=int, default=50,
                   help="character BiLSTM units per direction, 0 for none (default: 50)")
    p.add_argument("--dropout", type=float, default=0.5, help="dropout on features and RNN outputs (default: 0.5)")
    p.add_argument("--word-vectors", default=None, help="word2vec/GloVe text file to initialise word embeddings")
    p.add_argument("--batch-size", type=int, default=32, help="sentences per batch (default: 32)")
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default: 2e-3)")
    p.add_argument("--max-epochs", type=int, default=None, help="epoch budget (default: none)")
    p.add_argument("--max-minutes", type=float, default=None, help="training time budget (default: none)")
    p.add_argument("--patience", type=int, default=3, help="epochs without improvement before stopping (default: 3)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--resume", action="store_true", help="continue from OUT.ckpt")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_train_tagger(args) -> int:
    from .models.tagger import train_tagger_files
    config = dict(cell=args.cell, hidden_size=args.hidden_size, num_layers=args.num_layers, word_dim=args.word_dim,
                  char_hidden_size=args.char_hidden_size, dropout=args.dropout)
    tagger = train_tagger_files(args.train, args.dev, args.out, column=args.column, format=args.format,
                                config=config, word_vectors=args.word_vectors, batch_size=args.batch_size,
                                lr=args.lr, max_epochs=args.max_epochs, max_minutes=args.max_minutes,
                                patience=args.patience, seed=args.seed, resume=args.resume,
                                progress=not args.no_progress)
    best = max(tagger.history, key=lambda row: row[f"val_{'f1' if 'val_f1' in row else 'accuracy'}"])
    shown = "  ".join(f"{k[4:]} {v:.4f}" for k, v in best.items() if k in ("val_accuracy", "val_f1"))
    print(f"best on {'--dev' if args.dev else 'the held-out part'}: {shown}")
    print(f"saved {args.out}")
    return 0


def cmd_tag(args) -> int:
    from .io import atomic_write_text
    from .models import load
    model = load(args.model)
    if not hasattr(model, "tag_file"):
        raise ValueError(f"{args.model}: a {model.kind} model does not tag files; use a model from train-tagger")
    text = model.tag_file(args.data)
    if args.output is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(args.output, text)
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def _positive_int(flag: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{flag} must be 'auto' or a positive integer, got {text!r}")
    return value


COMMANDS = {"train-lm": cmd_train_lm, "sample": cmd_sample, "evaluate": cmd_evaluate, "demo": cmd_demo,
            "train-forecaster": cmd_train_forecaster,
            "train-classifier": cmd_train_classifier, "predict": cmd_predict,
            "train-tagger": cmd_train_tagger, "tag": cmd_tag}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ValueError, ModelFileError, FileNotFoundError, FloatingPointError, ImportError) as e:
        print(f"rnnkit {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
