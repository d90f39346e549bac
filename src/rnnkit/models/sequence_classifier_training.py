"""The network behind :class:`rnnkit.SequenceClassifier` and its training task for the shared Trainer."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .._types import Grads, Params, Seed, as_rng, prefixed
from ..layers.dense import Dense
from ..layers.dropout import Dropout
from ..layers.embedding import Embedding
from ..layers.pooling import make_pooling
from ..losses import softmax_cross_entropy
from ..networks import GRU, LSTM, RNN
from ..train import TrainConfig, Trainer

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


class NetworkCache(NamedTuple):
    emb: object
    rnn: object
    pool: object
    drop: object
    head: object
    lengths: ndarray | None


class ClassifierNetwork:
    """Many-to-one: ``[embedding] -> stacked (bi)RNN -> pooling over valid steps -> dropout -> dense``::

        e_bt = E[ids_bt]  (token input)  or  x_bt  (feature input)
        h_b  = RNN(e_b1 .. e_bT_b)                 (B, T, n_dir * H), padding gives zeros
        s_b  = pool(h_b, len_b)                    (B, P): last / mean / max / attention, or several
        logits_b = dropout(s_b) W + b              (B, K)

    Parameters: ``embedding.E`` (token input only), ``rnn.layers.<l>.*``, ``pool.*`` (attention
    only), ``head.W``, ``head.b``.
    """

    def __init__(self, input_size: int, num_classes: int, *, vocab_size: int | None = None,
                 embedding_dim: int = 64, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = True, pooling: str = "mean+max", dropout: float = 0.2,
                 seed: Seed = None, dtype=np.float32):
        if cell not in CELLS:
            raise ValueError(f"SequenceClassifier: cell must be one of {sorted(CELLS)}, got {cell!r}")
        rng = as_rng(seed)
        self.dtype = np.dtype(dtype)
        self.embedding = None
        if vocab_size is not None:
            self.embedding = Embedding(vocab_size, embedding_dim, padding_idx=0, dtype=dtype, seed=rng)
            # N(0, 1) rows would swamp the recurrent weights' scale; Keras' small uniform init trains better
            self.embedding.params["E"][...] = rng.uniform(-0.1, 0.1, self.embedding.params["E"].shape)
            self.embedding.params["E"][0] = 0.0
            input_size = embedding_dim
        self.rnn = CELLS[cell](input_size, hidden_size, num_layers, bidirectional, dropout, dtype=dtype, seed=rng)
        width = self.rnn.output_size
        self.pool = make_pooling(pooling, width, 2 if bidirectional else 1, dtype=dtype, seed=rng)
        self.dropout = Dropout(dropout)
        self.head = Dense(self.pool.output_size(width), num_classes, dtype=dtype, seed=rng)
        self.params: Params = {}
        if self.embedding is not None:
            self.params.update(prefixed("embedding", self.embedding.params))
        self.params.update({**prefixed("rnn", self.rnn.params), **prefixed("pool", self.pool.params),
                            **prefixed("head", self.head.params)})

    def forward(self, x: ndarray, lengths: ndarray | None = None, training: bool = True,
                rng: np.random.Generator | None = None) -> tuple[ndarray, NetworkCache]:
        """x: (B, T, D) float features or (B, T) int ids; lengths: (B,) -> logits: (B, K), cache."""
        rng = as_rng(rng) if training else None
        emb_cache = None
        if self.embedding is not None:
            x, emb_cache = self.embedding.forward(x)
        h, _, rnn_cache = self.rnn.forward(x, None, lengths, training=training, rng=rng)
        s, pool_cache = self.pool.forward(h, lengths)
        s, drop_cache = self.dropout.forward(s, training=training, rng=rng)
        logits, head_cache = self.head.forward(s)
        return logits, NetworkCache(emb_cache, rnn_cache, pool_cache, drop_cache, head_cache, lengths)

    def backward(self, dlogits: ndarray, cache: NetworkCache) -> tuple[ndarray | None, Grads]:
        """dlogits: (B, K) -> dx: (B, T, D) (None for token input), grads with the keys of params."""
        ds, head_grads = self.head.backward(dlogits, cache.head)
        ds = self.dropout.backward(ds, cache.drop)
        dh, pool_grads = self.pool.backward(ds, cache.pool)
        dx, _, rnn_grads = self.rnn.backward(dh.astype(self.dtype, copy=False), None, cache.rnn)
        grads = {**prefixed("rnn", rnn_grads), **prefixed("pool", pool_grads), **prefixed("head", head_grads)}
        if self.embedding is not None:
            _, emb_grads = self.embedding.backward(dx, cache.emb)
            grads.update(prefixed("embedding", emb_grads))
            dx = None
        return dx, {k: grads[k] for k in self.params}

    def predict_logits(self, x: ndarray, lengths: ndarray, batch_size: int = 256) -> ndarray:
        """Logits for all of ``x`` (padded, ``(N, T, ...)``) in batches, without dropout."""
        out = []
        for start in range(0, len(x), batch_size):
            sl = slice(start, start + batch_size)
            T = int(lengths[sl].max())                   # no work on columns that are all padding
            logits, _ = self.forward(x[sl, :T], lengths[sl], training=False)
            out.append(logits)
        return np.concatenate(out).astype(np.float64)


def stratified_split(y: ndarray, val_fraction: float, rng: np.random.Generator) -> tuple[ndarray, ndarray]:
    """Indices (train, val): ``round(val_fraction * n_c)`` cases of each class ``c`` go to
    validation, but never a class's last case, so every class stays in training."""
    train, val = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = min(len(idx) - 1, int(round(val_fraction * len(idx))))
        val.extend(idx[:k])
        train.extend(idx[k:])
    return np.sort(np.array(train, dtype=np.int64)), np.sort(np.array(val, dtype=np.int64))


class ClassificationTask:
    """Mini-batches of padded sequences, reshuffled each epoch with a Generator seeded from
    ``(seed, epoch)`` (so batch k is a pure function of k); class-weighted cross-entropy; the
    validation loss (and accuracy) on a held-out part for early stopping. ``augment(idx, rng) ->
    (x, lengths)``, if given, makes the training batches (a fresh random variant of each case)."""

    def __init__(self, net: ClassifierNetwork, x: ndarray, lengths: ndarray, y: ndarray, train_idx: ndarray,
                 val_idx: ndarray, batch_size: int, class_weight: ndarray | None, seed: int,
                 augment: Callable | None = None):
        self.net, self.x, self.lengths, self.y, self.augment = net, x, lengths, y, augment
        self.train_idx, self.val_idx = train_idx, val_idx
        self.batch_size = min(batch_size, len(train_idx))
        self.class_weight, self.seed = class_weight, seed
        self.steps_per_epoch = math.ceil(len(train_idx) / self.batch_size)

    def batch(self, idx: ndarray) -> tuple[ndarray, ndarray, ndarray]:
        lengths = self.lengths[idx]
        return self.x[idx, :int(lengths.max())], lengths, self.y[idx]

    def train_step(self, step: int, rng: np.random.Generator) -> tuple[float, Grads, int]:
        epoch, k = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng([self.seed, epoch]).permutation(self.train_idx)
        idx = order[k * self.batch_size:(k + 1) * self.batch_size]
        if self.augment is None:
            x, lengths, y = self.batch(idx)
        else:
            (x, lengths), y = self.augment(idx, rng), self.y[idx]
        logits, cache = self.net.forward(x, lengths, training=True, rng=rng)
        loss, dlogits = softmax_cross_entropy(logits, y, class_weight=self.class_weight)
        _, grads = self.net.backward(dlogits, cache)
        return loss, grads, len(y)

    def evaluate(self) -> dict[str, float]:
        idx = self.val_idx
        logits = self.net.predict_logits(self.x[idx], self.lengths[idx])
        loss, _ = softmax_cross_entropy(logits, self.y[idx], class_weight=self.class_weight)
        return {"loss": loss, "accuracy": float((logits.argmax(1) == self.y[idx]).mean())}

    def state_arrays(self) -> dict[str, ndarray]:
        return {}

    def load_state_arrays(self, arrays: dict[str, ndarray]) -> None:
        pass


def train_network(net: ClassifierNetwork, x: ndarray, lengths: ndarray, y: ndarray, *, val_fraction: float,
                  batch_size: int, class_weight: ndarray | None, seed: int, train_options: dict,
                  log=print, augment: Callable | None = None) -> list[dict]:
    """Train ``net`` in place on a stratified split of ``(x, lengths, y)``; early stopping on the
    validation loss and the best parameters restored (the shared :class:`Trainer`). With too few
    cases for a split (no class with two cases), it trains on everything for the step budget."""
    rng = np.random.default_rng([seed, 1])
    train_idx, val_idx = stratified_split(y, val_fraction, rng)
    if len(val_idx) == 0:
        val_idx = train_idx
        log("note: too few cases for a validation split; selecting on the training loss")
    task = ClassificationTask(net, x, lengths, y, train_idx, val_idx, batch_size, class_weight, seed, augment)
    options = dict(train_options)
    options.setdefault("eval_every", task.steps_per_epoch)
    # a validation loss creeping down by less than this is not progress: without it a model that
    # already separates its validation set trains on for the whole epoch budget
    options.setdefault("min_delta", 1e-3)
    config = TrainConfig(seed=seed, **options)
    return Trainer(net.params, task, config, log=log).fit()


__all__ = ["ClassifierNetwork", "ClassificationTask", "stratified_split", "train_network", "CELLS"]
