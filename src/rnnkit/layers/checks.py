"""Input validation shared by the public layer entry points (never called inside a time loop)."""
from __future__ import annotations

import numpy as np
from numpy import ndarray


def check_sequence_input(who: str, x, input_size: int, dtype) -> ndarray:
    """A float ``(B, T, D)`` array with D == input_size and no NaN/Inf, cast to the layer dtype."""
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{who}: expected a float array x of shape (B, T, {input_size}), got dtype {x.dtype}")
    if x.ndim != 3 or x.shape[2] != input_size:
        raise ValueError(f"{who}: expected x of shape (B, T, {input_size}), got {x.shape}")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{who}: x must have at least one sequence and one step, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{who}: x contains NaN or Inf")
    return x.astype(dtype, copy=False)


def check_lengths(who: str, lengths, batch_size: int, steps: int) -> ndarray | None:
    """``lengths: (B,)`` integers in [1, T], or None for full-length sequences."""
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    if not np.issubdtype(lengths.dtype, np.integer):
        raise TypeError(f"{who}: lengths must be integers, got dtype {lengths.dtype}")
    if lengths.shape != (batch_size,):
        raise ValueError(f"{who}: expected lengths of shape ({batch_size},), got {lengths.shape}")
    if lengths.min() < 1 or lengths.max() > steps:
        raise ValueError(f"{who}: lengths must lie in [1, {steps}] (T = {steps}), "
                         f"got values from {lengths.min()} to {lengths.max()}")
    return lengths.astype(np.int64)


def check_state(who: str, state, names: tuple[str, ...], shape: tuple[int, int, int], dtype):
    """A tuple of one array per state name, each ``(num_layers * num_directions, B, H)``, or None."""
    if state is None:
        return None
    if isinstance(state, np.ndarray):
        state = (state,)
    if not isinstance(state, (tuple, list)) or len(state) != len(names):
        raise ValueError(f"{who}: expected state as a tuple ({', '.join(names)}), got {type(state).__name__} "
                         f"of length {len(state) if hasattr(state, '__len__') else '?'}")
    out = []
    for name, s in zip(names, state):
        s = np.asarray(s)
        if not np.issubdtype(s.dtype, np.floating):
            raise TypeError(f"{who}: state {name} must be float, got dtype {s.dtype}")
        if s.shape != shape:
            raise ValueError(f"{who}: expected state {name} of shape {shape} "
                             f"(num_layers * num_directions, B, H), got {s.shape}")
        if not np.isfinite(s).all():
            raise ValueError(f"{who}: state {name} contains NaN or Inf")
        out.append(s.astype(dtype, copy=False))
    return tuple(out)


def check_output_grad(who: str, dy, shape: tuple[int, ...]) -> ndarray:
    dy = np.asarray(dy)
    if dy.shape != shape:
        raise ValueError(f"{who}: expected dy of shape {shape}, got {dy.shape}")
    return dy
