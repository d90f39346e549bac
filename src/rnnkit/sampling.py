"""Generating text from a language model, one token at a time, each sample fed back in."""
from __future__ import annotations

import numpy as np
from numpy import ndarray

from ._types import Seed, as_rng
from .functional import softmax


def next_token_distribution(logits: ndarray, temperature: float, top_k: int | None,
                            banned: list[int]) -> ndarray:
    """``(V,)`` probabilities from ``(V,)`` logits: banned ids removed, the ``top_k`` most likely
    kept, then ``softmax(logits / temperature)``. Temperature 0 puts all mass on the argmax."""
    logits = logits.astype(np.float64)
    logits[banned] = -np.inf
    if top_k is not None and top_k < logits.size:
        kth = np.partition(logits, -top_k)[-top_k]
        logits[logits < kth] = -np.inf
    if temperature == 0:
        p = np.zeros_like(logits)
        p[np.argmax(logits)] = 1.0
        return p
    return softmax(logits / temperature)


def sample(model, length: int = 500, prime: str = "", temperature: float = 1.0, top_k: int | None = None,
           seed: Seed = None, stop_at_eos: bool = False) -> str:
    """Generate up to ``length`` tokens after ``prime`` and return prime + generated text.

    The prime is read in one forward pass; then each step draws a token from
    ``softmax(logits / temperature)`` (restricted to the ``top_k`` most likely when given), feeds it
    back in, and repeats (Graves, 2013). ``<UNK>`` and ``<PAD>`` are never drawn. With no prime the
    model starts after an end of sequence (``"\\n"`` at char level, ``<EOS>`` at word level), i.e.
    at the start of a line. ``stop_at_eos`` ends at the first end of sequence drawn.
    Deterministic for a given ``seed``; ``temperature=0`` is greedy (argmax) decoding.
    """
    vocab = model.vocab
    if vocab is None:
        raise ValueError("sample: the model has no vocabulary to turn tokens into text")
    if not (isinstance(length, (int, np.integer)) and length >= 0):
        raise ValueError(f"sample: length must be an int >= 0, got {length!r}")
    if not temperature >= 0:
        raise ValueError(f"sample: temperature must be >= 0, got {temperature}")
    if top_k is not None and not (isinstance(top_k, (int, np.integer)) and top_k >= 1):
        raise ValueError(f"sample: top_k must be a positive int or None, got {top_k!r}")
    rng = as_rng(seed)
    if prime:
        unseen = sorted(set(prime) - set(vocab.tokens)) if vocab.level == "char" else []
        if unseen:
            raise ValueError(f"sample: the prime has characters the model never saw: {unseen}")
        context = vocab.encode_text(prime)
        if vocab.level == "word" and vocab.eos_id is not None and not prime.endswith("\n"):
            context = context[:-1]  # a prime without a final newline is an unfinished sentence
    else:
        context = np.array([], dtype=np.int64)
    if len(context) == 0:
        if vocab.eos_id is None:
            raise ValueError("sample: this vocabulary has no end-of-sequence token to start from; give a prime")
        context = np.array([vocab.eos_id])
    banned = [i for i in (vocab.unk_id, vocab.pad_id) if i is not None]
    logits, state, _ = model.forward(context[None, :], training=False)
    logits = logits[0, -1]
    generated = []
    for _ in range(length):
        p = next_token_distribution(logits, temperature, top_k, banned)
        token = int(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"))
        token = min(token, len(p) - 1)
        generated.append(token)
        if stop_at_eos and token == vocab.eos_id:
            break
        step_logits, state = model.step(np.array([token]), state)
        logits = step_logits[0]
    text = vocab.decode_text(np.array(generated, dtype=np.int64))
    if vocab.level == "word" and prime and not prime.endswith(("\n", " ")) and text and not text.startswith("\n"):
        return prime + " " + text
    return prime + text
