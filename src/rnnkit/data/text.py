"""Contiguous token streams for truncated BPTT (char-rnn's and min-char-rnn's batching)."""
from __future__ import annotations

import numpy as np
from numpy import ndarray


class TokenStreams:
    """Lay ``ids`` out as ``B`` contiguous streams and cut them into windows of ``T`` steps.

    Stream b holds ids ``[b*L, (b+1)*L]`` with ``L = (N - 1) // B``, so window k of every stream
    continues exactly where window k - 1 ended and a hidden state carried from one window to the
    next has read everything before it. Targets are the inputs shifted by one token.

    Args:
        ids: (N,) token ids.
        batch_size: B, the number of streams.
        seq_len: T, the window length; the last window may be shorter when ``drop_last`` is False.
    """

    def __init__(self, ids: ndarray, batch_size: int, seq_len: int, drop_last: bool = True):
        ids = np.asarray(ids, dtype=np.int64)
        if ids.ndim != 1:
            raise ValueError(f"TokenStreams: expected (N,) ids, got shape {ids.shape}")
        L = (len(ids) - 1) // batch_size
        if L < 1:
            raise ValueError(f"TokenStreams: {len(ids)} tokens cannot fill {batch_size} streams")
        self.inputs = ids[:batch_size * L].reshape(batch_size, L)
        self.targets = ids[1:batch_size * L + 1].reshape(batch_size, L)
        self.seq_len = seq_len
        full, rest = divmod(L, seq_len)
        self.num_windows = full if drop_last or rest == 0 else full + 1
        if self.num_windows < 1:
            raise ValueError(f"TokenStreams: streams of {L} tokens are shorter than one window of {seq_len}")

    def window(self, k: int) -> tuple[ndarray, ndarray]:
        """Inputs and targets of window k: two (B, T) arrays."""
        s = slice(k * self.seq_len, (k + 1) * self.seq_len)
        return self.inputs[:, s], self.targets[:, s]


def fit_batch_to_text(num_tokens: int, batch_size: int, seq_len: int) -> tuple[int, int]:
    """The largest ``(batch_size, seq_len)`` not above the requested ones that fits at least one
    window into ``num_tokens`` tokens, shrinking the batch first (short texts need short windows)."""
    if num_tokens < 3:
        raise ValueError(f"a text of {num_tokens} tokens is too short to train on")
    seq_len = min(seq_len, num_tokens - 1)
    batch_size = max(1, min(batch_size, (num_tokens - 1) // seq_len))
    return batch_size, seq_len
