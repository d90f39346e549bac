"""CoNLL-style column files (CoNLL-2003, WNUT17, wikigold): one token per line, blank lines
between sentences, ``-DOCSTART-`` lines between documents; and reading either format by name.

Columns are split on tabs when the line has one (WNUT17: ``token<TAB>tag``), otherwise on
whitespace (wikigold, CoNLL-2003: ``token POS chunk tag``). The token is the first column and
the tag the last. Named-entity tags use BIO: ``O``, ``B-TYPE`` begins an entity, ``I-TYPE``
continues it. Tags are normalised to IOB2 on reading: an ``I-TYPE`` that does not continue an
entity of the same type becomes ``B-TYPE``. That is exactly how conlleval reads such a tag (it
starts a new entity), so entity spans do not change; it turns IOB1 files (wikigold has only
``I-`` tags) into the scheme the tagger learns. Files whose tags are not BIO (POS, chunk labels
of another form) are read as plain labels.
"""
from __future__ import annotations

import os
import re
from collections.abc import Sequence

from .conllu import TAG_COLUMNS, parse_conllu, replace_conllu_tags
from .files import read_text

SCHEMES = ("auto", "bio", "none")
FORMATS = ("auto", "conllu", "conll")
DOCSTART = "-DOCSTART-"
_BIO = re.compile(r"^(O|[BI]-\S+)$")


def _split(line: str) -> list[str]:
    return line.split("\t") if "\t" in line else line.split()


def to_iob2(tags: Sequence[str]) -> list[str]:
    """IOB1 or sloppy BIO -> IOB2: an ``I-X`` not preceded by ``B-X`` or ``I-X`` becomes ``B-X``."""
    out, previous = [], "O"
    for tag in tags:
        if tag.startswith("I-") and previous[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        previous = tag
    return out


def parse_conll(text: str, scheme: str = "auto", require_tags: bool = True,
                source: str = "<string>") -> tuple[list[list[str]], list[list[str]]]:
    """Sentences of tokens and their tags from CoNLL-style column text.

    Args:
        text: the file contents.
        scheme: ``"bio"`` checks every tag is ``O``, ``B-TYPE`` or ``I-TYPE`` (naming the line
            of the first that is not) and normalises to IOB2; ``"none"`` keeps tags as they are;
            ``"auto"`` is ``"bio"`` when every tag looks like BIO, else ``"none"``.
        require_tags: every line needs a tag column; with False a line holding only a token is
            read with the tag ``"O"`` (for files to be tagged).
        source: the name used in error messages (the path).

    Returns:
        ``(sentences, tags)``: lists of equal-length lists of str.
    """
    who = "parse_conll"
    if not isinstance(text, str):
        raise TypeError(f"{who}: expected the file contents as a str, got {type(text).__name__}")
    if scheme not in SCHEMES:
        raise ValueError(f"{who}: scheme must be one of {SCHEMES}, got {scheme!r}")
    if text.startswith("\ufeff"):
        text = text[1:]
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    lines: list[list[int]] = []                      # line numbers, for errors after parsing
    words: list[str] = []
    labels: list[str] = []
    numbers: list[int] = []
    columns = None

    def close():
        nonlocal words, labels, numbers
        if words:
            sentences.append(words)
            tags.append(labels)
            lines.append(numbers)
        words, labels, numbers = [], [], []

    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            close()
            continue
        fields = _split(line)
        if fields[0] == DOCSTART:
            close()
            continue
        where = f"{source}:{number}"
        if len(fields) < 2 and require_tags:
            raise ValueError(f"{where}: expected a token and a tag separated by a tab or spaces, "
                             f"got {line[:60]!r}")
        if columns is None:
            columns = len(fields)
        elif len(fields) != columns and require_tags:
            raise ValueError(f"{where}: expected {columns} columns like the lines before, got "
                             f"{len(fields)} in {line[:60]!r}")
        if any(not f for f in fields):
            raise ValueError(f"{where}: empty column in {line!r} (two tabs in a row?)")
        words.append(fields[0])
        labels.append(fields[-1] if len(fields) > 1 else "O")
        numbers.append(number)
    close()

    if scheme == "auto":
        scheme = "bio" if all(_BIO.match(t) for s in tags for t in s) else "none"
    if scheme == "bio":
        for s, sentence_tags in enumerate(tags):
            for k, tag in enumerate(sentence_tags):
                if not _BIO.match(tag):
                    raise ValueError(f"{source}:{lines[s][k]}: tag {tag!r} is not BIO "
                                     f"(O, B-TYPE or I-TYPE)")
        tags = [to_iob2(t) for t in tags]
    return sentences, tags


def read_conll(path: str | os.PathLike, scheme: str = "auto",
               require_tags: bool = True) -> tuple[list[list[str]], list[list[str]]]:
    """:func:`parse_conll` of a UTF-8 file; errors name ``path`` and the line."""
    sentences, tags = parse_conll(read_text(path), scheme, require_tags, os.fspath(path))
    if not sentences:
        raise ValueError(f"{os.fspath(path)}: no sentences found (is this a CoNLL column file?)")
    return sentences, tags


def replace_conll_tags(text: str, tags: Sequence[Sequence[str]], source: str = "<string>") -> str:
    """``text`` with the last column of every token line set from ``tags`` (or a tag column added,
    tab-separated, to lines holding only a token). ``-DOCSTART-`` and blank lines are kept."""
    body = text[1:] if text.startswith("\ufeff") else text
    lines = [(line, _split(line) if line.strip() else []) for line in body.splitlines()]
    flat = [t for sentence in tags for t in sentence]
    tokens = sum(1 for _, fields in lines if fields and fields[0] != DOCSTART)
    if tokens != len(flat):
        raise ValueError(f"replace_conll_tags: {source} has {tokens} tokens, got {len(flat)} tags")
    out, k = [], 0
    for line, fields in lines:
        if not fields or fields[0] == DOCSTART:
            out.append(line)
            continue
        sep = "\t" if "\t" in line or len(fields) == 1 else " "
        out.append(sep.join((fields[:-1] if len(fields) > 1 else fields) + [flat[k]]))
        k += 1
    return "\n".join(out) + "\n"


def sniff_format(path: str | os.PathLike, text: str | None = None) -> str:
    """``"conllu"`` for ``*.conllu`` files or text whose first word line has 10 tab-separated
    fields starting with a word ID; ``"conll"`` otherwise."""
    if os.fspath(path).lower().endswith(".conllu"):
        return "conllu"
    text = read_text(path) if text is None else text
    for line in text.lstrip("\ufeff").splitlines():
        if line.strip() and not line.startswith("#"):
            fields = line.split("\t")
            return "conllu" if len(fields) == 10 and fields[0].split("-")[0].split(".")[0].isdigit() else "conll"
    return "conll"


def read_tagged_file(path: str | os.PathLike, format: str = "auto", column: str = "upos",
                     require_tags: bool = True, scheme: str = "auto"):
    """``(sentences, tags, format)`` from a CoNLL-U (``column`` chooses the tags) or CoNLL file."""
    who = "read_tagged_file"
    if format not in FORMATS:
        raise ValueError(f"{who}: format must be one of {FORMATS}, got {format!r}")
    if column not in TAG_COLUMNS:
        raise ValueError(f"{who}: column must be one of {TAG_COLUMNS}, got {column!r}")
    text = read_text(path)
    fmt = sniff_format(path, text) if format == "auto" else format
    source = os.fspath(path)
    if fmt == "conllu":
        sentences, tags = parse_conllu(text, column, require_tags, source)
    else:
        sentences, tags = parse_conll(text, scheme, require_tags, source)
    if not sentences:
        raise ValueError(f"{source}: no sentences found (read as {fmt})")
    return sentences, tags, fmt


def write_tagged_text(path: str | os.PathLike, tags: Sequence[Sequence[str]], format: str,
                      column: str = "upos") -> str:
    """The text of the file at ``path`` with its tags replaced by ``tags`` (see the two
    ``replace_*_tags`` functions); ``format`` is ``"conllu"`` or ``"conll"``."""
    text, source = read_text(path), os.fspath(path)
    if format == "conllu":
        return replace_conllu_tags(text, tags, column, source)
    return replace_conll_tags(text, tags, source)


__all__ = ["DOCSTART", "FORMATS", "SCHEMES", "parse_conll", "read_conll", "read_tagged_file",
           "replace_conll_tags", "sniff_format", "to_iob2", "write_tagged_text"]
