"""``Stacked``: recurrent layers on top of each other, with dropout between them."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .._types import Grads, Params, Seed, State, as_rng, prefixed
from .dropout import Dropout


class StackedLayerCache(NamedTuple):
    dropout: object            # the dropout mask on this layer's input (None for layer 0 or p = 0)
    layer: object              # the layer's cache


class StackedCache(NamedTuple):
    layers: list               # one StackedLayerCache per layer, bottom to top
    shape: tuple[int, int]     # (B, T)


class Stacked:
    """Layer l + 1 reads layer l's outputs (Graves et al., 2013's deep RNN); with ``dropout > 0``
    each layer's output except the last is dropped during training (Zaremba et al., 2014).

    States are ``(num_layers * num_directions, B, H)`` in PyTorch's order (layer 0 forward,
    layer 0 backward, layer 1 forward, ...). Parameters are ``layers.<l>.*``.
    """

    def __init__(self, layers: list, dropout: float = 0.0, seed: Seed = None):
        if not layers:
            raise ValueError("Stacked: needs at least one layer")
        for below, above in zip(layers, layers[1:]):
            width = getattr(below, "output_size", below.hidden_size)
            if above.input_size != width:
                raise ValueError(f"Stacked: a layer with input size {above.input_size} cannot read "
                                 f"outputs of width {width}")
        self.layers = list(layers)
        self.dropout = Dropout(dropout)
        self._rng = as_rng(seed)  # the default stream for dropout masks
        self.num_directions = layers[0].num_directions
        self.state_names = layers[0].state_names
        self.params: Params = {}
        for l, layer in enumerate(self.layers):
            self.params.update(prefixed(f"layers.{l}", layer.params))

    def forward(self, x: ndarray, state: State | None = None, lengths: ndarray | None = None,
                training: bool = False, rng: np.random.Generator | None = None):
        """x: (B, T, D) -> y: (B, T, num_directions * H), final state, cache. ``training=True``
        drops units between layers (the default is inference)."""
        rng = self._rng if rng is None else rng
        n = self.num_directions
        finals, caches = [], []
        for l, layer in enumerate(self.layers):
            drop_cache = None
            if l > 0:
                x, drop_cache = self.dropout.forward(x, training=training, rng=rng)
            s = None if state is None else tuple(a[l * n:(l + 1) * n] for a in state)
            x, final, cache = layer.forward(x, s, lengths)
            finals.append(final)
            caches.append(StackedLayerCache(drop_cache, cache))
        final = tuple(np.concatenate(parts) for parts in zip(*finals))
        return x, final, StackedCache(caches, x.shape[:2])

    def backward(self, dy: ndarray, dstate: State | None, cache: StackedCache) -> tuple[ndarray, State, Grads]:
        n = self.num_directions
        grads: Grads = {}
        dstates = [None] * len(self.layers)
        for l in reversed(range(len(self.layers))):
            layer, part = self.layers[l], cache.layers[l]
            ds = None if dstate is None else tuple(a[l * n:(l + 1) * n] for a in dstate)
            dy, dstates[l], g = layer.backward(dy, ds, part.layer)
            grads.update(prefixed(f"layers.{l}", g))
            if l > 0:
                dy = self.dropout.backward(dy, part.dropout)
        dstate0 = tuple(np.concatenate(parts) for parts in zip(*dstates))
        return dy, dstate0, {k: grads[k] for k in self.params}
