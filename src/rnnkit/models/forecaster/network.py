"""The network inside a :class:`rnnkit.Forecaster`: a recurrent encoder over a window and a dense head,
and an ensemble of such networks trained side by side."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from ..._types import Grads, Params, Seed, as_rng, prefixed
from ...layers.dense import Dense
from ...layers.dropout import Dropout
from ...layers.networks import make_network


class ForecastCache(NamedTuple):
    rnn: object
    dropout: ndarray | None
    head: object
    linear: object                              # the linear path's cache, or None without it
    state_shapes: tuple[tuple[int, ...], ...]   # shapes of the final state arrays, for dstate
    x_shape: tuple[int, int, int]               # (B, L, D)


class ForecastNetwork:
    """Many-to-one over a window, then all forecast steps at once::

        u_j = [x_(j-1)F+1, ..., x_jF]                 frames of F window steps, j = 1 .. L / F
        h_1 .. h_(L/F) = RNN(u_1 .. u_(L/F))          stacked layers over the frames
        s = [h_(L/F) fwd, h_1 bwd]                    final state of the top layer, per direction
        y = reshape(dropout(s) W + b, (K, D_out))     K forecast steps of D_out channels
          + reshape(flatten(x) A + a, (K, D_out))     with ``linear``: an autoregressive path

    The linear path is LSTNet's "highway" (Lai et al., 2018): a linear autoregression over the
    whole window, added to the recurrent forecast, so the network only has to learn what a linear
    model misses, and the forecast scales with the input where tanh units would saturate.
    Frames (``frame`` F > 1) let a long window go through F times fewer recurrent steps.

    Shapes: ``x: (B, L, D_in)`` -> ``y: (B, K, D_out)``; the RNN reads ``(B, L / F, F * D_in)``.
    Parameters: ``rnn.layers.<l>.*``,
    ``head.W: (directions * H, K * D_out)``, ``head.b: (K * D_out,)``, and with ``linear``
    ``linear.W: (L * D_in, K * D_out)``, ``linear.b: (K * D_out,)``.
    """

    def __init__(self, input_size: int, output_size: int, steps: int = 1, cell: str = "lstm",
                 hidden_size: int = 32, num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.0,
                 lookback: int | None = None, linear: bool = False, frame: int = 1, seed: Seed = None,
                 dtype=np.float32):
        if frame > 1 and (lookback is None or lookback % frame):
            raise ValueError(f"ForecastNetwork: lookback {lookback} must be a multiple of frame {frame}")
        if linear and lookback is None:
            raise ValueError("ForecastNetwork: the linear path needs the window length (lookback)")
        rng = as_rng(seed)
        self.input_size, self.output_size, self.steps = int(input_size), int(output_size), int(steps)
        self.frame = int(frame)
        self.rnn = make_network(cell, self.frame * input_size, hidden_size, num_layers, bidirectional, dropout,
                                seed=rng, dtype=dtype)
        self.directions = 2 if bidirectional else 1
        self.dropout = Dropout(dropout)
        self.head = Dense(self.directions * hidden_size, self.steps * self.output_size, dtype=dtype, seed=rng)
        self.lookback = lookback
        self.linear = None
        if linear:
            self.linear = Dense(lookback * input_size, self.steps * self.output_size, dtype=dtype, seed=rng)
        self.dtype = np.dtype(dtype)
        self.params: Params = {**prefixed("rnn", self.rnn.params), **prefixed("head", self.head.params)}
        if self.linear is not None:
            self.params.update(prefixed("linear", self.linear.params))

    def forward(self, x: ndarray, training: bool = False,
                rng: np.random.Generator | None = None) -> tuple[ndarray, ForecastCache]:
        """x: (B, L, D_in) windows -> y: (B, K, D_out) forecasts, cache.

        Inference by default, as in PyTorch's ``eval()``; ``training=True`` (with ``rng``) applies
        dropout, as the training task does."""
        B, L, D = x.shape
        frames = x.reshape(B, L // self.frame, self.frame * D)   # consecutive steps side by side
        _, state, rnn_cache = self.rnn.forward(frames, training=training, rng=rng)
        h = state[0][-self.directions:]                    # (directions, B, H): the top layer
        s = np.concatenate(list(h), axis=1)                # (B, directions * H)
        s, drop_cache = self.dropout.forward(s, training=training, rng=rng)
        y, head_cache = self.head.forward(s)
        linear_cache = None
        if self.linear is not None:
            a, linear_cache = self.linear.forward(x.reshape(B, -1))
            y = y + a
        cache = ForecastCache(rnn_cache, drop_cache, head_cache, linear_cache, tuple(a.shape for a in state),
                              x.shape)
        return y.reshape(B, self.steps, self.output_size), cache

    def backward(self, dy: ndarray, cache: ForecastCache) -> tuple[ndarray, Grads]:
        """dy: (B, K, D_out) -> dx: (B, L, D_in), grads with the keys of ``params``."""
        B, L, _ = cache.x_shape
        ds, head_grads = self.head.backward(dy.reshape(B, -1), cache.head)
        ds = self.dropout.backward(ds, cache.dropout)
        # s concatenates the top layer's final h per direction -> split it back into dstate[0]
        dstate = tuple(np.zeros(shape, self.dtype) for shape in cache.state_shapes)
        dstate[0][-self.directions:] = ds.reshape(B, self.directions, -1).transpose(1, 0, 2)
        dseq = np.zeros((B, L // self.frame, self.rnn.output_size), self.dtype)  # only the final state is read
        dframes, _, rnn_grads = self.rnn.backward(dseq, dstate, cache.rnn)
        dx = dframes.reshape(cache.x_shape)
        grads = {**prefixed("rnn", rnn_grads), **prefixed("head", head_grads)}
        if self.linear is not None:
            dflat, linear_grads = self.linear.backward(dy.reshape(B, -1), cache.linear)
            dx = dx + dflat.reshape(dx.shape)              # y = ... + flatten(x) A -> dx gets dy A^T
            grads.update(prefixed("linear", linear_grads))
        return dx, {k: grads[k] for k in self.params}


class ForecastEnsemble:
    """M independently initialised :class:`ForecastNetwork` s whose forecasts are averaged.

    Parameters are ``members.<m>.*``. Each member keeps its own loss: training the ensemble is
    training M networks at once (their gradients never mix), and averaging M forecasts cuts the
    seed-to-seed variance that a single small network has on a short series.
    """

    def __init__(self, size: int, seed: Seed = None, **network_options):
        rng = as_rng(seed)
        self.members = [ForecastNetwork(seed=rng, **network_options) for _ in range(size)]
        self.params: Params = {}
        for m, member in enumerate(self.members):
            self.params.update(prefixed(f"members.{m}", member.params))

    def predict(self, x: ndarray) -> ndarray:
        """x: (B, L, D_in) -> the members' mean forecast (B, K, D_out), no dropout."""
        return np.mean([member.forward(x, training=False)[0] for member in self.members], axis=0)


__all__ = ["ForecastNetwork", "ForecastEnsemble"]
