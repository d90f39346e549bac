"""Vocabularies: tokens <-> integer ids, at character or word level.

Conventions (the same for every model that takes token ids):

- Special tokens come first, in the order given, so their ids are fixed and small. The word-level
  default is ``("<PAD>", "<UNK>", "<EOS>")``: ``<PAD>`` = 0 (padding for batched taggers and
  classifiers; mask it out of losses), ``<UNK>`` = 1, ``<EOS>`` = 2. A name is special only when
  it is in ``specials``; ``pad_id``, ``unk_id``, ``eos_id`` and ``bos_id`` are ``None`` otherwise.
- Ordinary tokens follow. Character level: every distinct character of the text, sorted by code
  point (min-char-rnn, nanoGPT), so the ids do not depend on where a character first appears.
  Word level: by count, most frequent first, ties broken by first occurrence.
- End of sequence. Word level: ``<EOS>`` ends every sentence, and a sentence is one line of text
  (see :func:`tokenize_words`). Character level: the newline character itself plays that role
  (``eos_id`` is the id of ``"\\n"``, ``None`` if the text had none); there is no ``<EOS>`` token,
  so decoding reproduces the text exactly.
- Unknown tokens map to ``<UNK>`` when the vocabulary has one; otherwise encoding raises a
  ``ValueError`` naming the token and its position. Character vocabularies have no specials
  unless asked (``build_chars(text, specials=("<PAD>", "<UNK>"))``).
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy import ndarray

PAD = "<PAD>"
UNK = "<UNK>"
EOS = "<EOS>"
BOS = "<BOS>"
WORD_SPECIALS = (PAD, UNK, EOS)
"""The default specials of :meth:`Vocabulary.build_words`: ids 0, 1, 2."""

LEVELS = ("char", "word")
_DICT_FORMAT = "rnnkit.vocabulary"
_DICT_VERSION = 1

# A word is a run of letters, digits or underscores, with internal apostrophes kept
# ("don't", "o'er"); every other non-space character is a token of its own.
_WORD_RE = re.compile(r"\w+(?:['\u2019]\w+)*|[^\w\s]")


def tokenize_words(text: str) -> list[list[str]]:
    """Split text into sentences of word tokens: one line is one sentence.

    The rule: split ``text`` into lines (:meth:`str.splitlines`); in each line a token is either
    a word, a maximal run of letters, digits and underscores that may contain apostrophes
    between letters (``don't``, ``o'er``), or a single other non-space character (punctuation,
    symbols: ``,`` ``.`` ``-`` ``'``). Whitespace only separates. Case is kept. Lines without
    tokens are dropped.

    Example: ``"First Citizen:\\nWe know't, we know't.\\n"`` ->
    ``[["First", "Citizen", ":"], ["We", "know't", ",", "we", "know't", "."]]``.
    """
    if not isinstance(text, str):
        raise ValueError(f"tokenize_words: expected text as a str, got {type(text).__name__}")
    return [tokens for line in text.splitlines() if (tokens := _WORD_RE.findall(line))]


class Vocabulary:
    """A bijection between tokens and ids ``0 .. V-1``: specials first, then ordinary tokens.

    Build one with :meth:`build_chars` or :meth:`build_words`; store it with :meth:`to_dict`
    and restore it with :meth:`from_dict`. See the module docstring for the conventions.

    Args:
        tokens: the ordinary tokens in id order (after the specials); distinct, non-empty str,
            single characters at char level.
        level: ``"char"`` or ``"word"``.
        specials: special tokens, ids ``0 .. len(specials)-1``. At char level they must be
            longer than one character and may not include ``<EOS>`` (newline plays that role).
    """

    def __init__(self, tokens: Iterable[str], *, level: str, specials: Iterable[str] = ()):
        tokens, specials = list(tokens), list(specials)
        _check(tokens, level, specials, "Vocabulary")
        self._level = level
        self._specials = tuple(specials)
        self._tokens = tuple(specials) + tuple(tokens)
        self._index = {t: i for i, t in enumerate(self._tokens)}

    # ---- building -------------------------------------------------------------------------

    @classmethod
    def build_chars(cls, text: str, specials: Sequence[str] = ()) -> Vocabulary:
        """Every distinct character of ``text``, sorted by code point, after ``specials``."""
        if not isinstance(text, str):
            raise ValueError(f"Vocabulary.build_chars: expected text as a str, "
                             f"got {type(text).__name__}")
        return cls(sorted(set(text)), level="char", specials=specials)

    @classmethod
    def build_words(cls, tokens_or_sentences: Iterable[str | Sequence[str]], min_count: int = 1,
                    max_size: int | None = None,
                    specials: Sequence[str] = WORD_SPECIALS) -> Vocabulary:
        """A word vocabulary from tokens or sentences (e.g. ``tokenize_words(text)``).

        Args:
            tokens_or_sentences: token strings, lists of token strings, or a mix.
            min_count: words seen fewer times are left out (they encode as ``<UNK>``).
            max_size: the largest vocabulary size, specials included (so an embedding of
                ``max_size`` rows fits); the least frequent words beyond it are left out.
            specials: special tokens, ids ``0 ..``; tokens equal to one are not counted.

        Words are ordered by count, most frequent first, ties by first occurrence, so the same
        input always gives the same ids. Leaving words out requires ``<UNK>`` in ``specials``.
        """
        who = "Vocabulary.build_words"
        if isinstance(tokens_or_sentences, str):
            raise ValueError(f"{who}: got a str; pass tokens or sentences, "
                             f"e.g. tokenize_words(text)")
        if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
            raise ValueError(f"{who}: expected min_count as an int >= 1, got {min_count!r}")
        specials = list(specials)
        if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int)
                                     or max_size < max(1, len(specials))):
            raise ValueError(f"{who}: expected max_size as None or an int >= "
                             f"{max(1, len(specials))} (the number of specials), got {max_size!r}")
        counts: Counter[str] = Counter()
        for item in tokens_or_sentences:
            counts.update([item] if isinstance(item, str) else item)
        for s in specials:
            counts.pop(s, None)
        # sorted() is stable and a Counter keeps first-occurrence order: ties by first occurrence
        words = [w for w, n in sorted(counts.items(), key=lambda wn: -wn[1]) if n >= min_count]
        if max_size is not None:
            words = words[:max_size - len(specials)]
        if len(words) < len(counts) and UNK not in specials:
            raise ValueError(f"{who}: min_count={min_count}, max_size={max_size} leave out "
                             f"{len(counts) - len(words)} words, but specials {specials} have no "
                             f"{UNK} to encode them as")
        return cls(words, level="word", specials=specials)

    # ---- lookups ---------------------------------------------------------------------------

    @property
    def level(self) -> str:
        """``"char"`` or ``"word"``."""
        return self._level

    @property
    def tokens(self) -> tuple[str, ...]:
        """All tokens in id order (``tokens[i]`` has id ``i``), specials first."""
        return self._tokens

    @property
    def specials(self) -> tuple[str, ...]:
        """The special tokens, ids ``0 .. len(specials)-1``."""
        return self._specials

    @property
    def pad_id(self) -> int | None:
        """Id of ``<PAD>`` (0 with the word-level defaults), or None."""
        return self._special_id(PAD)

    @property
    def unk_id(self) -> int | None:
        """Id of ``<UNK>``, or None: then unknown tokens are an error."""
        return self._special_id(UNK)

    @property
    def eos_id(self) -> int | None:
        """Id of ``<EOS>`` at word level, of ``"\\n"`` at char level; None if absent."""
        if self._level == "char":
            return self._index.get("\n")
        return self._special_id(EOS)

    @property
    def bos_id(self) -> int | None:
        """Id of ``<BOS>`` (a start token for decoders) if it is among the specials, else None."""
        return self._special_id(BOS)

    def _special_id(self, name: str) -> int | None:
        return self._index[name] if name in self._specials else None

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token: object) -> bool:
        return isinstance(token, str) and token in self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocabulary):
            return NotImplemented
        return (self._level, self._specials, self._tokens) == (
            other._level, other._specials, other._tokens)

    def __hash__(self) -> int:
        return hash((self._level, self._specials, self._tokens))

    def __repr__(self) -> str:
        return (f"Vocabulary(level={self._level!r}, size={len(self)}, "
                f"specials={list(self._specials)})")

    def id_of(self, token: str) -> int:
        """The id of ``token``; ``unk_id`` if unknown; a ValueError if there is no ``<UNK>``."""
        i = self._index.get(token)
        if i is not None:
            return i
        if self.unk_id is not None:
            return self.unk_id
        raise self._unknown(token, None)

    def token_of(self, i: int) -> str:
        """The token with id ``i``; a ValueError outside ``0 .. V-1``."""
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise ValueError(f"{self!r}: expected an int id, got {type(i).__name__}")
        if not 0 <= i < len(self._tokens):
            raise ValueError(f"{self!r}: id {i} is outside 0..{len(self._tokens) - 1}")
        return self._tokens[i]

    # ---- encoding --------------------------------------------------------------------------

    def encode(self, tokens: Sequence[str]) -> ndarray:
        """Token ids of ``tokens``: ``(T,)`` int64.

        Args:
            tokens: token strings; at char level a str is fine (its characters).

        Unknown tokens become ``unk_id``; without ``<UNK>`` they raise a ValueError that names
        the first one and its position.
        """
        if isinstance(tokens, str) and self._level == "word":
            raise ValueError(f"{self!r}: encode expects a sequence of word tokens, got a str; "
                             f"use encode_text for raw text")
        index, unk = self._index, self.unk_id
        T = len(tokens)
        try:
            if unk is not None:
                return np.fromiter((index.get(t, unk) for t in tokens), dtype=np.int64, count=T)
            return np.fromiter(map(index.__getitem__, tokens), dtype=np.int64, count=T)
        except (KeyError, TypeError):  # an unknown token, or one that is not a str
            pos = next(p for p, t in enumerate(tokens)
                       if not isinstance(t, str) or (unk is None and t not in index))
            raise self._unknown(tokens[pos], pos) from None

    def encode_text(self, text: str) -> ndarray:
        """Ids of raw text: ``(T,)`` int64.

        Char level: one id per character, newlines included. Word level: the tokens of
        :func:`tokenize_words`, with ``<EOS>`` after each sentence (line) if the vocabulary has it.
        """
        if not isinstance(text, str):
            raise ValueError(f"{self!r}: encode_text expects a str, got {type(text).__name__}")
        if self._level == "char":
            return self.encode(text)
        eos = [EOS] if self.eos_id is not None else []
        return self.encode([t for sentence in tokenize_words(text) for t in sentence + eos])

    def decode(self, ids: Sequence[int] | ndarray) -> list[str]:
        """Tokens of ``ids: (T,)`` integers, specials included; a ValueError for an id out of range."""
        ids = np.asarray(ids)
        if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(f"{self!r}: decode expects ids of shape (T,) and an integer dtype, "
                             f"got shape {ids.shape} and dtype {ids.dtype}")
        bad = np.flatnonzero((ids < 0) | (ids >= len(self._tokens)))
        if bad.size:
            raise ValueError(f"{self!r}: id {ids[bad[0]]} at position {bad[0]} is outside "
                             f"0..{len(self._tokens) - 1}")
        tokens = self._tokens
        return [tokens[i] for i in ids.tolist()]

    def decode_text(self, ids: Sequence[int] | ndarray) -> str:
        """Text of ``ids: (T,)``; ``<PAD>`` is dropped.

        Char level: the characters joined, so ``decode_text(encode_text(s)) == s`` for any ``s``
        made of vocabulary characters. Word level: tokens joined by single spaces, ``<EOS>``
        written as a newline (so the text of :func:`tokenize_words`, one sentence per line).
        """
        tokens = self.decode(ids)
        pad = PAD if self.pad_id is not None else None
        if self._level == "char":
            return "".join(t for t in tokens if t != pad)
        eos = EOS if self.eos_id is not None else None
        out: list[str] = []
        line_start = True
        for t in tokens:
            if t == pad:
                continue
            if t == eos:
                out.append("\n")
                line_start = True
            else:
                out.append(t if line_start else " " + t)
                line_start = False
        return "".join(out)

    def _unknown(self, token: Any, pos: int | None) -> ValueError:
        where = "" if pos is None else f" at position {pos}"
        if not isinstance(token, str):
            return ValueError(f"{self!r}: expected str tokens, got {type(token).__name__}{where}")
        what = (f"character {token!r} (U+{ord(token):04X})"
                if self._level == "char" and len(token) == 1 else f"token {token!r}")
        return ValueError(f"{self!r}: {what}{where} is not in the vocabulary, and it has no "
                          f"{UNK} (build it with {UNK} among the specials to map unknown "
                          f"tokens to it)")

    # ---- serialisation ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (for model-file metadata); :meth:`from_dict` restores it."""
        return {"format": _DICT_FORMAT, "version": _DICT_VERSION, "level": self._level,
                "specials": list(self._specials), "tokens": list(self._tokens)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocabulary:
        """The vocabulary of :meth:`to_dict`; a ValueError saying what is wrong otherwise."""
        who = "Vocabulary.from_dict"
        if not isinstance(d, dict):
            raise ValueError(f"{who}: expected a dict, got {type(d).__name__}")
        if d.get("format") != _DICT_FORMAT:
            raise ValueError(f"{who}: expected 'format': {_DICT_FORMAT!r}, "
                             f"got {d.get('format')!r}")
        version = d.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(f"{who}: expected 'version' as an int >= 1, got {version!r}")
        if version > _DICT_VERSION:
            raise ValueError(f"{who}: vocabulary format version {version} is newer than this "
                             f"rnnkit reads ({_DICT_VERSION}); upgrade rnnkit")
        for key in ("level", "specials", "tokens"):
            if key not in d:
                raise ValueError(f"{who}: missing key {key!r}")
        specials, tokens = d["specials"], d["tokens"]
        for key, value in (("specials", specials), ("tokens", tokens)):
            if not isinstance(value, list):
                raise ValueError(f"{who}: expected {key!r} as a list, got {type(value).__name__}")
        if tokens[:len(specials)] != specials:
            raise ValueError(f"{who}: 'tokens' must start with the specials {specials}, "
                             f"got {tokens[:len(specials)]}")
        _check(tokens[len(specials):], d["level"], specials, who)
        return cls(tokens[len(specials):], level=d["level"], specials=specials)


def _check(tokens: list[Any], level: Any, specials: list[Any], who: str) -> None:
    """Raise a ValueError naming the first problem with a vocabulary's parts."""
    if level not in LEVELS:
        raise ValueError(f"{who}: expected level 'char' or 'word', got {level!r}")
    for kind, items in (("special", specials), ("token", tokens)):
        for i, t in enumerate(items):
            if not isinstance(t, str) or not t:
                raise ValueError(f"{who}: {kind} {i} must be a non-empty str, got {t!r}")
    seen: set[str] = set()
    for t in specials + tokens:
        if t in seen:
            raise ValueError(f"{who}: duplicate token {t!r}")
        seen.add(t)
    if level == "char":
        if EOS in specials:
            raise ValueError(f"{who}: a char vocabulary has no {EOS}; the newline character "
                             f"ends lines")
        for s in specials:
            if len(s) == 1:
                raise ValueError(f"{who}: special {s!r} is a single character and would clash "
                                 f"with the text's characters; use a longer name like {UNK}")
        for t in tokens:
            if len(t) != 1:
                raise ValueError(f"{who}: a char vocabulary holds single characters, "
                                 f"got token {t!r}")
