"""What a language model reads: a text split for validation, and its vocabulary."""
from __future__ import annotations

from ...data.vocab import UNK, Vocabulary, tokenize_words


LEVELS = ("char", "word")

def split_text(text: str, val_fraction: float, level: str) -> tuple[str, str]:
    """The first ``1 - val_fraction`` of the text for training, the rest for validation (nanoGPT's
    split for tiny Shakespeare); at word level the cut moves to the next line break."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
    cut = int(len(text) * (1 - val_fraction))
    if level == "word":
        newline = text.find("\n", cut)
        cut = newline + 1 if newline != -1 else cut
    return text[:cut], text[cut:]

def build_vocabulary(train_text: str, level: str, min_count: int = 1, max_size: int | None = None) -> Vocabulary:
    """Char level: every character of the training text plus ``<UNK>`` for characters it lacks.
    Word level: words seen at least ``min_count`` times (at most ``max_size`` in all), ``<UNK>``
    for the rest, ``<EOS>`` ending each line."""
    if level == "char":
        return Vocabulary.build_chars(train_text, specials=(UNK,))
    return Vocabulary.build_words(tokenize_words(train_text), min_count=min_count, max_size=max_size)


__all__ = ["LEVELS", "build_vocabulary", "split_text"]
