"""Labelled data files for :class:`SequenceClassifier` (one reader per format, chosen by the path),
fitting on them, and the reports written beside a model file."""
from __future__ import annotations

import os

from ...estimator import LOGGER
from ...io import atomic_write_text
from ...train import history_csv

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
        from ...data.ucr import load_ts
        data = load_ts(path)
        if data.y is None and not require_labels:
            return data.X, [None] * len(data.X), data_format, options
        if data.y is None:
            raise ValueError(f"{os.fspath(path)}: the .ts file has no class labels (@classLabel false)")
        return data.X, data.y.tolist(), data_format, options
    if data_format == "text":
        from ...data.labelled_text import load_labelled_text
        X, y = load_labelled_text(path, require_labels=require_labels)
        return X, y, data_format, options
    if data_format == "audio":
        from ...data.audio import load_audio_dir
        data = load_audio_dir(path, **options)
        return data.X, data.y, data_format, data.options
    raise ValueError(f"read_labelled_data: data_format must be one of {FORMATS} or None, got {data_format!r}")


def describe_data(path, X: list, y: list, data_format: str) -> str:
    """One line: the file, its cases and its classes with their counts (the first ten)."""
    counts = {c: y.count(c) for c in dict.fromkeys(y)}
    shown = ", ".join(f"{c}: {n}" for c, n in list(counts.items())[:10])
    return (f"{os.fspath(path)}: {len(X)} {data_format} cases, {len(counts)} classes "
            f"({shown}{', ...' if len(counts) > 10 else ''})")


def remember_format(model, data_format: str, data_options: dict):
    """Record on a fitted ``model`` how its data files were read (``data_format_``,
    ``data_options_``: what :func:`read_labelled_data` returned), so ``evaluate_file`` and
    ``predict_file`` read later files alike; with ``model.out``, the model file is saved again
    with them. Returns the model."""
    model.data_format_, model.data_options_ = data_format, dict(data_options or {})
    if model.out is not None:
        model.save(model.out)
    return model


def fit_file(model, path: str | os.PathLike, data_format: str | None = None, data_options: dict | None = None,
             validation: str | os.PathLike | None = None):
    """Fit ``model`` (a ``SequenceClassifier``) on a labelled data file, early-stopping on the
    ``validation`` file if given (read the same way), and :func:`remember_format`. Returns the model."""
    X, y, data_format, data_options = read_labelled_data(path, data_format, data_options)
    val = None
    if validation is not None:
        X_val, y_val, _, _ = read_labelled_data(validation, data_format, data_options)
        val = (X_val, y_val)
    with model._logging() as log:
        log(describe_data(path, X, y, data_format))
    return remember_format(model.fit(X, y, validation=val), data_format, data_options)


def write_progress(history: list[dict], out: str | os.PathLike) -> None:
    """``<out>.history.csv`` and ``<out>.loss.png`` (one line per network) of ``history``."""
    out = os.fspath(out)
    atomic_write_text(out + ".history.csv", history_csv(history))
    try:
        plot_network_losses(history, out + ".loss.png")
    except ImportError:
        LOGGER.info("note: no plots written (pip install 'rnnkit[plot]')")


def write_reports(model, out: str | os.PathLike, test_metrics: dict | None = None,
                  test: str | os.PathLike | None = None) -> None:
    """Beside the model file ``out``: ``<out>.history.csv`` and ``<out>.loss.png`` of the kept
    networks' ``history_``, and with ``test_metrics`` (:meth:`SequenceClassifier.evaluate`'s, on
    the data ``test`` names) ``<out>.confusion.png``. The plots need matplotlib."""
    out = os.fspath(out)
    write_progress(model.history_, out)
    if test_metrics is None:
        return
    try:
        from ...plots import plot_confusion_matrix
    except ImportError:
        return
    where = "" if test is None else os.path.basename(os.fspath(test)) + ": "
    title = f"{where}accuracy {test_metrics['accuracy']:.3f}"
    plot_confusion_matrix(test_metrics["confusion_matrix"], test_metrics["labels"], out + ".confusion.png", title=title)


def plot_network_losses(history: list[dict], path: str | os.PathLike) -> None:
    """Validation (solid) and training (dotted) loss of each network against its training step,
    one colour per network (per framing, where rows carry ``frame``), as a PNG."""
    from ...plots import plt
    groups: dict[tuple, list[dict]] = {}
    for row in history:
        groups.setdefault((row.get("frame"), row.get("frame_stride"), row.get("model", 0)), []).append(row)
    framings = len({key[:2] for key in groups})
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for i, ((frame, stride, m), rows) in enumerate(groups.items()):
        label = f"network {m + 1}" + (f", frames {frame}/{stride}" if framings > 1 else "")
        steps = [row["step"] for row in rows]
        line, = ax.plot(steps, [row["val_loss"] for row in rows], marker=".", label=label, color=f"C{i % 10}")
        ax.plot(steps, [row["train_loss"] for row in rows], linestyle=":", color=line.get_color())
    ax.set_xlabel("training step of each network")
    ax.set_ylabel("loss (validation solid, training dotted)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    tmp = f"{os.fspath(path)}.tmp.png"
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


__all__ = ["FORMATS", "describe_data", "fit_file", "guess_format", "plot_network_losses", "read_labelled_data",
           "remember_format", "write_progress", "write_reports"]
