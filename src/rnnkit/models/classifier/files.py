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


__all__ = ["FORMATS", "guess_format", "read_labelled_data"]
