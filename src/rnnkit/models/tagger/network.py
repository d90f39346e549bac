"""The network behind :class:`rnnkit.SequenceTagger`: word embeddings, an optional character
encoder, a bidirectional recurrent stack and a dense head over every token."""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy import ndarray

from ..._types import Grads, Params, Seed, as_rng, prefixed
from ...layers.char_encoder import CharEncoder
from ...layers.dense import Dense
from ...layers.dropout import Dropout
from ...layers.embedding import Embedding, accumulate_rows
from ...layers.networks import make_network
from .inputs import TaggerBatch


class TaggerCache(NamedTuple):
    words: object              # word embedding cache
    chars: object | None       # character encoder cache (None without character features)
    drop_in: object            # dropout on [w ; c]
    rnn: object                # recurrent stack cache
    drop_out: object           # dropout on h
    head: object               # dense head cache


class TaggerNetwork:
    """One score per tag for every token (Plank et al., 2016; Lample et al., 2016)::

        w_bt = E[words_bt]                         (B, T, D_w) word embedding
        c_u  = CharEncoder(chars_u)                (U, 2 H_c) one vector per distinct form u
        x_bt = dropout([w_bt ; c_{types_bt}])      (B, T, D_w + 2 H_c), zero at padding
        h    = BiRNN(x, lengths)                   (B, T, 2 H), stacked, dropout between layers
        logits_bt = dropout(h_bt) W + b            (B, T, K)

    With ``char_hidden_size == 0`` there is no ``c`` (word features only).

    Parameters: ``words.E``, ``chars.embedding.E`` and ``chars.rnn.layers.*`` (with characters),
    ``rnn.layers.*``, ``head.W``, ``head.b``: the names model files have always used.

    Args:
        num_words, num_chars, num_tags: vocabulary sizes (id 0 of words and chars is padding).
        word_dim: D_w. char_dim, char_hidden_size: the character encoder's sizes (H_c per
            direction; 0 turns it off). hidden_size: H per direction. num_layers: stacked layers.
        cell: a registered cell name. dropout: on the features, between layers, before the head.
        dtype: float32 (default) or float64 (gradient checks).
        seed: int, Generator or None; the same seed gives the same initial weights.
    """

    def __init__(self, num_words: int, num_chars: int, num_tags: int, *, word_dim: int = 100,
                 char_dim: int = 32, char_hidden_size: int = 50, hidden_size: int = 128, num_layers: int = 1,
                 cell: str = "lstm", dropout: float = 0.5, dtype=np.float32, seed: Seed = None):
        rng = as_rng(seed)
        self.dtype, self.word_dim = np.dtype(dtype), int(word_dim)
        self.words = Embedding(num_words, word_dim, padding_idx=0, dtype=dtype, seed=rng)
        # unit-variance rows like PyTorch's default would make the words shout over the characters:
        # scale so a row has norm ~1 (the variance Glorot init gives a 1 -> D map)
        self.words.params["E"] *= self.dtype.type(1.0 / math.sqrt(word_dim))
        width = word_dim
        self.char_encoder = None
        if char_hidden_size:
            self.char_encoder = CharEncoder(num_chars, char_dim, char_hidden_size, dtype=dtype, seed=rng)
            width += self.char_encoder.output_size
        self.rnn = make_network(cell, width, hidden_size, num_layers, bidirectional=True, dropout=dropout,
                                dtype=dtype, seed=rng)
        self.dropout = Dropout(dropout)
        self.head = Dense(2 * hidden_size, num_tags, dtype=dtype, seed=rng)
        self._rng = np.random.default_rng(rng.integers(2**63))   # dropout masks when forward gets no rng
        self.params: Params = {**prefixed("words", self.words.params), **prefixed("rnn", self.rnn.params),
                               **prefixed("head", self.head.params)}
        if self.char_encoder is not None:
            self.params.update(prefixed("chars", self.char_encoder.params))

    def __repr__(self) -> str:
        chars = "no characters" if self.char_encoder is None else repr(self.char_encoder)
        return f"TaggerNetwork(words {self.words.params['E'].shape}, {chars}, {self.rnn!r}, head {self.head.params['W'].shape})"

    def forward(self, batch: TaggerBatch, training: bool = False,
                rng: np.random.Generator | None = None) -> tuple[ndarray, TaggerCache]:
        """batch: a :class:`~.inputs.TaggerBatch` of B sentences of at most T tokens ->
        logits (B, T, K) (rows at padding carry no meaning), cache. ``training`` switches dropout
        on, with masks from ``rng`` (None: the network's own stream)."""
        rng = self._rng if rng is None else rng
        x, word_cache = self.words.forward(batch.words)                                 # (B, T, D_w)
        char_cache = None
        if self.char_encoder is not None:
            c, char_cache = self.char_encoder.forward(batch.chars, batch.char_lengths)   # (U, 2H_c)
            c = c[batch.types] * batch.mask[..., None]                                  # (B, T, 2H_c)
            x = np.concatenate([x, c], axis=-1)
        x, in_cache = self.dropout.forward(x, training=training, rng=rng)
        h, _, rnn_cache = self.rnn.forward(x, None, batch.lengths, training=training, rng=rng)
        h, out_cache = self.dropout.forward(h, training=training, rng=rng)
        logits, head_cache = self.head.forward(h)
        return logits, TaggerCache(word_cache, char_cache, in_cache, rnn_cache, out_cache, head_cache)

    def backward(self, dlogits: ndarray, batch: TaggerBatch, cache: TaggerCache) -> Grads:
        """dlogits: (B, T, K), zero at padding -> grads with the keys of ``params``."""
        dh, head_grads = self.head.backward(dlogits, cache.head)          # logits = h' W + b
        dh = self.dropout.backward(dh, cache.drop_out)                    # h' = dropout(h)
        dx, _, rnn_grads = self.rnn.backward(dh, None, cache.rnn)         # h = BiRNN(x, lengths)
        dx = self.dropout.backward(dx, cache.drop_in)                     # x = dropout([w ; c])
        D = self.word_dim
        _, word_grads = self.words.backward(np.ascontiguousarray(dx[..., :D]), cache.words)   # w = E[words]
        grads = {**prefixed("words", word_grads), **prefixed("rnn", rnn_grads), **prefixed("head", head_grads)}
        if self.char_encoder is not None:
            # c[b, t] = enc[types[b, t]] at real tokens: sum each form's gradients over its tokens
            dc = accumulate_rows(batch.types[batch.mask], dx[..., D:][batch.mask], len(batch.char_lengths))
            _, char_grads = self.char_encoder.backward(dc, cache.chars)
            grads.update(prefixed("chars", char_grads))
        return {k: grads[k] for k in self.params}


__all__ = ["TaggerCache", "TaggerNetwork"]
