"""The network inside a :class:`rnnkit.LanguageModel`: embedding -> stacked RNN/GRU/LSTM -> dropout
-> dense head over the vocabulary."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
from numpy import ndarray

from ..._types import Grads, Params, Seed, State, as_rng, prefixed
from ...cells import cell_type
from ...data.vocab import Vocabulary
from ...layers.dense import Dense
from ...layers.dropout import Dropout
from ...layers.embedding import Embedding
from ...layers.networks import make_network


@dataclass
class LanguageModelConfig:
    """Architecture of a :class:`LanguageModelNetwork` (stored in the model file as ``"config"``)."""

    vocab_size: int
    embedding_dim: int = 64
    hidden_size: int = 512
    num_layers: int = 2
    cell: str = "lstm"
    dropout: float = 0.25

    def __post_init__(self):
        cell_type(self.cell, "LanguageModelConfig")
        for name in ("vocab_size", "embedding_dim", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"LanguageModelConfig: {name} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LanguageModelConfig: dropout must lie in [0, 1), got {self.dropout}")


class LanguageModelCache(NamedTuple):
    """What :meth:`LanguageModelNetwork.forward` keeps for its backward pass, one entry per layer."""

    embedding: object
    rnn: object
    dropout: ndarray | None
    head: object


class LanguageModelNetwork:
    """A language model is a product of next-token softmaxes (Bengio et al., 2003; Mikolov, 2010):

        e_t = E[w_t]                       embedding of the token read at step t
        h_t = RNN(e_1 .. e_t)              a stack of recurrent layers, dropout between them
        p(w_{t+1} | w_1 .. w_t) = softmax(dropout(h_t) W + b)

    Dropout acts between recurrent layers and before the softmax (Zaremba et al., 2014), and only
    in ``forward(..., training=True)``; by default ``forward`` is inference, as in PyTorch's
    ``eval()`` mode. The vocabulary (optional) rides with the network so that decoders
    (:mod:`rnnkit.sampling`) can turn ids into text from the network alone.
    Parameters: ``embedding.E``, ``rnn.layers.<l>.*``, ``head.W``, ``head.b``.
    """

    def __init__(self, config: LanguageModelConfig, vocab: Vocabulary | None = None, seed: Seed = None,
                 dtype=np.float32):
        if vocab is not None and len(vocab) != config.vocab_size:
            raise ValueError(f"LanguageModelNetwork: vocabulary has {len(vocab)} tokens, "
                             f"config says {config.vocab_size}")
        self.config, self.vocab = config, vocab
        rng = as_rng(seed)
        c = config
        self.embedding = Embedding(c.vocab_size, c.embedding_dim, dtype=dtype, seed=rng)
        self.rnn = make_network(c.cell, c.embedding_dim, c.hidden_size, c.num_layers, dropout=c.dropout,
                                dtype=dtype, seed=rng)
        self.dropout = Dropout(c.dropout)
        self.head = Dense(c.hidden_size, c.vocab_size, dtype=dtype, seed=rng)
        self.dtype = np.dtype(dtype)
        self._rng = np.random.default_rng(rng.integers(2**63))  # default stream for dropout masks
        self.params: Params = {**prefixed("embedding", self.embedding.params), **prefixed("rnn", self.rnn.params),
                               **prefixed("head", self.head.params)}

    def __repr__(self) -> str:
        return f"LanguageModelNetwork({asdict(self.config)})"

    def zero_state(self, batch_size: int) -> State:
        return self.rnn.zero_state(batch_size)

    def forward(self, ids: ndarray, state: State | None = None, training: bool = False,
                rng: np.random.Generator | None = None) -> tuple[ndarray, State, LanguageModelCache]:
        """ids: (B, T) token ids -> logits: (B, T, V), final state, cache.

        ``training=True`` applies dropout with masks from ``rng`` (default: the network's own stream).
        """
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"{self!r}: expected ids of shape (B, T), got {ids.shape}")
        rng = self._rng if rng is None else rng
        e, emb_cache = self.embedding.forward(ids)
        h, state, rnn_cache = self.rnn.forward(e, state, training=training, rng=rng)
        h, drop_cache = self.dropout.forward(h, training=training, rng=rng)
        logits, head_cache = self.head.forward(h)
        return logits, state, LanguageModelCache(emb_cache, rnn_cache, drop_cache, head_cache)

    def backward(self, dlogits: ndarray, dstate: State | None, cache: LanguageModelCache) -> Grads:
        """dlogits: (B, T, V) -> grads with the keys of ``params`` (token ids have no gradient)."""
        dh, head_grads = self.head.backward(dlogits, cache.head)    # logits = h W + b
        dh = self.dropout.backward(dh, cache.dropout)               # h = dropout(h_rnn)
        de, _, rnn_grads = self.rnn.backward(dh, dstate, cache.rnn)  # h_rnn = RNN(e)
        _, emb_grads = self.embedding.backward(de, cache.embedding)  # e = E[ids]
        grads = {**prefixed("embedding", emb_grads), **prefixed("rnn", rnn_grads), **prefixed("head", head_grads)}
        return {k: grads[k] for k in self.params}

    def step(self, ids: ndarray, state: State | None = None) -> tuple[ndarray, State]:
        """One token per sequence, for generation: ids: (B,) -> logits: (B, V), new state."""
        e = self.embedding.weight[ids]
        h, state = self.rnn.step(e, state)
        return h @ self.head.params["W"] + self.head.params["b"], state

    def load_params(self, arrays: Params) -> None:
        """Copy ``arrays`` (the keys of ``params``) into the parameters, in place."""
        missing, extra = set(self.params) - set(arrays), set(arrays) - set(self.params)
        if missing or extra:
            raise ValueError(f"{self!r}: parameters do not match; missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)}")
        for k, v in arrays.items():
            if v.shape != self.params[k].shape:
                raise ValueError(f"{self!r}: {k} has shape {v.shape}, expected {self.params[k].shape}")
            self.params[k][...] = v


__all__ = ["LanguageModelCache", "LanguageModelConfig", "LanguageModelNetwork"]
