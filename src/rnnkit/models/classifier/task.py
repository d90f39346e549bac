"""The classifier's training: the task the shared :class:`~rnnkit.train.Trainer` drives for one
network (stratified validation splits, shuffled mini-batches, class-weighted cross-entropy), and
the checkpoint of an ensemble trained network by network."""
from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from numpy import ndarray

from ..._types import Grads, Params, prefixed, unprefixed
from ...estimator import LOGGER
from ...io import load_model_file, save_model_file
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


def split_is_empty(y: ndarray, val_fraction: float) -> bool:
    """Whether :func:`stratified_split` holds nothing out (it depends on the class counts only)."""
    counts = np.unique(y, return_counts=True)[1]
    return all(min(n - 1, int(round(val_fraction * n))) == 0 for n in counts)


class Validation(NamedTuple):
    """Held-out cases a network early-stops on: padded input, lengths ``(N,)``, class indices ``(N,)``."""
    x: ndarray
    lengths: ndarray
    y: ndarray


class EnsembleData(NamedTuple):
    """What every network of a fit trains on: the input kind, the sequences, their class indices,
    the class weights, the validation ``(sequences, class indices)`` or None, minutes per network."""
    kind: str
    seqs: list
    target: ndarray
    weights: ndarray | None
    val: tuple[list, ndarray] | None
    minutes: float | None


class ClassificationTask:
    """Mini-batches of padded sequences, reshuffled each epoch with a Generator seeded from
    ``(seed, epoch)`` (so batch k is a pure function of k); class-weighted cross-entropy; the
    validation loss (and accuracy) on ``val`` for early stopping. ``augment(idx, rng) ->
    (x, lengths)``, if given, makes the training batches (a fresh random variant of each case)."""

    def __init__(self, net: ClassifierNetwork, x: ndarray, lengths: ndarray, y: ndarray, train_idx: ndarray,
                 val: Validation, batch_size: int, class_weight: ndarray | None, seed: int,
                 augment: Callable | None = None):
        self.net, self.x, self.lengths, self.y, self.augment = net, x, lengths, y, augment
        self.train_idx, self.val = train_idx, val
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
        logits = self.net.predict_logits(self.val.x, self.val.lengths)
        loss, _ = softmax_cross_entropy(logits, self.val.y, class_weight=self.class_weight)
        return {"loss": loss, "accuracy": float((logits.argmax(1) == self.val.y).mean())}

    def state_arrays(self) -> dict[str, ndarray]:
        return {}

    def load_state_arrays(self, arrays: dict[str, ndarray]) -> None:
        pass


def train_network(net: ClassifierNetwork, x: ndarray, lengths: ndarray, y: ndarray, *, val_fraction: float,
                  batch_size: int, class_weight: ndarray | None, seed: int, train_options: dict,
                  log: Callable[[str], None] = LOGGER.debug, augment: Callable | None = None,
                  validation: Validation | None = None) -> tuple[list[dict], str]:
    """Train ``net`` in place; early stopping on the validation loss and the best parameters
    restored (the shared :class:`Trainer`). Validation is ``validation`` when given, else a
    stratified split of ``(x, lengths, y)`` (with too few cases for one, no class with two cases,
    the training cases themselves, for the step budget). Returns the history and why the trainer
    stopped (``"interrupted"`` after a Ctrl-C)."""
    if validation is None:
        train_idx, val_idx = stratified_split(y, val_fraction, np.random.default_rng([seed, 1]))
        if len(val_idx) == 0:
            val_idx = train_idx
        validation = Validation(x[val_idx], lengths[val_idx], y[val_idx])
    else:
        train_idx = np.arange(len(y))
    task = ClassificationTask(net, x, lengths, y, train_idx, validation, batch_size, class_weight, seed, augment)
    options = dict(train_options)
    options.setdefault("eval_every", task.steps_per_epoch)
    # a validation loss creeping down by less than this is not progress: without it a model that
    # already separates its validation set trains on for the whole epoch budget
    options.setdefault("min_delta", 1e-3)
    trainer = Trainer(net.params, task, TrainConfig(seed=seed, **options), log=log)
    history = trainer.fit()
    return history, trainer.state.stopped


class EnsembleCheckpoint:
    """``<out>.ckpt`` of an ensemble fitted network by network, for every framing tried: the
    finished networks' parameters (``framings.<f>.networks.<m>.*``) and history rows, and a
    description of the run (hyperparameters, framings, a digest of the data) that a resume must
    match. Everything else (scaling statistics, vocabulary) is recomputed from the same data."""

    def __init__(self, path: str, describe: dict):
        # as it reads back from the file (tuples become lists, NumPy scalars numbers)
        self.path, self.describe = path, json.loads(json.dumps(describe, default=_numpy_to_json))

    def save(self, fitted: list[tuple[list[Params], list[dict]]]) -> None:
        """``fitted``: per framing started, the finished networks' parameters and their history."""
        arrays: Params = {}
        for f, (networks, _) in enumerate(fitted):
            for m, params in enumerate(networks):
                arrays.update(prefixed(f"framings.{f}.networks.{m}", params))
        metadata = {"kind": "checkpoint", "describe": self.describe,
                    "ensemble": [{"networks": len(networks), "history": history} for networks, history in fitted]}
        save_model_file(self.path, arrays, metadata)

    def load(self) -> list[tuple[list[Params], list[dict]]]:
        """What :meth:`save` wrote, if it was written for the same run."""
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"resume: no checkpoint at {self.path}")
        arrays, metadata = load_model_file(self.path)
        if metadata.get("kind") != "checkpoint" or "ensemble" not in metadata:
            raise ValueError(f"resume: {self.path} is not a classifier's training checkpoint")
        if metadata.get("describe") != self.describe:
            raise ValueError(f"resume: {self.path} was written for a different model or data "
                             f"({metadata.get('describe')}); start a new run or use the same settings")
        fitted = []
        for f, entry in enumerate(metadata["ensemble"]):
            networks = [unprefixed(f"framings.{f}.networks.{m}", arrays) for m in range(int(entry["networks"]))]
            fitted.append((networks, list(entry["history"])))
        return fitted


def _numpy_to_json(value):
    if isinstance(value, (np.generic, np.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


__all__ = ["ClassificationTask", "EnsembleCheckpoint", "EnsembleData", "Validation", "split_is_empty", "stratified_split",
           "train_network"]
