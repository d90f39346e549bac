"""The network behind :class:`rnnkit.SequenceClassifier`: a recurrent stack, pooling over the valid
steps and a dense head."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from ..._types import Grads, Params, Seed, as_rng, prefixed
from ...layers.dense import Dense
from ...layers.dropout import Dropout
from ...layers.embedding import Embedding
from ...layers.networks import make_network
from ...layers.pooling import make_pooling


class NetworkCache(NamedTuple):
    emb: object
    rnn: object
    pool: object
    drop: object
    head: object
    lengths: ndarray | None


class ClassifierNetwork:
    """Many-to-one: ``[embedding] -> stacked (bi)RNN -> pooling over valid steps -> dropout -> dense``::

        e_bt = E[ids_bt]  (token input)  or  x_bt  (feature input)
        h_b  = RNN(e_b1 .. e_bT_b)                 (B, T, n_dir * H), padding gives zeros
        s_b  = pool(h_b, len_b)                    (B, P): last / mean / max / attention, or several
        logits_b = dropout(s_b) W + b              (B, K)

    Parameters: ``embedding.E`` (token input only), ``rnn.layers.<l>.*``, ``pool.*`` (attention
    only), ``head.W``, ``head.b``.
    """

    def __init__(self, input_size: int, num_classes: int, *, vocab_size: int | None = None,
                 embedding_dim: int = 64, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = True, pooling: str = "mean+max", dropout: float = 0.2,
                 seed: Seed = None, dtype=np.float32):
        rng = as_rng(seed)
        self.dtype = np.dtype(dtype)
        self.embedding = None
        if vocab_size is not None:
            self.embedding = Embedding(vocab_size, embedding_dim, padding_idx=0, dtype=dtype, seed=rng)
            # N(0, 1) rows would swamp the recurrent weights' scale; Keras' small uniform init trains better
            self.embedding.params["E"][...] = rng.uniform(-0.1, 0.1, self.embedding.params["E"].shape)
            self.embedding.params["E"][0] = 0.0
            input_size = embedding_dim
        self.rnn = make_network(cell, input_size, hidden_size, num_layers, bidirectional, dropout, dtype=dtype, seed=rng)
        width = self.rnn.output_size
        self.pool = make_pooling(pooling, width, 2 if bidirectional else 1, dtype=dtype, seed=rng)
        self.dropout = Dropout(dropout)
        self.head = Dense(self.pool.output_size(width), num_classes, dtype=dtype, seed=rng)
        self.params: Params = {}
        if self.embedding is not None:
            self.params.update(prefixed("embedding", self.embedding.params))
        self.params.update({**prefixed("rnn", self.rnn.params), **prefixed("pool", self.pool.params),
                            **prefixed("head", self.head.params)})

    def forward(self, x: ndarray, lengths: ndarray | None = None, training: bool = False,
                rng: np.random.Generator | None = None) -> tuple[ndarray, NetworkCache]:
        """x: (B, T, D) float features or (B, T) int ids; lengths: (B,) -> logits: (B, K), cache.

        Inference by default, as in PyTorch's ``eval()``; ``training=True`` (with ``rng``) applies
        dropout, as the training task does."""
        rng = as_rng(rng) if training else None
        emb_cache = None
        if self.embedding is not None:
            x, emb_cache = self.embedding.forward(x)
        h, _, rnn_cache = self.rnn.forward(x, None, lengths, training=training, rng=rng)
        s, pool_cache = self.pool.forward(h, lengths)
        s, drop_cache = self.dropout.forward(s, training=training, rng=rng)
        logits, head_cache = self.head.forward(s)
        return logits, NetworkCache(emb_cache, rnn_cache, pool_cache, drop_cache, head_cache, lengths)

    def backward(self, dlogits: ndarray, cache: NetworkCache) -> tuple[ndarray | None, Grads]:
        """dlogits: (B, K) -> dx: (B, T, D) (None for token input), grads with the keys of params."""
        ds, head_grads = self.head.backward(dlogits, cache.head)
        ds = self.dropout.backward(ds, cache.drop)
        dh, pool_grads = self.pool.backward(ds, cache.pool)
        dx, _, rnn_grads = self.rnn.backward(dh.astype(self.dtype, copy=False), None, cache.rnn)
        grads = {**prefixed("rnn", rnn_grads), **prefixed("pool", pool_grads), **prefixed("head", head_grads)}
        if self.embedding is not None:
            _, emb_grads = self.embedding.backward(dx, cache.emb)
            grads.update(prefixed("embedding", emb_grads))
            dx = None
        return dx, {k: grads[k] for k in self.params}

    def predict_logits(self, x: ndarray, lengths: ndarray, batch_size: int = 256) -> ndarray:
        """Logits for all of ``x`` (padded, ``(N, T, ...)``) in batches, without dropout."""
        out = []
        for start in range(0, len(x), batch_size):
            sl = slice(start, start + batch_size)
            T = int(lengths[sl].max())                   # no work on columns that are all padding
            logits, _ = self.forward(x[sl, :T], lengths[sl], training=False)
            out.append(logits)
        return np.concatenate(out).astype(np.float64)


def load_params(net: ClassifierNetwork, stored: Params, name: str = "network") -> ClassifierNetwork:
    """``net`` holding the parameters ``stored`` (same keys and shapes, else a ValueError naming them)."""
    if set(stored) != set(net.params):
        raise ValueError(f"{name} parameters do not match the architecture")
    for k, v in stored.items():
        if v.shape != net.params[k].shape:
            raise ValueError(f"{name}.{k} has shape {v.shape}, expected {net.params[k].shape}")
        net.params[k][...] = v
    return net


__all__ = ["ClassifierNetwork", "NetworkCache", "load_params"]
