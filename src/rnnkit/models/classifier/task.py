"""The classifier's training task for the shared :class:`~rnnkit.train.Trainer`: stratified
validation splits, shuffled mini-batches, class-weighted cross-entropy."""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy import ndarray

from ..._types import Grads
from ...losses import softmax_cross_entropy
from ...train import TrainConfig, Trainer
from .network import ClassifierNetwork


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


__all__ = ["ClassificationTask", "stratified_split", "train_network"]
