"""Optimizers, gradient clipping and learning-rate schedules.

An optimizer acts on two dicts with the same keys, ``params`` and ``grads`` (flat dotted names
to arrays, see the mirror rule in ``_types``), and updates ``params`` **in place**: the arrays are
shared with the layers that own them, so they are never rebound. ``grads`` are only read (cast to
the parameter's dtype). Each optimizer keeps its own per-key state, in the parameter's dtype, and
follows ``torch.optim``'s update rule exactly (``maximize=False``, ``foreach=False``)::

    opt = Adam(lr=1e-3)
    for step in range(num_steps):
        apply_schedule(opt, CosineDecay(num_steps), step, base_lr=1e-3)  # optional
        grads = ...                                                      # the backward pass
        clip_grad_norm(grads, max_norm=5.0)                              # optional
        opt.step(model.params, grads)

Checkpoints: ``opt.state_dict()`` is a flat ``dict[str, ndarray]`` (scalars as 0-d arrays), so
``safetensors.numpy.save_file(opt.state_dict(), path)`` stores it as is and
``opt.load_state_dict(load_file(path))`` resumes bit-exactly. Its keys are

    "hyper.<name>"          hyperparameters (lr, momentum, betas, ...), restored on load as
                            torch's ``load_state_dict`` restores its param groups
    "state.<key>.<buffer>"  per-parameter buffers (momentum_buffer, sum, square_avg, exp_avg,
                            exp_avg_sq) and the per-parameter step counter "step" (int64)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy import ndarray

from ._types import Grads, Params


class Optimizer:
    """Base class: checks the dicts, keeps per-key state, saves and loads it.

    Subclasses name their hyperparameters in ``_hyper`` and implement ``_update``.
    """

    _hyper: tuple[str, ...] = ("lr",)
    _buffers: tuple[str, ...] = ()

    def __init__(self, lr: float, weight_decay: float = 0.0) -> None:
        if lr < 0:
            raise ValueError(f"{type(self).__name__}: expected lr >= 0, got {lr}")
        if weight_decay < 0:
            raise ValueError(f"{type(self).__name__}: expected weight_decay >= 0, got {weight_decay}")
        self.lr = lr
        self.weight_decay = weight_decay
        self.state: dict[str, dict[str, Any]] = {}

    def step(self, params: Params, grads: Grads) -> None:
        """Update every array of ``params`` in place from the matching array of ``grads``."""
        name = type(self).__name__
        if params.keys() != grads.keys():
            missing = sorted(params.keys() - grads.keys())
            extra = sorted(grads.keys() - params.keys())
            raise ValueError(f"{name}.step: params and grads must have the same keys; "
                             f"no gradient for {missing}, gradients without a parameter: {extra}")
        checked = {}
        for key, p in params.items():  # check everything before updating anything
            if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
                raise TypeError(f"{name}.step: params[{key!r}] must be a floating-point ndarray "
                                f"(updated in place), got {type(p).__name__} {getattr(p, 'dtype', '')}")
            g = np.asarray(grads[key])
            if g.shape != p.shape:
                raise ValueError(f"{name}.step: grads[{key!r}] has shape {g.shape}, "
                                 f"params[{key!r}] has {p.shape}")
            for buffer, value in self.state.get(key, {}).items():
                if buffer != "step" and value.shape != p.shape:
                    raise ValueError(f"{name}.step: state {buffer!r} of {key!r} has shape "
                                     f"{value.shape}, params[{key!r}] has {p.shape}")
            checked[key] = g.astype(p.dtype, copy=False)
        for key, g in checked.items():
            p = params[key]
            state = self.state.setdefault(key, {})
            for buffer, value in state.items():
                if buffer != "step" and value.dtype != p.dtype:  # e.g. state saved from float64
                    state[buffer] = value.astype(p.dtype)
            self._update(p, g, state)

    def _update(self, p: ndarray, g: ndarray, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict[str, ndarray]:
        """Hyperparameters and per-key state as a flat dict of arrays (copies); see the module doc."""
        d = {f"hyper.{h}": np.array(getattr(self, h)) for h in self._hyper}
        for key, state in self.state.items():
            for buffer, value in state.items():
                d[f"state.{key}.{buffer}"] = (np.array(value, dtype=np.int64) if buffer == "step"
                                              else value.copy())
        return d

    def load_state_dict(self, d: dict[str, ndarray | float | int]) -> None:
        """Restore what :meth:`state_dict` returned (arrays, or Python scalars for the scalars)."""
        name = type(self).__name__
        missing = [f"hyper.{h}" for h in self._hyper if f"hyper.{h}" not in d]
        if missing:
            raise ValueError(f"{name}.load_state_dict: missing {missing}")
        state: dict[str, dict[str, Any]] = {}
        for k, v in d.items():
            if k.startswith("hyper.") and k[6:] in self._hyper:
                continue
            key, _, buffer = k[6:].rpartition(".")
            if not k.startswith("state.") or not key or buffer not in self._buffers + ("step",):
                raise ValueError(f"{name}.load_state_dict: unexpected key {k!r}; expected "
                                 f"'hyper.<{'|'.join(self._hyper)}>' or "
                                 f"'state.<param key>.<{'|'.join(self._buffers + ('step',))}>'")
            state.setdefault(key, {})[buffer] = (int(np.asarray(v)) if buffer == "step"
                                                 else np.array(v, copy=True))
        for h in self._hyper:
            v = np.asarray(d[f"hyper.{h}"])
            setattr(self, h, v.item() if v.ndim == 0 else tuple(v.tolist()))
        self.state = state

    def __repr__(self) -> str:
        args = ", ".join(f"{h}={getattr(self, h)!r}" for h in self._hyper)
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    g = grad + weight_decay * p
    b = g on the first step, else b = momentum * b + g
    g = g + momentum * b if nesterov else b          (when momentum > 0)
    p = p - lr * g
    """

    _hyper = ("lr", "momentum", "nesterov", "weight_decay")
    _buffers = ("momentum_buffer",)

    def __init__(self, lr: float, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        if momentum < 0:
            raise ValueError(f"SGD: expected momentum >= 0, got {momentum}")
        if nesterov and momentum <= 0:
            raise ValueError(f"SGD: nesterov=True needs momentum > 0, got momentum={momentum}")
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, p: ndarray, g: ndarray, state: dict[str, Any]) -> None:
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        if self.momentum != 0:
            b = state.get("momentum_buffer")
            if b is None:
                b = state["momentum_buffer"] = g.copy()
            else:
                b *= self.momentum
                b += g
            g = g + self.momentum * b if self.nesterov else b
        p -= self.lr * g


class Adagrad(Optimizer):
    """Adagrad, as ``torch.optim.Adagrad`` (lr_decay=0, initial_accumulator_value=0).

    g = grad + weight_decay * p
    s = s + g^2
    p = p - lr * g / (sqrt(s) + eps)
    """

    _hyper = ("lr", "eps", "weight_decay")
    _buffers = ("sum",)

    def __init__(self, lr: float = 1e-2, eps: float = 1e-10, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        self.eps = eps

    def _update(self, p: ndarray, g: ndarray, state: dict[str, Any]) -> None:
        state["step"] = state.get("step", 0) + 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        s = state.setdefault("sum", np.zeros_like(p))
        s += g * g
        p -= self.lr * (g / (np.sqrt(s) + self.eps))


class RMSprop(Optimizer):
    """RMSprop, as ``torch.optim.RMSprop`` with centered=False.

    g = grad + weight_decay * p
    v = alpha * v + (1 - alpha) * g^2
    b = momentum * b + g / (sqrt(v) + eps);  p = p - lr * b      (momentum > 0; b starts at 0)
    p = p - lr * g / (sqrt(v) + eps)                              (momentum = 0)
    """

    _hyper = ("lr", "alpha", "eps", "momentum", "weight_decay")
    _buffers = ("square_avg", "momentum_buffer")

    def __init__(self, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        if not 0 <= alpha <= 1:
            raise ValueError(f"RMSprop: expected 0 <= alpha <= 1, got {alpha}")
        if momentum < 0:
            raise ValueError(f"RMSprop: expected momentum >= 0, got {momentum}")
        self.alpha, self.eps, self.momentum = alpha, eps, momentum

    def _update(self, p: ndarray, g: ndarray, state: dict[str, Any]) -> None:
        state["step"] = state.get("step", 0) + 1
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        v = state.setdefault("square_avg", np.zeros_like(p))
        v *= self.alpha
        v += (1 - self.alpha) * (g * g)
        avg = np.sqrt(v) + self.eps
        if self.momentum > 0:
            b = state.setdefault("momentum_buffer", np.zeros_like(p))
            b *= self.momentum
            b += g / avg
            p -= self.lr * b
        else:
            p -= self.lr * (g / avg)


class Adam(Optimizer):
    """Adam, as ``torch.optim.Adam`` (amsgrad=False); weight decay is added to the gradient.

    g = grad + weight_decay * p
    m = beta1 * m + (1 - beta1) * g;   v = beta2 * v + (1 - beta2) * g^2     (t = step, from 1)
    p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    _hyper = ("lr", "betas", "eps", "weight_decay")
    _buffers = ("exp_avg", "exp_avg_sq")
    _decoupled = False

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(lr, weight_decay)
        if len(betas) != 2 or not all(0 <= b < 1 for b in betas):
            raise ValueError(f"{type(self).__name__}: expected betas = (beta1, beta2) in [0, 1), got {betas}")
        self.betas, self.eps = tuple(betas), eps

    def _update(self, p: ndarray, g: ndarray, state: dict[str, Any]) -> None:
        t = state["step"] = state.get("step", 0) + 1
        beta1, beta2 = self.betas
        if self.weight_decay != 0:
            if self._decoupled:
                p *= 1 - self.lr * self.weight_decay
            else:
                g = g + self.weight_decay * p
        m = state.setdefault("exp_avg", np.zeros_like(p))
        v = state.setdefault("exp_avg_sq", np.zeros_like(p))
        m += (1 - beta1) * (g - m)  # torch's lerp, m + (1 - beta1) (g - m)
        v *= beta2
        v += (1 - beta2) * (g * g)
        step_size = self.lr / (1 - beta1 ** t)
        denom = np.sqrt(v) / (1 - beta2 ** t) ** 0.5 + self.eps
        p -= step_size * (m / denom)


class AdamW(Adam):
    """AdamW, as ``torch.optim.AdamW``: Adam with decoupled weight decay.

    p = p * (1 - lr * weight_decay), then the Adam update without weight decay in the gradient.
    """

    _decoupled = True

    def __init__(self, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2) -> None:
        super().__init__(lr, betas, eps, weight_decay)


def clip_grad_norm(grads: Grads, max_norm: float, error_if_nonfinite: bool = True) -> float:
    """Scale all gradients in place so their joint L2 norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: every array is multiplied by
    min(1, max_norm / (norm + 1e-6)), with norm the L2 norm of all entries of all arrays.

    A NaN or infinite norm raises ``FloatingPointError`` (``error_if_nonfinite=True``, the
    default: the step would destroy the parameters), or, with ``error_if_nonfinite=False``, is
    returned with the gradients left untouched so the caller can skip the step (torch would
    fill them with NaN instead).

    Returns:
        The norm before clipping.
    """
    if max_norm < 0:
        raise ValueError(f"clip_grad_norm: expected max_norm >= 0, got {max_norm}")
    norm = math.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64))) for g in grads.values()))
    if not math.isfinite(norm):
        if error_if_nonfinite:
            bad = [k for k, g in grads.items() if not np.isfinite(g).all()]
            raise FloatingPointError(f"clip_grad_norm: the gradient norm is {norm}; "
                                     f"non-finite gradients in {bad}")
        return norm
    scale = min(1.0, max_norm / (norm + 1e-6))
    for g in grads.values():
        g *= scale
    return norm


def clip_grad_value(grads: Grads, clip_value: float) -> None:
    """Clip every gradient entry to [-clip_value, clip_value] in place (``clip_grad_value_``)."""
    if clip_value < 0:
        raise ValueError(f"clip_grad_value: expected clip_value >= 0, got {clip_value}")
    for g in grads.values():
        np.clip(g, -clip_value, clip_value, out=g)


class Schedule(Protocol):
    """A learning-rate schedule: the lr multiplier for a step (0 for the first update)."""

    def __call__(self, step: int) -> float: ...


def apply_schedule(opt: Optimizer, schedule: Schedule, step: int, base_lr: float) -> float:
    """Set ``opt.lr = base_lr * schedule(step)`` and return it; call before ``opt.step``.

    ``step`` counts the updates already made (0, 1, 2, ...), so a resumed run passes the step it
    stored and gets the same lr, with no scheduler state to save. A plain function or lambda
    ``step -> multiplier`` works as a schedule too.
    """
    opt.lr = base_lr * float(schedule(step))
    return opt.lr


@dataclass(frozen=True)
class StepDecay:
    """gamma ** (step // every): drop by ``gamma`` every ``every`` steps (torch's StepLR)."""

    every: int
    gamma: float = 0.1

    def __post_init__(self) -> None:
        if self.every < 1:
            raise ValueError(f"StepDecay: expected every >= 1, got {self.every}")

    def __call__(self, step: int) -> float:
        return self.gamma ** (step // self.every)


@dataclass(frozen=True)
class ExponentialDecay:
    """gamma ** step (torch's ExponentialLR)."""

    gamma: float

    def __call__(self, step: int) -> float:
        return self.gamma ** step


@dataclass(frozen=True)
class CosineDecay:
    """Half a cosine from 1 down to ``min_factor`` over ``total_steps``, then flat.

    min_factor + (1 - min_factor) * (1 + cos(pi * min(step, total_steps) / total_steps)) / 2,
    torch's CosineAnnealingLR with T_max = total_steps and eta_min = min_factor * base_lr.
    """

    total_steps: int
    min_factor: float = 0.0

    def __post_init__(self) -> None:
        if self.total_steps < 1:
            raise ValueError(f"CosineDecay: expected total_steps >= 1, got {self.total_steps}")

    def __call__(self, step: int) -> float:
        progress = min(step, self.total_steps) / self.total_steps
        return self.min_factor + (1 - self.min_factor) * (1 + math.cos(math.pi * progress)) / 2


@dataclass(frozen=True)
class WarmupLinear:
    """Linear warm-up from 0 to 1 over ``warmup_steps``, then linear decay to 0 at ``total_steps``.

    step / warmup_steps while step < warmup_steps, then
    max(0, (total_steps - step) / (total_steps - warmup_steps)).
    """

    warmup_steps: int
    total_steps: int

    def __post_init__(self) -> None:
        if not 0 <= self.warmup_steps < self.total_steps:
            raise ValueError(f"WarmupLinear: expected 0 <= warmup_steps < total_steps, got "
                             f"warmup_steps={self.warmup_steps}, total_steps={self.total_steps}")

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return step / self.warmup_steps
        return max(0.0, (self.total_steps - step) / (self.total_steps - self.warmup_steps))
