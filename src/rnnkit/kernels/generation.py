"""Token-by-token generation as one compiled loop: draw a token, embed it, step every layer,
project to logits, draw the next, without returning to Python between tokens.

At batch 1 a step is three matrix-vector products of a few microseconds each; done from Python,
the dozen NumPy calls around them (indexing, the products, the kernel, softmax, cumsum, search)
cost several times more than the products. :func:`generate` is
:func:`rnnkit.sampling.generate_ids`'s Python loop compiled: the same products (through
:func:`rnnkit.kernels.loops.gemm`, i.e. BLAS ``gemv``), the same cell kernels and the same draw
(:func:`draw`, which is :func:`rnnkit.sampling.next_token_distribution` followed by the inverse-CDF
lookup), so both give the same tokens for the same uniforms, up to float rounding.
"""
from __future__ import annotations

import numpy as np

from . import compiled
from .compiled import jit
from .loops import blas_threads_local, gemm

KINDS = {"rnn": 0, "lstm": 1, "gru": 2}


@jit
def draw(logits, u, temperature, top_k, banned):
    """The token whose cumulative probability first exceeds ``u * total`` under
    ``softmax(logits / temperature)`` restricted to the allowed, ``top_k`` most likely ids
    (``top_k = 0``: all); ``temperature = 0``: the argmax."""
    V = logits.shape[0]
    z = logits.astype(np.float64)
    for j in range(V):
        if banned[j]:
            z[j] = -np.inf
    if 0 < top_k < V:
        kth = np.sort(z)[V - top_k]
        for j in range(V):
            if z[j] < kth:
                z[j] = -np.inf
    if temperature == 0:
        return np.argmax(z)
    z /= temperature
    e = np.exp(z - z.max())
    p = e / e.sum()
    target = u * p.sum()
    total = 0.0
    for j in range(V):      # searchsorted(cumsum(p), target, side="right"), capped at V - 1
        total += p[j]
        if total > target:
            return j
    return V - 1


@jit
def generate(kind, act, E, Wx, bx, Wh, bh, Wd, bd, h, c, logits, u, temperature, top_k, banned, stop_id, out):
    """Draw ``len(u)`` tokens (fewer if ``stop_id`` is drawn) into ``out``; returns how many.

    E: (V, D) embedding; ``Wx, bx, Wh, bh``: tuples with one array per layer (``(D or H, G*H)``,
    ``(G*H,)``, ``(H, G*H)``, ``(G*H,)``: tuples, not stacked copies of the weights); Wd: (H, V),
    bd: (V,) the softmax layer. ``h``, ``c``:
    (L, 1, H) the state after the prime, updated in place (``c`` is unused unless LSTM);
    ``logits``: (V,) the prime's last logits. ``kind`` from :data:`KINDS`, ``act`` the RNN's
    activation code.
    """
    L, _, H = h.shape
    G = Wh[0].shape[1]
    dtype = h.dtype
    xp, a = np.empty((1, G), dtype), np.empty((1, G), dtype)
    h_new, c_new, tanh_c = np.empty((1, H), dtype), np.empty((1, H), dtype), np.empty((1, H), dtype)
    hp_n = np.empty((1, H), dtype)
    z = np.empty((1, Wd.shape[1]), dtype)
    previous = blas_threads_local(1)
    n = 0
    for i in range(u.shape[0]):
        token = draw(logits, u[i], temperature, top_k, banned)
        out[i] = token
        n = i + 1
        if token == stop_id or n == u.shape[0]:
            break
        for l in range(L):
            gemm(E[token:token + 1] if l == 0 else h[l - 1], Wx[l], xp, False)
            xp[0] += bx[l]
            gemm(h[l], Wh[l], a, False)
            if kind == 0:
                compiled.rnn_forward(a, xp, bh[l], h_new, act)
            elif kind == 1:
                compiled.lstm_forward(a, xp, bh[l], c[l], c_new, h_new, tanh_c)
                c[l] = c_new
            else:
                compiled.gru_forward(a, xp, bh[l], h[l], hp_n, h_new)
            h[l] = h_new
        gemm(h[L - 1], Wd, z, False)
        for j in range(z.shape[1]):
            logits[j] = z[0, j] + bd[j]
    blas_threads_local(previous)
    return n
