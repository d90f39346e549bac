"""CoNLL-U (Universal Dependencies) files: sentences of word forms and one tag column.

The format (https://universaldependencies.org/format.html): one word per line in 10 tab-separated
fields ``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC``; ``#`` comment lines before a
sentence; a blank line after each sentence. Two kinds of lines are not words and are skipped
for tagging, as the UD evaluation script does:

- multi-word token ranges, ID ``3-4`` (the surface token "don't" over the words "do" "n't"),
- empty nodes, ID ``8.1`` (enhanced-dependency copies of a word).

Word IDs must run 1, 2, 3 ... within each sentence. A byte-order mark, ``\\r\\n`` line ends,
whitespace-only lines (read as blank) and any number of blank lines at the end are accepted. A
malformed line raises a ValueError naming the file and the line.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence

from .files import read_text

COLUMNS = ("id", "form", "lemma", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")
TAG_COLUMNS = ("upos", "xpos")
"""The columns a tagger can learn (any of :data:`COLUMNS` after ``form`` can be read, though)."""

_RANGE = re.compile(r"^[1-9][0-9]*-[1-9][0-9]*$")
_EMPTY = re.compile(r"^[0-9]+\.[1-9][0-9]*$")
_WORD = re.compile(r"^[1-9][0-9]*$")


def _column_index(column: str, who: str) -> int:
    if not isinstance(column, str) or column.lower() not in COLUMNS[2:]:
        raise ValueError(f"{who}: column must be one of {COLUMNS[2:]} (upos or xpos for tagging), "
                         f"got {column!r}")
    return COLUMNS.index(column.lower())


def iter_word_lines(text: str, source: str = "<string>") -> Iterator[tuple[int, int, list[str] | None]]:
    """Walk a CoNLL-U text: yields ``(line_number, sentence_index, fields)`` for each word line
    and ``(line_number, sentence_index, None)`` at the end of each sentence. Comments, ranges and
    empty nodes are checked and skipped. Line numbers count from 1."""
    if text.startswith("\ufeff"):
        text = text[1:]
    sentence, expected = 0, 1
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            if expected > 1:
                yield number, sentence, None
                sentence, expected = sentence + 1, 1
            continue
        if line.startswith("#"):
            continue
        fields = line.split("\t")
        where = f"{source}:{number}"
        if len(fields) != 10:
            raise ValueError(f"{where}: expected 10 tab-separated CoNLL-U fields, got {len(fields)} "
                             f"in {line[:60]!r}")
        ident = fields[0]
        if _RANGE.match(ident) or _EMPTY.match(ident):
            continue
        if not _WORD.match(ident):
            raise ValueError(f"{where}: expected a word ID (1, 2, ...), a range (3-4) or an empty "
                             f"node (8.1), got {ident!r}")
        if int(ident) != expected:
            raise ValueError(f"{where}: expected word ID {expected} (IDs run 1, 2, 3 ... in each "
                             f"sentence), got {ident}")
        if not fields[1]:
            raise ValueError(f"{where}: the FORM field is empty")
        expected += 1
        yield number, sentence, fields
    if expected > 1:  # the last sentence had no blank line after it
        yield len(lines) + 1, sentence, None


def parse_conllu(text: str, column: str = "upos", require_tags: bool = True,
                 source: str = "<string>") -> tuple[list[list[str]], list[list[str]]]:
    """Sentences of word forms and their tags from CoNLL-U text.

    Args:
        text: the file contents.
        column: the tag column: ``"upos"`` (17 universal tags) or ``"xpos"`` (language-specific).
        require_tags: a ``_`` in the tag column is an error (for training and evaluation);
            with False it is kept as ``"_"`` (for files to be tagged).
        source: the name used in error messages (the path).

    Returns:
        ``(sentences, tags)``: lists of equal-length lists of str, one per sentence.
    """
    who = "parse_conllu"
    if not isinstance(text, str):
        raise TypeError(f"{who}: expected the file contents as a str, got {type(text).__name__}")
    col = _column_index(column, who)
    sentences: list[list[str]] = []
    tags: list[list[str]] = []
    words: list[str] = []
    labels: list[str] = []
    for number, _, fields in iter_word_lines(text, source):
        if fields is None:
            sentences.append(words)
            tags.append(labels)
            words, labels = [], []
            continue
        tag = fields[col]
        if require_tags and (tag == "_" or not tag):
            raise ValueError(f"{source}:{number}: word {fields[1]!r} has no {COLUMNS[col].upper()} "
                             f"tag ('{tag}'); choose another column or tag the file first")
        words.append(fields[1])
        labels.append(tag)
    return sentences, tags


def read_conllu(path: str | os.PathLike, column: str = "upos",
                require_tags: bool = True) -> tuple[list[list[str]], list[list[str]]]:
    """:func:`parse_conllu` of a UTF-8 file; errors name ``path`` and the line."""
    sentences, tags = parse_conllu(read_text(path), column, require_tags, os.fspath(path))
    if not sentences:
        raise ValueError(f"{os.fspath(path)}: no sentences found (is this a CoNLL-U file?)")
    return sentences, tags


def replace_conllu_tags(text: str, tags: Sequence[Sequence[str]], column: str = "upos",
                        source: str = "<string>") -> str:
    """``text`` with the ``column`` field of every word line set from ``tags`` (one list per
    sentence, in order); comments, ranges, empty nodes and other columns are kept as they were.
    Lines end with ``\\n``."""
    who = "replace_conllu_tags"
    col = _column_index(column, who)
    words = {number: (sentence, fields) for number, sentence, fields in iter_word_lines(text, source)
             if fields is not None}
    counts: dict[int, int] = {}
    for sentence, _ in words.values():
        counts[sentence] = counts.get(sentence, 0) + 1
    if len(counts) != len(tags) or any(len(tags[s]) != n for s, n in counts.items()):
        raise ValueError(f"{who}: {source} has {len(counts)} sentences; got tags for {len(tags)} "
                         f"(or a sentence with the wrong number of tags)")
    body = text[1:] if text.startswith("\ufeff") else text
    out, position = [], {}
    for number, line in enumerate(body.splitlines(), start=1):
        if number in words:
            sentence, fields = words[number]
            k = position.get(sentence, 0)
            position[sentence] = k + 1
            fields = list(fields)
            fields[col] = tags[sentence][k]
            line = "\t".join(fields)
        out.append(line)
    return "\n".join(out) + "\n"


__all__ = ["COLUMNS", "TAG_COLUMNS", "iter_word_lines", "parse_conllu", "read_conllu", "replace_conllu_tags"]
