"""Reading labelled text lines: ``sentence<TAB>label``, one example a line (the UCI sentiment format)."""
from __future__ import annotations

import os


def load_labelled_text(path: str | os.PathLike, require_labels: bool = True) -> tuple[list[str], list[str | None]]:
    """Sentences and labels of a UTF-8 file of ``sentence<TAB>label`` lines.

    With ``require_labels=False`` (for prediction) a line without a tab is a sentence whose
    label is None.

    Each line is split on its LAST tab, so a sentence may hold tabs; both parts are stripped of
    surrounding whitespace. Lines are read as the file's own ``\\n`` lines (not
    ``str.splitlines``, which would also break at U+0085 and other characters that real review
    text contains); a ``\\r\\n`` ending is accepted. Blank lines are skipped. No quoting: ``"`` is
    an ordinary character.

    Returns:
        (sentences, labels): two lists of str of the same length.

    Raises:
        ValueError: naming the file and line, for a missing or non-UTF-8 file, a line without a
            tab, an empty sentence or label, or a file without examples.
    """
    path = os.fspath(path)
    sentences, labels = [], []
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror})") from e
    # split the bytes on b"\n" only: U+0085 and U+2028 stay inside their line, and a bad byte
    # is reported on its own line
    for number, raw in enumerate(data.split(b"\n"), start=1):
        where = f"{path}, line {number}"
        try:
            line = raw.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as e:
            raise ValueError(f"{where}: not UTF-8 text (byte {e.start}: {e.reason})") from e
        if not line.strip():
            continue
        sentence, tab, label = line.rpartition("\t")
        if not tab and not require_labels:
            sentence, label = label, None
        elif not tab:
            raise ValueError(f"{where}: expected 'sentence<TAB>label', found no tab in {line[:50]!r}")
        sentence, label = sentence.strip(), None if label is None else label.strip()
        if not sentence:
            raise ValueError(f"{where}: empty sentence before the tab")
        if label is not None and not label:
            raise ValueError(f"{where}: empty label after the last tab")
        sentences.append(sentence)
        labels.append(label)
    if not sentences:
        raise ValueError(f"{path}: no 'sentence<TAB>label' lines")
    return sentences, labels


__all__ = ["load_labelled_text"]
