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
    generated = generate_ids(model, context, length, temperature, top_k, rng, banned,
                             vocab.eos_id if stop_at_eos else None)
    text = vocab.decode_text(generated)
    if vocab.level == "word" and prime and not prime.endswith(("\n", " ")) and text and not text.startswith("\n"):
        return prime + " " + text
    return prime + text


def generate_ids(model, context: ndarray, length: int, temperature: float = 1.0, top_k: int | None = None,
                 seed: Seed = None, banned: list[int] = (), stop_id: int | None = None) -> ndarray:
    """Up to ``length`` token ids drawn after ``context: (n,)`` ids (n >= 1), each fed back in.

    One forward pass reads the context; then each step draws from the model's next-token
    distribution (:func:`next_token_distribution`) with one uniform number, steps the network on
    the drawn token, and repeats; drawing ``stop_id`` ends it (that id is kept). The uniforms are
    drawn up front (``rng.random(length)``), so the tokens depend only on the seed, not on which
    loop runs: the compiled one (:mod:`rnnkit.kernels.generation`, with Numba, for unidirectional
    RNN / LSTM without peepholes / PyTorch-form GRU stacks) or this module's Python one.
    Returns ``(m,)`` int64 ids, ``m <= length``.
    """
    rng = as_rng(seed)
    uniforms = rng.random(length)
    out = np.empty(length, dtype=np.int64)
    if length == 0:
        return out
    logits, state, _ = model.forward(np.asarray(context)[None, :], training=False)
    logits = logits[0, -1]
    fast = _compiled_generation(model)
    if fast is not None:
        mask = np.zeros(logits.shape[0], dtype=bool)
        mask[list(banned)] = True
        n = fast(logits, state, uniforms, float(temperature), int(top_k or 0), mask,
                 -1 if stop_id is None else int(stop_id), out)
        return out[:n]
    for i, u in enumerate(uniforms):
        p = next_token_distribution(logits, temperature, top_k, list(banned))
        token = min(int(np.searchsorted(np.cumsum(p), u * p.sum(), side="right")), len(p) - 1)
        out[i] = token
        if token == stop_id or i + 1 == length:
            return out[:i + 1]
        step_logits, state = model.step(np.array([token]), state)
        logits = step_logits[0]
    return out


def _compiled_generation(model):
    """A function running :func:`rnnkit.kernels.generation.generate` on ``model``'s weights, or
    None when the compiled loops are unavailable or a layer's cell declares no compiled kernel
    (``Cell.fast_kernel``), or the layers declare different ones."""
    from . import kernels
    if kernels.compiled_loops() is None or model.rnn.bidirectional:
        return None
    cells = [layer.cell for layer in model.rnn.layers]
    kinds = {cell.fast_kernel for cell in cells}
    if None in kinds or len(kinds) != 1:
        return None
    from .kernels import generation
    from .kernels.reference import ACTIVATION_CODES
    kind = kinds.pop()
    if kind == "rnn" and len({cell.nonlinearity for cell in cells}) != 1:
        return None
    act = ACTIVATION_CODES[cells[0].nonlinearity] if kind == "rnn" else 0
    dtype = model.rnn.dtype

    def arrays(name):   # one per layer: views of the weights when they are contiguous (no copies)
        return tuple(np.ascontiguousarray(cell.params[name], dtype) for cell in cells)
    weights = (np.ascontiguousarray(model.embedding.weight, dtype), arrays("Wx"), arrays("bx"), arrays("Wh"),
               arrays("bh"), np.ascontiguousarray(model.head.params["W"], dtype),
               np.ascontiguousarray(model.head.params["b"], dtype))

    def run(logits, state, uniforms, temperature, top_k, banned, stop_id, out):
        h = np.array(state[0], dtype)                      # (L, 1, H), stepped in place
        c = np.array(state[1], dtype) if kind == "lstm" else np.empty_like(h)
        return generation.generate(generation.KINDS[kind], act, *weights, h, c, np.array(logits, np.float64),
                                   uniforms, temperature, top_k, banned, stop_id, out)
    return run
