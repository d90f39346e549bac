"""``CharEncoder``: one vector per word from a small bidirectional RNN over its characters."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy import ndarray

from .._types import Grads, Params, Seed, as_rng, prefixed
from .embedding import Embedding
from .networks import make_network

GROUP_OVERHEAD = 32
"""The cost of one extra length group, in word-steps: a time step has a fixed Python and NumPy
call cost (about that of 32 words' arithmetic at the default sizes), so splitting a batch in more
groups than this pays for is slower."""


def length_groups(lengths: ndarray, overhead: float = GROUP_OVERHEAD) -> list[ndarray]:
    """Split word indices into groups of similar length, minimising the padded work.

    The cost of a group is ``max length * (words + overhead)``: every word runs as many steps as
    the longest in its group, and each step has a fixed cost. Groups are runs of the words sorted
    by length, chosen by dynamic programming over the distinct lengths (a few dozen at most).

    Args:
        lengths: (N,) positive ints.
        overhead: the fixed cost of a step, in words.

    Returns:
        index arrays that partition ``range(N)``, shortest words first.
    """
    order = np.argsort(lengths, kind="stable")
    values, counts = np.unique(lengths, return_counts=True)
    K = len(values)
    total = np.concatenate([[0], np.cumsum(counts)])
    best = np.full(K + 1, np.inf)
    best[0], cut = 0.0, np.zeros(K + 1, int)
    for j in range(1, K + 1):                      # best[j]: cost of the j shortest distinct lengths
        for i in range(j):
            cost = best[i] + values[j - 1] * (total[j] - total[i] + overhead)
            if cost < best[j]:
                best[j], cut[j] = cost, i
    bounds, j = [], K
    while j > 0:
        bounds.append((total[cut[j]], total[j]))
        j = cut[j]
    return [order[a:b] for a, b in reversed(bounds)]


class GroupCache(NamedTuple):
    index: ndarray             # (n,) the group's words, rows of the ids
    lengths: ndarray           # (n,) their lengths
    embedding: object          # the embedding's cache
    rnn: object                # the network's cache


class CharEncoderCache(NamedTuple):
    groups: list               # one GroupCache per length group
    shape: tuple[int, int]     # (N, L) of the ids


class CharEncoder:
    """Words as vectors from their characters (Ling et al., 2015; Plank et al., 2016)::

        e_k = C[c_k]                          character embeddings, k = 1 .. n (the word's length)
        f = RNN_fwd(e_1 .. e_n)   final state after the last character
        b = RNN_bwd(e_n .. e_1)   final state after the first character
        y = [f ; b]                           (N, 2H), forward half first

    so a word's prefix and suffix both reach its vector, and a word never seen in training still
    gets one. With ``num_layers > 1`` the states are those of the top layer.

    Speed: the words run in a few groups of similar length (:func:`length_groups`), each one
    ragged batch (``lengths``) on the network's fast path, where a word that has ended costs no
    recurrent work at the later steps. The groups still pay: the input projection and its
    gradients run over the padded steps too, and the rows that finish early leave each step's
    product few rows to share (500 words of 1-20 characters, forward and backward: 49 ms in the 5
    groups of the default overhead, 52-58 ms with overhead 8 or 128, 63 ms as one batch).
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
        self.group_overhead = GROUP_OVERHEAD       # a speed knob only: the outputs do not depend on it
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
        y = np.empty((N, 2 * H), self.dtype)
        groups = []
        for index in length_groups(lengths, self.group_overhead):
            n = lengths[index]
            e, emb_cache = self.embedding.forward(ids[index, :n.max()])
            h, _, rnn_cache = self.rnn.forward(e, None, n)
            # f: the forward output at the last character; b: the backward output at the first
            y[index, :H], y[index, H:] = h[np.arange(len(n)), n - 1, :H], h[:, 0, H:]
            groups.append(GroupCache(index, n, emb_cache, rnn_cache))
        return y, CharEncoderCache(groups, (N, L))

    def backward(self, dy: ndarray, cache: CharEncoderCache) -> tuple[None, Grads]:
        """dy: (N, 2H) -> (None, grads with the keys of ``params``); ids have no gradient."""
        N, _ = cache.shape
        H = self.hidden_size
        dy = np.asarray(dy)
        if dy.shape != (N, 2 * H):
            raise ValueError(f"{self!r}: expected dy of shape ({N}, {2 * H}), got {dy.shape}")
        grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        for group in cache.groups:
            n = group.lengths
            dh = np.zeros(group.rnn.shape + (2 * H,), self.dtype)     # the other outputs are not used
            dh[np.arange(len(n)), n - 1, :H], dh[:, 0, H:] = dy[group.index, :H], dy[group.index, H:]
            de, _, rnn_grads = self.rnn.backward(dh, None, group.rnn)
            _, emb_grads = self.embedding.backward(de, group.embedding)
            for k, g in {**prefixed("rnn", rnn_grads), **prefixed("embedding", emb_grads)}.items():
                grads[k] += g
        return None, grads


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


__all__ = ["CharEncoder", "encode_words", "length_groups", "GROUP_OVERHEAD"]
