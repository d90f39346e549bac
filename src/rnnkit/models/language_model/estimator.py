"""Training and evaluating a :class:`LanguageModel` on a text: truncated BPTT with carried state."""
from __future__ import annotations

import os
from collections.abc import Callable

from ...data.text import fit_batch_to_text
from ...train import TrainConfig, Trainer
from .inputs import LEVELS, build_vocabulary, split_text
from .network import LanguageModel, LanguageModelConfig
from .task import LanguageModelTask


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
