"""Training and evaluating a :class:`LanguageModel` on a text: truncated BPTT with carried state."""
from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
from numpy import ndarray

from .._types import Grads, State
from ..data.text import TokenStreams, fit_batch_to_text
from ..data.vocab import UNK, Vocabulary, tokenize_words
from ..losses import softmax_cross_entropy
from ..train import TrainConfig, Trainer
from .language_model import LanguageModel, LanguageModelConfig

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


class LanguageModelTask:
    """Truncated BPTT over contiguous windows, the hidden state carried between windows and reset
    at each epoch (char-rnn). The loss is softmax cross-entropy summed over time and batch and
    divided by the token count, so the learning rate and clipping do not depend on B or T."""

    def __init__(self, model: LanguageModel, train_ids: ndarray, val_ids: ndarray, batch_size: int,
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


def evaluate_ids(model: LanguageModel, ids: ndarray, characters: int, batch_size: int = 64,
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


def evaluate_text(model: LanguageModel, text: str, batch_size: int = 64, seq_len: int = 100) -> dict[str, float]:
    """Loss of ``model`` on ``text`` in nats per token, bits per character and perplexity."""
    if model.vocab is None:
        raise ValueError("evaluate_text: the model has no vocabulary to encode text with")
    ids = model.vocab.encode_text(text)
    if len(ids) < 3:
        raise ValueError(f"evaluate_text: the text has {len(ids)} tokens; need at least 3")
    return evaluate_ids(model, ids, len(text), batch_size, seq_len)


def train_language_model(text: str, out: str | os.PathLike | None = None, *, level: str = "char",
                         cell: str = "lstm", hidden_size: int = 512, num_layers: int = 2,
                         embedding_dim: int = 64, dropout: float = 0.25, seq_len: int = 100,
                         batch_size: int = 64, val_fraction: float = 0.1, min_count: int = 1,
                         max_vocab: int | None = None, resume: bool = False,
                         log: Callable[[str], None] = print,
                         on_evaluate: Callable[[LanguageModel, dict], None] | None = None,
                         **train_options) -> LanguageModel:
    """Train a language model on ``text`` and return it (with its vocabulary and ``history``).

    The defaults (a 2 x 512 LSTM, embedding 64, dropout 0.25, Adam 2e-3, windows of 64 x 100,
    clipping at 5) are the usual char-rnn settings. ``train_options`` go to :class:`TrainConfig`
    (``lr``, ``max_minutes``, ``max_steps``, ``seed``, ``patience`` ...). With ``out``, the best
    model so far is written there whenever validation improves, with a checkpoint, a history CSV
    and a loss plot beside it; ``resume=True`` continues from that checkpoint. ``on_evaluate(model,
    row)`` is called after each evaluation.
    """
    if level not in LEVELS:
        raise ValueError(f"train_language_model: level must be one of {LEVELS}, got {level!r}")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("train_language_model: the text is empty")
    config = TrainConfig(**train_options)
    train_text, val_text = split_text(text, val_fraction, level)
    vocab = build_vocabulary(train_text, level, min_count, max_vocab)
    train_ids, val_ids = vocab.encode_text(train_text), vocab.encode_text(val_text)
    if len(val_ids) < 3:
        raise ValueError(f"train_language_model: the validation part ({len(val_text)} characters) is too short; "
                         "give a longer text or a larger val_fraction")
    fitted = fit_batch_to_text(len(train_ids), batch_size, seq_len)
    if fitted != (batch_size, seq_len):
        log(f"note: the training text has {len(train_ids)} tokens; using batch_size {fitted[0]} "
            f"and seq_len {fitted[1]} so that one window fits")
        batch_size, seq_len = fitted
    model_config = LanguageModelConfig(len(vocab), embedding_dim, hidden_size, num_layers, cell, dropout)
    model = LanguageModel(model_config, vocab, seed=config.seed)
    task = LanguageModelTask(model, train_ids, val_ids, batch_size, seq_len, len(val_text))
    describe = {"model": vars(model_config), "tokens": len(train_ids), "batch_size": batch_size,
                "seq_len": seq_len, "level": level}
    log(f"{level}-level language model: vocabulary {len(vocab)}, {len(train_ids):,} training and "
        f"{len(val_ids):,} validation tokens, {sum(p.size for p in model.params.values()):,} parameters")
    hook = None if on_evaluate is None else (lambda row: on_evaluate(model, row))
    trainer = Trainer(model.params, task, config, save_model=model.save, out=out, describe=describe, log=log,
                      on_evaluate=hook)
    model.history = trainer.fit(resume=resume)
    return model
