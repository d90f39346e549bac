"""Labelled data files for :class:`SequenceClassifier`: one reader per format, chosen by the path."""
from __future__ import annotations

import os

FORMATS = ("ts", "text", "audio")


def guess_format(path: str | os.PathLike) -> str:
    """``"audio"`` for a directory (of WAV files), ``"ts"`` for a ``.ts`` file, else ``"text"``
    (``sentence<TAB>label`` lines)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        return "audio"
    return "ts" if path.lower().endswith(".ts") else "text"


def read_labelled_data(path: str | os.PathLike, data_format: str | None = None,
                       options: dict | None = None, require_labels: bool = True) -> tuple[list, list, str, dict]:
    """``(X, y, data_format, options)`` from a labelled data file or folder.

    ``data_format``: ``"ts"`` (UCR/UEA ``.ts``; X: list of ``(T_i, D)`` arrays), ``"text"``
    (``sentence<TAB>label`` lines; X: sentences) or ``"audio"`` (a directory of WAV files, labels
    from the file names; X: feature frames, ``options`` are :func:`rnnkit.data.audio.load_audio_dir`'s
    keyword arguments such as ``features="mfcc"``); None guesses from the path. The returned
    format and options are what a model stores so later files are read the same way. With
    ``require_labels=False`` (prediction) unlabelled ``.ts`` files and text lines without a tab
    are read too, with None for the labels.
    """
    data_format = data_format or guess_format(path)
    options = dict(options or {})
    if data_format == "ts":
        from ..data.ucr import load_ts
        data = load_ts(path)
        if data.y is None and not require_labels:
            return data.X, [None] * len(data.X), data_format, options
        if data.y is None:
            raise ValueError(f"{os.fspath(path)}: the .ts file has no class labels (@classLabel false)")
        return data.X, data.y.tolist(), data_format, options
    if data_format == "text":
        from ..data.labelled_text import load_labelled_text
        X, y = load_labelled_text(path, require_labels=require_labels)
        return X, y, data_format, options
    if data_format == "audio":
        from ..data.audio import load_audio_dir
        data = load_audio_dir(path, **options)
        return data.X, data.y, data_format, data.options
    raise ValueError(f"read_labelled_data: data_format must be one of {FORMATS} or None, got {data_format!r}")


def train_classifier_file(data: str | os.PathLike, out: str | os.PathLike | None = None, *,
                          test: str | os.PathLike | None = None, data_format: str | None = None,
                          data_options: dict | None = None, log=print, **params):
    """Train a :class:`SequenceClassifier` (hyperparameters ``params``) on a labelled data file and
    return ``(model, test_metrics or None)``. With ``out``: the model file, ``<out>.history.csv``,
    ``<out>.loss.png`` and, with ``test``, ``<out>.confusion.png`` (the plots need matplotlib)."""
    from ..io import atomic_write_text
    from ..train import history_csv
    from .sequence_classifier import SequenceClassifier
    X, y, data_format, data_options = read_labelled_data(data, data_format, data_options)
    test_data = read_labelled_data(test, data_format, data_options) if test is not None else None
    counts = {c: y.count(c) for c in dict.fromkeys(y)}
    log(f"{os.fspath(data)}: {len(X)} {data_format} cases, {len(counts)} classes "
        f"({', '.join(f'{c}: {n}' for c, n in list(counts.items())[:10])}{', ...' if len(counts) > 10 else ''})")
    model = SequenceClassifier(**params)
    model.data_format, model.data_options = data_format, data_options
    model.fit(X, y, log=log)
    metrics = None if test_data is None else model.evaluate(test_data[0], test_data[1])
    if out is not None:
        out = os.fspath(out)
        model.save(out)
        atomic_write_text(out + ".history.csv", history_csv(model.history_))
        try:
            from ..plots import plot_confusion_matrix, plot_history
        except ImportError:
            log("note: no plots written (pip install 'rnnkit[plot]')")
        else:
            plot_history(model.history_, out + ".loss.png")
            if metrics is not None:
                plot_confusion_matrix(metrics["confusion_matrix"], metrics["labels"], out + ".confusion.png",
                                      title=f"{os.path.basename(os.fspath(test))}: accuracy {metrics['accuracy']:.3f}")
    return model, metrics


__all__ = ["read_labelled_data", "train_classifier_file", "guess_format", "FORMATS"]
