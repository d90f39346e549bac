"""``Dropout``: inverted dropout, a module without parameters."""
from __future__ import annotations

from numbers import Real

import numpy as np
from numpy import ndarray

from .._types import Params, Seed, as_rng


class Dropout:
    """Inverted dropout (Srivastava et al., 2014, scaled at training time as in PyTorch)::

        m = (u >= p) / (1 - p),  u ~ U[0, 1) drawn elementwise from rng   (training, p > 0)
        y = x * m                                     dx = dy * m
        y = x                                         dx = dy           (evaluation or p = 0)

    so ``E[y] = x`` and evaluation needs no rescaling. The cache is the scaled mask ``m`` (or None
    for the identity), so backward reuses exactly the units forward kept. The mask is drawn in
    float32 whatever the dtype of ``x``, so a seed gives the same units in float32 and float64.

    ``params`` is ``{}`` so Dropout sits among the other modules; ``backward`` returns ``dx`` only.

    Args:
        p: probability of zeroing a unit, in [0, 1).
    """

    def __init__(self, p: float = 0.5):
        if isinstance(p, bool) or not isinstance(p, Real):
            raise TypeError(f"Dropout: p must be a float in [0, 1), got {type(p).__name__}")
        if not (0.0 <= p < 1.0):  # also rejects NaN
            raise ValueError(f"Dropout: p must lie in [0, 1), got {p}")
        self.p = float(p)
        self.params: Params = {}

    @property
    def name(self) -> str:
        return f"Dropout(p={self.p})"

    def __repr__(self) -> str:
        return self.name

    def forward(self, x: ndarray, training: bool = True,
                rng: Seed = None) -> tuple[ndarray, ndarray | None]:
        """x: float array of any shape -> y: same shape and dtype, cache (the mask or None).

        Args:
            x: inputs.
            training: drop units; False is the identity (``y`` is ``x`` itself, not a copy).
            rng: the Generator the mask is drawn from (advanced by each call, so consecutive
                steps get fresh masks); an int seeds a new Generator, so the same int gives the
                same mask every call; None draws from fresh entropy (not reproducible). Not
                used, and not advanced, when ``training`` is False or ``p == 0``.
        """
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise TypeError(f"{self.name}: expected a float array x, got dtype {x.dtype}")
        if rng is not None and not isinstance(rng, (np.random.Generator, int, np.integer)):
            raise TypeError(f"{self.name}: rng must be a numpy Generator, an int seed or None, "
                            f"got {type(rng).__name__}")
        if not np.isfinite(x).all():
            raise ValueError(f"{self.name}: x contains NaN or Inf")
        if not training or self.p == 0.0:
            return x, None
        keep = as_rng(rng).random(x.shape, dtype=np.float32) >= self.p
        mask = keep.astype(x.dtype)
        mask *= x.dtype.type(1.0 / (1.0 - self.p))        # m = keep / (1 - p)
        return x * mask, mask

    def backward(self, dy: ndarray, cache: ndarray | None) -> ndarray:
        """dy: gradient of y -> dx, same shape (``dy`` itself when forward was the identity)."""
        dy = np.asarray(dy)
        if cache is None:
            return dy                                      # y = x -> dx = dy
        if dy.shape != cache.shape:
            raise ValueError(f"{self.name}: expected dy of shape {cache.shape}, got {dy.shape}")
        if not np.issubdtype(dy.dtype, np.floating):
            raise TypeError(f"{self.name}: expected a float array dy, got dtype {dy.dtype}")
        return dy * cache                                  # y = x * m -> dx = dy * m
