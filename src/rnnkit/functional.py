"""Numerically stable activations, softmax and their derivatives.

Every function works on any float dtype and keeps it (float32 in, float32 out).
Derivatives are written in terms of the activation's *output*, because caches keep
post-activations (so backward recomputes nothing).
"""
from __future__ import annotations

import numpy as np
from numpy import ndarray


def sigmoid(x: ndarray, out: ndarray | None = None) -> ndarray:
    """Logistic function, 1 / (1 + exp(-x)), without overflow for large |x|.

    Written as 0.5 * (1 + tanh(x / 2)): exact, one transcendental call and no branch.
    """
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out += 1.0
    out *= 0.5
    return out


def sigmoid_grad_from_output(s: ndarray) -> ndarray:
    """d sigmoid(x) / dx expressed through s = sigmoid(x)."""
    return s * (1.0 - s)


def tanh_grad_from_output(t: ndarray) -> ndarray:
    """d tanh(x) / dx expressed through t = tanh(x)."""
    return 1.0 - t * t


def relu(x: ndarray) -> ndarray:
    return np.maximum(x, 0.0)


def relu_grad_from_output(r: ndarray) -> ndarray:
    """d relu(x) / dx through r = relu(x); the subgradient at 0 is 0, as in PyTorch."""
    return (r > 0).astype(r.dtype)


ACTIVATIONS = {
    "tanh": (np.tanh, tanh_grad_from_output),
    "relu": (relu, relu_grad_from_output),
    "sigmoid": (sigmoid, sigmoid_grad_from_output),
}


def log_softmax(logits: ndarray, axis: int = -1) -> ndarray:
    """log(softmax(logits)) computed from max-shifted logits, so large logits never overflow."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(logits: ndarray, axis: int = -1) -> ndarray:
    """Softmax along `axis`, max-shifted for stability."""
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_sigmoid(x: ndarray) -> ndarray:
    """log(sigmoid(x)) = -softplus(-x), stable for large |x|."""
    return -np.logaddexp(0.0, -x)
