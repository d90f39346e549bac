"""The language model's task for the shared :class:`~rnnkit.train.Trainer`: truncated BPTT over
contiguous windows with the state carried, and the loss over a whole token stream."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy import ndarray

from ..._types import Grads, State
from ...data.text import TokenStreams, fit_batch_to_text
from ...losses import softmax_cross_entropy

if TYPE_CHECKING:
    from .network import LanguageModelNetwork


class LanguageModelTask:
    """Truncated BPTT over contiguous windows, the hidden state carried between windows and reset
    at each epoch (char-rnn). The loss is softmax cross-entropy summed over time and batch and
    divided by the token count, so the learning rate and clipping do not depend on B or T."""

    def __init__(self, model: LanguageModelNetwork, train_ids: ndarray, val_ids: ndarray, batch_size: int,
                 seq_len: int, val_characters: int):
        self.model = model
        self.train = TokenStreams(train_ids, batch_size, seq_len, drop_last=False)  # every token is trained on
        self.val_ids, self.val_characters = val_ids, val_characters
        self.batch_size, self.seq_len = batch_size, seq_len
        self.steps_per_epoch = self.train.num_windows
        self.carry: State | None = None

    def train_step(self, step: int, rng: np.random.Generator) -> tuple[float, Grads, int]:
        window = step % self.steps_per_epoch
        if window == 0:
            self.carry = None  # a new epoch starts reading the streams from their beginning
        x, y = self.train.window(window)
        logits, state, cache = self.model.forward(x, self.carry, training=True, rng=rng)
        loss, dlogits = softmax_cross_entropy(logits, y)
        grads = self.model.backward(dlogits, None, cache)  # truncated: no gradient into the carry
        self.carry = state
        return loss, grads, x.size

    def evaluate(self) -> dict[str, float]:
        return evaluate_ids(self.model, self.val_ids, self.val_characters, self.batch_size, self.seq_len)

    def state_arrays(self) -> dict[str, ndarray]:
        return {} if self.carry is None else {f"carry.{i}": s for i, s in enumerate(self.carry)}

    def load_state_arrays(self, arrays: dict[str, ndarray]) -> None:
        self.carry = tuple(arrays[f"carry.{i}"] for i in range(len(arrays))) if arrays else None

def evaluate_ids(model: LanguageModelNetwork, ids: ndarray, characters: int, batch_size: int = 64,
                 seq_len: int = 100) -> dict[str, float]:
    """Mean loss in nats per predicted token over ``ids`` (read as contiguous streams with the state
    carried, so every token after the first few is predicted from a long context), and bits per
    character: total nats / (``characters`` * ln 2)."""
    batch_size, seq_len = fit_batch_to_text(len(ids), batch_size, seq_len)
    streams = TokenStreams(ids, batch_size, seq_len, drop_last=False)
    total, count, state = 0.0, 0, None
    for k in range(streams.num_windows):
        x, y = streams.window(k)
        logits, state, _ = model.forward(x, state, training=False)
        loss, _ = softmax_cross_entropy(logits, y, reduction="sum")
        total, count = total + loss, count + y.size
    nats = total / count
    # the streams cover `count` of the text's tokens: scale the character count to match
    chars_covered = characters * count / max(len(ids) - 1, 1)
    return {"loss": nats, "bpc": total / (chars_covered * math.log(2)), "perplexity": math.exp(nats)}


__all__ = ["LanguageModelTask", "evaluate_ids"]
