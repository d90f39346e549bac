"""``Dense``: an affine map applied to the last axis, so one layer serves every time step."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .._types import Grads, Params, Seed, as_rng
from ..kernels import parallel

INITS = ("torch", "xavier")


class DenseCache(NamedTuple):
    x: ndarray                 # (N, D) inputs with the leading dimensions flattened, for dW
    shape: tuple[int, ...]     # the shape of x as given, (..., D)


class Dense:
    """Time-distributed affine layer: ``y = x W + b`` over the last axis of ``x``.

    Shapes: ``x: (..., D)`` (``(B, T, D)`` or ``(B, D)``), ``W: (D, V)``, ``b: (V,)``,
    ``y: (..., V)``. All leading dimensions are flattened to one, so the forward pass and ``dW``
    are one matrix product each::

        y  = x W + b
        dx = dy W^T
        dW = x^T dy      (x, dy with leading dims flattened to N rows)
        db = sum_N dy

    ``W`` is PyTorch's ``nn.Linear.weight`` transposed (``W = weight.T``), so a row of ``x`` times
    ``W`` needs no transpose in the hot path.

    Init (both draw from ``seed`` through :func:`rnnkit._types.as_rng`):
        ``"torch"`` (default): ``nn.Linear``'s default, ``kaiming_uniform_(a=sqrt(5))``, which is
        ``U(-1/sqrt(D), 1/sqrt(D))`` for ``W`` and the same bound for ``b``.
        ``"xavier"``: Glorot uniform ``U(-sqrt(6/(D+V)), sqrt(6/(D+V)))`` for ``W``, ``b = 0``.

    Args:
        in_features: D, the size of the last axis of ``x``.
        out_features: V, the size of the last axis of ``y``.
        bias: add ``b``; without it ``params`` holds only ``"W"``.
        dtype: float dtype of the parameters and outputs (float32 default, float64 for checks).
        seed: int, Generator (used as is) or None (fresh entropy).
        init: ``"torch"`` or ``"xavier"``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: np.dtype | type = np.float32, seed: Seed = None, init: str = "torch"):
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"Dense: {name} must be an int, got {type(value).__name__}")
            if value < 1:
                raise ValueError(f"Dense: {name} must be >= 1, got {value}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        dtype = np.dtype(dtype)
        if not np.issubdtype(dtype, np.floating):
            raise TypeError(f"{self.name}: dtype must be a float dtype, got {dtype}")
        if init not in INITS:
            raise ValueError(f"{self.name}: init must be one of {INITS}, got {init!r}")
        self.dtype, self.use_bias, self.init = dtype, bool(bias), init

        D, V = self.in_features, self.out_features
        rng = as_rng(seed)
        bound = 1.0 / math.sqrt(D) if init == "torch" else math.sqrt(6.0 / (D + V))
        self.params: Params = {"W": rng.uniform(-bound, bound, size=(D, V)).astype(dtype)}
        if self.use_bias:
            b = rng.uniform(-bound, bound, size=V) if init == "torch" else np.zeros(V)
            self.params["b"] = b.astype(dtype)

    @property
    def name(self) -> str:
        return f"Dense({self.in_features} -> {self.out_features})"

    def __repr__(self) -> str:
        extra = "" if self.use_bias else ", bias=False"
        return f"Dense({self.in_features}, {self.out_features}{extra}, dtype={self.dtype.name})"

    def forward(self, x: ndarray) -> tuple[ndarray, DenseCache]:
        """x: (..., D) float inputs -> y: (..., V) in the layer dtype, cache.

        Float inputs of another precision are cast to the layer dtype (as every rnnkit layer
        does); integer inputs, a wrong last dimension and NaN/Inf raise.
        """
        x = np.asarray(x)
        D = self.in_features
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"{self.name}: expected a float array x of shape (..., {D}), "
                            f"got dtype {x.dtype}")
        if x.ndim == 0 or x.shape[-1] != D:
            raise ValueError(f"{self.name}: expected x with last dimension {D}, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"{self.name}: x contains NaN or Inf")
        x2 = x.astype(self.dtype, copy=False).reshape(-1, D)
        y = parallel.matmul(x2, self.params["W"])          # y = x W
        if self.use_bias:
            y += self.params["b"]                          #   + b
        return y.reshape(x.shape[:-1] + (self.out_features,)), DenseCache(x2, x.shape)

    def backward(self, dy: ndarray, cache: DenseCache) -> tuple[ndarray, Grads]:
        """dy: (..., V) gradient of y -> dx: (..., D), grads {"W": (D, V), "b": (V,)}."""
        dy = np.asarray(dy)
        expected = cache.shape[:-1] + (self.out_features,)
        if dy.shape != expected:
            raise ValueError(f"{self.name}: expected dy of shape {expected}, got {dy.shape}")
        if not np.issubdtype(dy.dtype, np.floating):
            raise TypeError(f"{self.name}: expected a float array dy, got dtype {dy.dtype}")
        dy2 = dy.astype(self.dtype, copy=False).reshape(-1, self.out_features)
        dx = parallel.matmul(dy2, self.params["W"].T)      # y = x W    -> dx = dy W^T
        grads: Grads = {"W": parallel.matmul(cache.x, dy2, True)}   # -> dW = x^T dy, one product
        if self.use_bias:
            grads["b"] = parallel.column_sums(dy2)         # y = ... + b -> db = sum over rows
        return dx.reshape(cache.shape), grads
