"""``CharEncoder``: one vector per word from a small bidirectional RNN over its characters."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .._types import Grads, Params, Seed, as_rng, prefixed
from .embedding import Embedding
from .networks import make_network

class CharEncoderCache(NamedTuple):
    lengths: ndarray           # (N,) characters per word
    embedding: object | None   # the embedding's cache (None: no words)
    rnn: object | None         # the network's cache
    shape: tuple[int, int]     # (N, L) of the ids


class CharEncoder:
    """Words as vectors from their characters (Ling et al., 2015; Plank et al., 2016)::

        e_k = C[c_k]                          character embeddings, k = 1 .. n (the word's length)
        f = RNN_fwd(e_1 .. e_n)   final state after the last character
        b = RNN_bwd(e_n .. e_1)   final state after the first character
        y = [f ; b]                           (N, 2H), forward half first

    so a word's prefix and suffix both reach its vector, and a word never seen in training still
    gets one. With ``num_layers > 1`` the states are those of the top layer.

    Speed: the words run as one ragged batch (``lengths``) on the network's fast path, where a
    word that has ended costs nothing at the later steps, so a long URL does not make every short
    word run 60 steps. (Splitting the words into groups of similar length, which that used to
    need, is slower now: 500 words of 1-20 characters, forward and backward, 270 ms in one
    batch against 280-360 ms in the groups that minimised padded work plus a per-step cost.)
    Callers should pass each distinct word of a batch once.

    Parameters: ``embedding.E`` (row ``padding_idx`` = 0 stays zero) and ``rnn.layers.*``.

    Args:
        num_chars: size of the character vocabulary (id 0 is padding).
        char_dim: size of a character embedding.
        hidden_size: H, per direction; the output has 2H features.
        num_layers: stacked bidirectional layers.
        cell: a registered cell name (:mod:`rnnkit.cells.registry`), ``"lstm"`` by default.
        dtype: float32 (default) or float64 (gradient checks).
        seed: int, Generator or None.
    """

    def __init__(self, num_chars: int, char_dim: int = 32, hidden_size: int = 50, num_layers: int = 1,
                 cell: str = "lstm", dtype=np.float32, seed: Seed = None):
        rng = as_rng(seed)
        self.embedding = Embedding(num_chars, char_dim, padding_idx=0, dtype=dtype, seed=rng)
        self.rnn = make_network(cell, char_dim, hidden_size, num_layers, bidirectional=True, dtype=dtype, seed=rng)
        self.num_chars, self.char_dim, self.hidden_size = int(num_chars), int(char_dim), int(hidden_size)
        self.num_layers, self.cell, self.dtype = int(num_layers), cell, np.dtype(dtype)
        self.output_size = 2 * self.hidden_size
        self.params: Params = {**prefixed("embedding", self.embedding.params), **prefixed("rnn", self.rnn.params)}

    def __repr__(self) -> str:
        return (f"CharEncoder({self.num_chars}, char_dim={self.char_dim}, hidden_size={self.hidden_size}, "
                f"num_layers={self.num_layers}, cell={self.cell!r})")

    def forward(self, ids: ndarray, lengths: ndarray) -> tuple[ndarray, CharEncoderCache]:
        """ids: (N, L) character ids (0 = padding after each word's end), lengths: (N,) in [1, L]
        -> y: (N, 2H), cache."""
        who = repr(self)
        ids, lengths = np.asarray(ids), np.asarray(lengths)
        if ids.ndim != 2 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"{who}: expected integer ids of shape (N, L), got {ids.dtype} {ids.shape}")
        N, L = ids.shape
        if lengths.shape != (N,) or not np.issubdtype(lengths.dtype, np.integer):
            raise ValueError(f"{who}: expected integer lengths of shape ({N},), got {lengths.dtype} {lengths.shape}")
        if N and (lengths.min() < 1 or lengths.max() > L):
            raise ValueError(f"{who}: lengths must lie in [1, {L}], got {lengths.min()} to {lengths.max()}")
        H = self.hidden_size
        if N == 0:
            return np.zeros((0, 2 * H), self.dtype), CharEncoderCache(lengths, None, None, (N, L))
        e, emb_cache = self.embedding.forward(ids[:, :lengths.max()])
        h, _, rnn_cache = self.rnn.forward(e, None, lengths)
        # f: the forward output at the last character; b: the backward output at the first
        y = np.concatenate([h[np.arange(N), lengths - 1, :H], h[:, 0, H:]], axis=1)
        return y, CharEncoderCache(lengths, emb_cache, rnn_cache, (N, L))

    def backward(self, dy: ndarray, cache: CharEncoderCache) -> tuple[None, Grads]:
        """dy: (N, 2H) -> (None, grads with the keys of ``params``); ids have no gradient."""
        N, _ = cache.shape
        H = self.hidden_size
        dy = np.asarray(dy)
        if dy.shape != (N, 2 * H):
            raise ValueError(f"{self!r}: expected dy of shape ({N}, {2 * H}), got {dy.shape}")
        if N == 0:
            return None, {k: np.zeros_like(v) for k, v in self.params.items()}
        dh = np.zeros(cache.rnn.shape + (2 * H,), self.dtype)     # the other outputs are not used
        dh[np.arange(N), cache.lengths - 1, :H], dh[:, 0, H:] = dy[:, :H], dy[:, H:]
        de, _, rnn_grads = self.rnn.backward(dh, None, cache.rnn)
        _, emb_grads = self.embedding.backward(de, cache.embedding)
        grads = {**prefixed("rnn", rnn_grads), **prefixed("embedding", emb_grads)}
        return None, {k: grads[k] for k in self.params}


def encode_words(words: list[str], char_index: dict[str, int], max_length: int = 30,
                 unk_id: int = 1) -> tuple[ndarray, ndarray]:
    """Character ids of ``words`` for :class:`CharEncoder`: ids (N, L) with 0 padding and
    lengths (N,). Characters missing from ``char_index`` get ``unk_id``. A word longer than
    ``max_length`` keeps its first and last ``max_length // 2`` characters, which hold the
    prefix and suffix a tag depends on (URLs and e-mail addresses run to hundreds)."""
    half = max_length // 2
    clipped = [w if len(w) <= max_length else w[:half] + w[-half:] for w in words]
    lengths = np.fromiter((len(w) for w in clipped), dtype=np.int64, count=len(clipped))
    if len(clipped) and lengths.min() < 1:
        raise ValueError(f"encode_words: empty word at position {int(np.argmin(lengths))}")
    ids = np.zeros((len(clipped), int(lengths.max()) if len(clipped) else 1), np.int64)
    get = char_index.get
    for k, w in enumerate(clipped):
        ids[k, :len(w)] = [get(c, unk_id) for c in w]
    return ids, lengths


__all__ = ["CharEncoder", "encode_words"]
