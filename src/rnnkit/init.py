"""Weight initialisers. Each takes an explicit ``np.random.Generator``; nothing seeds globally.

Recurrent weights are stored as ``Wx: (D, G*H)`` and ``Wh: (H, G*H)`` with G gate blocks of width H
side by side, so block-wise initialisers (orthogonal) act on each ``(fan_in, H)`` block separately.
"""
from __future__ import annotations

import numpy as np
from numpy import ndarray


def uniform(rng: np.random.Generator, shape: tuple[int, ...], bound: float, dtype) -> ndarray:
    """U(-bound, bound)."""
    return rng.uniform(-bound, bound, size=shape).astype(dtype)


def torch_default(rng: np.random.Generator, shape: tuple[int, ...], hidden_size: int, dtype) -> ndarray:
    """PyTorch's nn.RNN/GRU/LSTM default: every weight and bias from U(-1/sqrt(H), 1/sqrt(H))."""
    return uniform(rng, shape, 1.0 / np.sqrt(hidden_size), dtype)


def xavier_uniform(rng: np.random.Generator, fan_in: int, fan_out: int, dtype) -> ndarray:
    """Glorot & Bengio (2010): U(-a, a) with a = sqrt(6 / (fan_in + fan_out)), shape (fan_in, fan_out)."""
    return uniform(rng, (fan_in, fan_out), np.sqrt(6.0 / (fan_in + fan_out)), dtype)


def orthogonal(rng: np.random.Generator, rows: int, cols: int, dtype, gain: float = 1.0) -> ndarray:
    """A (rows, cols) matrix with orthonormal rows or columns (Saxe et al., 2014), via QR of a Gaussian."""
    a = rng.standard_normal((max(rows, cols), min(rows, cols)))
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # make the decomposition unique, so the draw is uniform over O(n)
    if rows < cols:
        q = q.T
    return (gain * q[:rows, :cols]).astype(dtype)


def blockwise(init_block, num_blocks: int) -> ndarray:
    """Concatenate ``num_blocks`` independent draws of ``init_block()`` along the last axis."""
    return np.concatenate([init_block() for _ in range(num_blocks)], axis=-1)


INIT_SCHEMES = ("torch", "xavier")


def recurrent_weights(rng: np.random.Generator, input_size: int, hidden_size: int, num_gates: int,
                      scheme: str, dtype) -> dict[str, ndarray]:
    """``Wx (D, G*H)``, ``Wh (H, G*H)``, ``bx (G*H,)``, ``bh (G*H,)`` for a cell with G gate blocks.

    Schemes: ``"torch"`` (PyTorch's default uniform), ``"xavier"`` (Xavier-uniform input weights,
    orthogonal recurrent weights, zero biases, per gate block).
    """
    D, H, G = input_size, hidden_size, num_gates
    if scheme == "torch":
        return {"Wx": torch_default(rng, (D, G * H), H, dtype), "Wh": torch_default(rng, (H, G * H), H, dtype),
                "bx": torch_default(rng, (G * H,), H, dtype), "bh": torch_default(rng, (G * H,), H, dtype)}
    if scheme == "xavier":
        return {"Wx": blockwise(lambda: xavier_uniform(rng, D, H, dtype), G),
                "Wh": blockwise(lambda: orthogonal(rng, H, H, dtype), G),
                "bx": np.zeros(G * H, dtype), "bh": np.zeros(G * H, dtype)}
    raise ValueError(f"unknown init scheme {scheme!r}; expected one of {INIT_SCHEMES}")
