"""The forecaster's training task for the shared :class:`~rnnkit.train.Trainer`: an ensemble of
networks trained side by side on shuffled (window, future) pairs."""
from __future__ import annotations

import math

import numpy as np
from numpy import ndarray

from ..._types import Grads, prefixed
from ...losses import mse
from .network import ForecastEnsemble


class ForecastTask:
    """Mini-batches of windows for every member of a :class:`ForecastEnsemble`.

    Each member reads the training pairs in its own order, reshuffled every epoch by a Generator
    seeded from ``(seed, epoch, member)``, so batch ``step`` is a pure function of ``step`` (what
    exact resumption needs) and the members see different batches (which decorrelates their
    errors). The reported loss is the members' mean MSE; each member gets the gradient of its own
    MSE only. Validation scores the averaged forecast, the one the model will make.

    Args:
        ensemble: the networks, trained in place.
        x, y: (N, L, D_in) training inputs and (N, K, D_out) targets, already scaled.
        x_val, y_val: the same for the validation pairs.
        batch_size: pairs per step (fewer in an epoch's last batch).
        seed: the base of the shuffling seeds.
    """

    def __init__(self, ensemble: ForecastEnsemble, x: ndarray, y: ndarray, x_val: ndarray, y_val: ndarray,
                 batch_size: int, seed: int):
        self.ensemble, self.x, self.y, self.x_val, self.y_val = ensemble, x, y, x_val, y_val
        self.batch_size, self.seed = min(batch_size, len(x)), seed
        self.steps_per_epoch = math.ceil(len(x) / self.batch_size)

    def batch(self, step: int, member: int) -> ndarray:
        """Indices of the training pairs member ``member`` reads at ``step``."""
        epoch, k = divmod(step, self.steps_per_epoch)
        order = np.random.default_rng([self.seed, epoch, member]).permutation(len(self.x))
        return order[k * self.batch_size:(k + 1) * self.batch_size]

    def train_step(self, step: int, rng: np.random.Generator) -> tuple[float, Grads, int]:
        losses, grads = [], {}
        for m, member in enumerate(self.ensemble.members):
            idx = self.batch(step, m)
            pred, cache = member.forward(self.x[idx], training=True, rng=rng)
            loss, dpred = mse(pred, self.y[idx])
            _, g = member.backward(dpred, cache)
            losses.append(loss)
            grads.update(prefixed(f"members.{m}", g))
        return float(np.mean(losses)), grads, len(idx)

    def evaluate(self) -> dict[str, float]:
        preds = [member.forward(self.x_val, training=False)[0] for member in self.ensemble.members]
        loss, _ = mse(np.mean(preds, axis=0), self.y_val)
        return {"loss": loss, "member_loss": float(np.mean([mse(p, self.y_val)[0] for p in preds]))}

    def state_arrays(self) -> dict[str, ndarray]:
        return {}

    def load_state_arrays(self, arrays: dict[str, ndarray]) -> None:
        pass


__all__ = ["ForecastTask"]
