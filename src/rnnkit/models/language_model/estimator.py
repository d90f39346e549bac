"""``LanguageModel``: next-token prediction over the characters or words of a text, as an estimator."""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
from numpy import ndarray

from ..._types import Seed, State
from ...cells import cell_type
from ...data.files import read_text
from ...data.text import fit_batch_to_text
from ...data.vocab import Vocabulary
from ...estimator import Estimator
from ...io import ModelFileError, save_model_file
from ...sampling import sample as sample_text
from ...train import TrainConfig, Trainer
from .inputs import LEVELS, build_vocabulary, split_text
from .network import LanguageModelConfig, LanguageModelNetwork
from .task import LanguageModelTask, evaluate_ids

# how one fit runs rather than what the model is: not written to model files
RUN_PARAMS = ("out", "resume", "verbose")


class LanguageModel(Estimator):
    """A recurrent language model (char-rnn), trained on a text and sampled from.

    ``fit(text)`` builds the vocabulary of the training part, then trains a
    :class:`LanguageModelNetwork` (embedding -> ``num_layers`` x ``cell(hidden_size)`` -> dropout
    -> softmax over the vocabulary) by truncated BPTT: the training tokens are cut into
    ``batch_size`` contiguous streams read in windows of ``seq_len`` tokens, the state carried
    from window to window. The shared :class:`~rnnkit.train.Trainer` runs Adam with gradient
    clipping, evaluates on the held-out text, halves the learning rate at each evaluation that
    does not improve, stops after ``patience`` of them and keeps the best weights. The defaults
    (a 2 x 512 LSTM, embedding 64, dropout 0.25, Adam 2e-3, windows of 64 x 100, clipping at 5)
    are the usual char-rnn settings.

    Args:
        level: ``"char"`` (every character of the training text, ``<UNK>`` for others) or
            ``"word"`` (words seen ``min_count`` times, at most ``max_vocab`` of them, ``<UNK>``
            for the rest and ``<EOS>`` ending each line).
        cell, hidden_size, num_layers, embedding_dim, dropout: the network (dropout acts between
            recurrent layers and before the softmax).
        seq_len, batch_size: the truncated-BPTT window and the number of parallel streams (both
            shrink, with a log message, when the training text is too short for one window).
        val_fraction: the tail of the text held out for validation when ``fit`` is given none.
        min_count, max_vocab: the word-level vocabulary.
        lr, clip, eval_every, patience, max_steps, max_minutes: training (see
            :class:`~rnnkit.train.TrainConfig`).
        out: the model file; with it the best model so far is written there whenever validation
            improves, with ``<out>.ckpt``, ``<out>.history.csv`` and ``<out>.loss.png`` beside it.
        resume: continue the run saved in ``<out>.ckpt`` (the same settings and text) instead of
            starting afresh; a resumed run replays the uninterrupted one.
        seed: initialisation, dropout masks.
        verbose: log messages (logger ``"rnnkit"``) and a progress bar on stderr while fitting.

    Attributes, after ``fit`` or :func:`rnnkit.load`:
        network_: the :class:`LanguageModelNetwork`, with the best validation weights.
        vocabulary_: its :class:`~rnnkit.Vocabulary` (also ``network_.vocab``).
        history_: one dict per evaluation (``step``, ``minutes``, ``train_loss``, ``val_loss``,
            ``val_bpc``, ...); empty for a loaded model (its ``<out>.history.csv`` holds it).
    """

    kind = "language_model"

    def __init__(self, level: str = "char", cell: str = "lstm", hidden_size: int = 512, num_layers: int = 2,
                 embedding_dim: int = 64, dropout: float = 0.25, seq_len: int = 100, batch_size: int = 64,
                 val_fraction: float = 0.1, min_count: int = 1, max_vocab: int | None = None, lr: float = 2e-3,
                 clip: float = 5.0, eval_every: int | None = None, patience: int = 3, max_steps: int | None = None,
                 max_minutes: float | None = None, out: str | os.PathLike | None = None, resume: bool = False,
                 seed: int = 0, verbose: bool = False):
        self.level = level
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.seq_len = seq_len
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.min_count = min_count
        self.max_vocab = max_vocab
        self.lr = lr
        self.clip = clip
        self.eval_every = eval_every
        self.patience = patience
        self.max_steps = max_steps
        self.max_minutes = max_minutes
        self.out = out
        self.resume = resume
        self.seed = seed
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False   # a text is its own target
        return tags

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, text: str, validation: str | None = None) -> LanguageModel:
        """Train on ``text`` and return self.

        Args:
            text: the training text.
            validation: a held-out text for early stopping and choosing the best weights; the
                model then trains on all of ``text``. Default: the last ``val_fraction`` of
                ``text`` (moved to the next line break at word level) is held out.
        """
        return self._fit(text, validation)

    def _fit(self, text: str, validation: str | None,
             on_evaluate: Callable[[LanguageModel, dict], None] | None = None) -> LanguageModel:
        """:meth:`fit`, calling ``on_evaluate(self, row)`` after each evaluation (the model can
        already sample then: it holds the weights being trained)."""
        config = self._check_params()
        out = self._checked_out("LanguageModel")
        for name, value in (("text", text), ("validation", validation)):
            if not (isinstance(value, str) or (name == "validation" and value is None)):
                raise ValueError(f"LanguageModel.fit: expected {name} as a str, got {type(value).__name__}")
        if not text.strip():
            raise ValueError("LanguageModel.fit: the text is empty")
        if validation is None:
            train_text, val_text = split_text(text, self.val_fraction, self.level)
        else:
            train_text, val_text = text, validation
        vocab = build_vocabulary(train_text, self.level, self.min_count, self.max_vocab)
        train_ids, val_ids = vocab.encode_text(train_text), vocab.encode_text(val_text)
        if len(val_ids) < 3:
            where = ("the validation text" if validation is not None
                     else f"the validation part (the last {self.val_fraction:g} of the text)")
            raise ValueError(f"LanguageModel.fit: {where} has {len(val_ids)} tokens ({len(val_text)} characters); "
                             "need at least 3: give a longer text or a larger val_fraction")
        try:
            batch_size, seq_len = fit_batch_to_text(len(train_ids), self.batch_size, self.seq_len)
        except ValueError as e:
            raise ValueError(f"LanguageModel.fit: {e}") from e
        for name in ("network_", "vocabulary_", "history_"):   # nothing of an earlier fit survives a refit
            self.__dict__.pop(name, None)
        with self._logging() as log:
            if (batch_size, seq_len) != (self.batch_size, self.seq_len):
                log(f"note: the training text has {len(train_ids)} tokens; using batch_size {batch_size} "
                    f"and seq_len {seq_len} so that one window fits")
            architecture = LanguageModelConfig(len(vocab), self.embedding_dim, self.hidden_size, self.num_layers,
                                               self.cell, self.dropout)
            network = LanguageModelNetwork(architecture, vocab, seed=self.seed)
            task = LanguageModelTask(network, train_ids, val_ids, batch_size, seq_len, len(val_text))
            # what a resume checks it continues (the same keys as before the estimator, so older
            # checkpoints resume); an explicit validation text is part of the run too
            describe = {"model": vars(architecture), "tokens": len(train_ids), "batch_size": batch_size,
                        "seq_len": seq_len, "level": self.level}
            if validation is not None:
                describe["validation_tokens"] = len(val_ids)
            log(f"{self.level}-level language model: vocabulary {len(vocab)}, {len(train_ids):,} training and "
                f"{len(val_ids):,} validation tokens, {sum(p.size for p in network.params.values()):,} parameters")
            # fitted state is set before training so that saving the best model and on_evaluate
            # (the demo samples there) see the model being trained
            self.network_, self.vocabulary_ = network, vocab
            hook = None if on_evaluate is None else (lambda row: on_evaluate(self, row))
            trainer = Trainer(network.params, task, config, save_model=self.save, out=out, describe=describe,
                              log=log, on_evaluate=hook)
            try:
                self.history_ = trainer.fit(resume=bool(self.resume))
            except BaseException:
                del self.network_, self.vocabulary_   # a failed fit leaves no half-trained model behind
                raise
        return self

    def _check_params(self) -> TrainConfig:
        """The hyperparameters checked (fit does it: ``__init__`` and ``set_params`` store them as
        given) and the Trainer's configuration they make."""
        if self.level not in LEVELS:
            raise ValueError(f"LanguageModel: level must be one of {LEVELS}, got {self.level!r}")
        cell_type(self.cell, "LanguageModel")
        for name in ("hidden_size", "num_layers", "embedding_dim", "seq_len", "batch_size", "min_count", "patience",
                     "max_vocab", "eval_every", "max_steps", "seed"):
            _check_int(name, getattr(self, name), minimum=0 if name == "seed" else 1,
                       optional=name in ("max_vocab", "eval_every", "max_steps"))
        _check_real("dropout", self.dropout, lambda v: 0 <= v < 1, "in [0, 1)")
        _check_real("val_fraction", self.val_fraction, lambda v: 0 < v < 1, "in (0, 1)")
        _check_real("lr", self.lr, lambda v: v > 0, "> 0")
        _check_real("clip", self.clip, lambda v: v >= 0, ">= 0 (0: no clipping)")
        _check_real("max_minutes", self.max_minutes, lambda v: v > 0, "> 0", optional=True)
        if self.resume and self.out is None:
            raise ValueError("LanguageModel: resume=True needs out, the model file whose checkpoint "
                             "<out>.ckpt the run continues")
        return TrainConfig(lr=self.lr, clip=self.clip, eval_every=self.eval_every, patience=self.patience,
                           max_steps=self.max_steps, max_minutes=self.max_minutes, seed=int(self.seed),
                           progress=bool(self.verbose))

    # -- using the model ---------------------------------------------------------------------
    def sample(self, length: int = 500, prime: str = "", temperature: float = 1.0, top_k: int | None = None,
               seed: Seed = None, stop_at_eos: bool = False) -> str:
        """``prime`` and up to ``length`` tokens drawn after it; see :func:`rnnkit.sampling.sample`
        (deterministic for a ``seed``; ``temperature=0`` is greedy decoding)."""
        self._check_fitted("sample")
        return sample_text(self.network_, length=length, prime=prime, temperature=temperature, top_k=top_k,
                           seed=seed, stop_at_eos=stop_at_eos)

    def step(self, ids: ndarray, state: State | None = None) -> tuple[ndarray, State]:
        """One token per sequence through the network, for decoding loops of your own:
        ids: (B,) token ids -> logits: (B, V) of the next token, the new state (None: zeros)."""
        self._check_fitted("step")
        ids = np.asarray(ids)
        V = self.network_.config.vocab_size
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer) or ((ids < 0) | (ids >= V)).any():
            raise ValueError(f"LanguageModel.step: expected ids of shape (B,), ints in [0, {V}), "
                             f"got {ids.dtype} of shape {ids.shape}")
        return self.network_.step(ids, state)

    def evaluate(self, text: str, batch_size: int = 64, seq_len: int = 100) -> dict[str, float]:
        """Loss on ``text``: ``loss`` (nats per token), ``bpc`` (bits per character) and
        ``perplexity``, reading it as ``batch_size`` contiguous streams with the state carried."""
        self._check_fitted("evaluate")
        return _evaluate_network(self.network_, text, batch_size, seq_len, "LanguageModel.evaluate")

    def score(self, text: str) -> float:
        """Minus the mean loss on ``text`` in nats per token (``-evaluate(text)["loss"]``): higher is
        better, as scikit-learn's model selection expects; 0 would be a model that is never surprised."""
        self._check_fitted("score")
        return -self.evaluate(text)["loss"]

    def evaluate_file(self, path) -> dict[str, float]:
        """:meth:`evaluate` on a UTF-8 text file (what ``rnnkit evaluate`` prints)."""
        self._check_fitted("evaluate_file")
        return self.evaluate(read_text(path))

    # -- files -------------------------------------------------------------------------------
    def save(self, path) -> None:
        """One safetensors file: the network's parameters; its architecture (``config``), dtype,
        vocabulary and the hyperparameters in the metadata."""
        self._check_fitted("save")
        network = self.network_
        hyperparameters = {k: v for k, v in self.get_params().items() if k not in RUN_PARAMS}
        metadata = {"kind": self.kind, "config": asdict(network.config), "dtype": network.dtype.name,
                    "vocab": None if network.vocab is None else network.vocab.to_dict(),
                    "hyperparameters": hyperparameters}
        save_model_file(path, network.params, metadata)

    @classmethod
    def from_file_contents(cls, arrays: dict[str, ndarray], metadata: dict, path: str) -> LanguageModel:
        """The model a file holds (:func:`rnnkit.load` calls this). Files written before the
        estimator have no ``"hyperparameters"``; those are then read off the architecture and the
        vocabulary, the training ones left at their defaults."""
        try:
            config = LanguageModelConfig(**metadata["config"])
            vocab = None if metadata.get("vocab") is None else Vocabulary.from_dict(metadata["vocab"])
            network = LanguageModelNetwork(config, vocab, seed=0, dtype=np.dtype(metadata.get("dtype", "float32")))
            network.load_params(arrays)
            hyperparameters = metadata.get("hyperparameters")
            if hyperparameters is None:
                hyperparameters = {"level": "char" if vocab is None else vocab.level, "cell": config.cell,
                                   "hidden_size": config.hidden_size, "num_layers": config.num_layers,
                                   "embedding_dim": config.embedding_dim, "dropout": config.dropout}
            model = cls(**hyperparameters)
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{path}: not a valid language model file ({e})") from e
        model.network_, model.vocabulary_, model.history_ = network, vocab, []
        return model


def _check_int(name: str, value, minimum: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"LanguageModel: {name} must be an int >= {minimum}{' or None' * optional}, got {value!r}")


def _check_real(name: str, value, ok: Callable[[float], bool], expected: str, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not ok(value):
        raise ValueError(f"LanguageModel: {name} must be a number {expected}{' or None' * optional}, got {value!r}")


def _evaluate_network(network: LanguageModelNetwork, text: str, batch_size: int, seq_len: int,
                      who: str) -> dict[str, float]:
    if not isinstance(text, str):
        raise ValueError(f"{who}: expected text as a str, got {type(text).__name__}")
    if network.vocab is None:
        raise ValueError(f"{who}: the model has no vocabulary to encode text with")
    ids = network.vocab.encode_text(text)
    if len(ids) < 3:
        raise ValueError(f"{who}: the text has {len(ids)} tokens; need at least 3")
    return evaluate_ids(network, ids, len(text), batch_size, seq_len)


def train_language_model(text: str, out: str | os.PathLike | None = None, *,
                         on_evaluate: Callable[[LanguageModel, dict], None] | None = None,
                         progress: bool | None = None, **params) -> LanguageModel:
    """``LanguageModel(out=out, **params).fit(text)``: a language model trained on ``text``.

    ``params`` are :class:`LanguageModel`'s hyperparameters. ``on_evaluate(model, row)`` is
    called after each evaluation with the model being trained (it can sample already) and the
    new history row. ``progress`` is the older name of ``verbose``. Nothing is printed unless
    ``verbose=True`` (messages then go to stderr through the ``"rnnkit"`` logger).
    """
    if progress is not None and "verbose" not in params:
        params["verbose"] = progress
    return LanguageModel(out=out, **params)._fit(text, None, on_evaluate)


def evaluate_text(model: LanguageModel | LanguageModelNetwork, text: str, batch_size: int = 64,
                  seq_len: int = 100) -> dict[str, float]:
    """Loss of a fitted :class:`LanguageModel` (or of a bare :class:`LanguageModelNetwork` with a
    vocabulary) on ``text``: nats per token, bits per character, perplexity; see
    :meth:`LanguageModel.evaluate`."""
    if isinstance(model, LanguageModel):
        return model.evaluate(text, batch_size, seq_len)
    return _evaluate_network(model, text, batch_size, seq_len, "evaluate_text")


__all__ = ["LanguageModel", "evaluate_text", "train_language_model"]
