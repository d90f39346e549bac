"""The step kernels compiled with Numba: one pass over each row, same signatures and numbers as
:mod:`rnnkit.kernels.reference` (see there for the equations).

Importing this module imports Numba but compiles nothing; each kernel compiles for the dtypes it
first sees and caches the machine code on disk (``cache=True``), so a later process loads it.
``error_model="numpy"`` drops the division-by-zero check that would stop LLVM vectorising, and
``fastmath`` lets it fuse multiply-adds.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

jit = numba.njit(cache=True, nogil=True, fastmath=True, error_model="numpy")


def tanh(x):
    return math.tanh(x)


@overload(tanh, inline="always")
def _tanh(x):
    if x != types.float32:
        return lambda x: math.tanh(x)

    def tanh32(x):
        # Eigen's float32 rational approximation (max error ~2e-7 on the clamped range, where
        # tanh is already 1 - 1e-7): only multiplies, adds and one division, so it vectorises.
        limit = np.float32(7.90531110763549805)
        y = max(min(x, limit), -limit)
        y2 = y * y
        p = np.float32(-2.76076847742355e-16)
        p = p * y2 + np.float32(2.00018790482477e-13)
        p = p * y2 + np.float32(-8.60467152213735e-11)
        p = p * y2 + np.float32(5.12229709037114e-08)
        p = p * y2 + np.float32(1.48572235717979e-05)
        p = p * y2 + np.float32(6.37261928875436e-04)
        p = p * y2 + np.float32(4.89352455891786e-03)
        q = np.float32(1.19825839466702e-06)
        q = q * y2 + np.float32(1.18534705686654e-04)
        q = q * y2 + np.float32(2.26843463243900e-03)
        q = q * y2 + np.float32(4.89352518554385e-03)
        return y * p / q
    return tanh32


def sigmoid(x):
    return 0.5 + 0.5 * math.tanh(0.5 * x)


@overload(sigmoid, inline="always")
def _sigmoid(x):
    # 0.5 + 0.5 tanh(x / 2), as rnnkit.functional.sigmoid; constants typed like x, since Numba
    # would widen a float32 expression with a Python float to float64.
    if x == types.float32:
        def sigmoid32(x):
            half = np.float32(0.5)
            return half + half * tanh(half * x)
        return sigmoid32
    return lambda x: 0.5 + 0.5 * tanh(0.5 * x)


def exp_nonpositive(x, out, bits):
    """``out = exp(x)`` for ``x <= 0`` (one row; ``bits``: int32 scratch of x's length)."""


@overload(exp_nonpositive, inline="always")
def _exp_nonpositive(x, out, bits):
    if x.dtype != types.float32:
        def exact(x, out, bits):
            for v in range(x.shape[0]):
                out[v] = math.exp(x[v])
        return exact

    def exp32(x, out, bits):
        # Cephes' expf (within 3e-7 relative of the exact value): exp(x) = 2^k exp(r) with
        # k = round(x / ln 2), |r| <= ln(2) / 2 and exp(r) a degree-7 polynomial. 2^k is built
        # from its exponent bits in ``bits`` and applied in a second loop, so both vectorise
        # (a scalar expf per element was as slow as NumPy's whole softmax).
        for v in range(x.shape[0]):
            xv = max(x[v], np.float32(-87.0))     # exp(-87) ~ 1.6e-38, the smallest normal float
            k = np.int32(xv * np.float32(1.44269504088896341) - np.float32(0.5))   # x <= 0: rounds
            fk = np.float32(k)
            r = xv - fk * np.float32(0.693359375) - fk * np.float32(-2.12194440e-4)
            p = np.float32(1.9875691500e-4)
            p = p * r + np.float32(1.3981999507e-3)
            p = p * r + np.float32(8.3334519073e-3)
            p = p * r + np.float32(4.1665795894e-2)
            p = p * r + np.float32(1.6666665459e-1)
            p = p * r + np.float32(5.0000001201e-1)
            out[v] = p * (r * r) + r + np.float32(1)
            bits[v] = (k + np.int32(127)) << np.int32(23)
        scale = bits.view(np.float32)
        for v in range(x.shape[0]):
            out[v] *= scale[v]
    return exp32


@jit
def softmax_xent(rows, target, weight, dx):
    N, V = rows.shape
    bits = np.empty(V, np.int32)
    loss = 0.0
    for n in range(N):
        xr, dr, w = rows[n], dx[n], weight[n]
        top = xr[0]
        for v in range(1, V):
            top = max(top, xr[v])
        for v in range(V):
            dr[v] = xr[v] - top
        exp_nonpositive(dr, dr, bits)
        total = dr.dtype.type(0)
        for v in range(V):
            total += dr[v]
        scale = w / total
        for v in range(V):
            dr[v] *= scale
        y = target[n]
        dr[y] -= w
        loss += float(w) * (math.log(float(total)) - float(xr[y] - top))
    return loss


@jit
def rnn_forward(a, xp, bias, h_new, act):
    B, H = h_new.shape
    zero = h_new.dtype.type(0)
    for b in range(B):
        ab, xb, hb = a[b], xp[b], h_new[b]
        if act == 0 and xb.ctypes.data == hb.ctypes.data:
            # xp is h_new (the fused path's projection lives where the outputs go): written in
            # place, so LLVM vectorises it (its overlap check fails on the two-array loop below
            # and took the scalar path: 4-8 ns per element instead of ~1)
            for j in range(H):
                hb[j] = tanh(hb[j] + ab[j] + bias[j])
        elif act == 0:
            for j in range(H):
                hb[j] = tanh(xb[j] + ab[j] + bias[j])
        elif act == 1:
            for j in range(H):
                s = xb[j] + ab[j] + bias[j]
                hb[j] = s if s > zero else zero
        else:
            for j in range(H):
                hb[j] = sigmoid(xb[j] + ab[j] + bias[j])


@jit
def rnn_backward(dy, dh_rec, h_new, da, act):
    B, H = h_new.shape
    one, zero = h_new.dtype.type(1), h_new.dtype.type(0)
    for b in range(B):
        yb, rb, hb, db = dy[b], dh_rec[b], h_new[b], da[b]
        if act == 0:
            for j in range(H):
                db[j] = (yb[j] + rb[j]) * (one - hb[j] * hb[j])
        elif act == 1:
            for j in range(H):
                db[j] = (yb[j] + rb[j]) if hb[j] > zero else zero
        else:
            for j in range(H):
                db[j] = (yb[j] + rb[j]) * (hb[j] * (one - hb[j]))


@jit
def lstm_coefficients(gates):
    """``(p, q, r): (4H,)`` with ``p + q * tanh(r * s)`` = sigmoid(s) on the i, f, o blocks and
    tanh(s) on the g block: one flat loop over all four blocks vectorises twice as well as a
    loop per block."""
    G = gates.shape[1]
    H = G // 4
    p, q, r = np.full(G, 0.5, gates.dtype), np.full(G, 0.5, gates.dtype), np.full(G, 0.5, gates.dtype)
    p[2 * H:3 * H], q[2 * H:3 * H], r[2 * H:3 * H] = 0.0, 1.0, 1.0
    return p, q, r


@jit
def lstm_forward_with(a, gates, bias, c, c_new, h_new, tanh_c, p, q, r):
    """:func:`lstm_forward` with the coefficients of :func:`lstm_coefficients` given."""
    B, H = c.shape
    for b in range(B):
        ab, gb, cb, cn, hn, tc = a[b], gates[b], c[b], c_new[b], h_new[b], tanh_c[b]
        # in place, so it vectorises (a loop reading one block while writing another would not)
        for k in range(4 * H):
            gb[k] = p[k] + q[k] * tanh(r[k] * (gb[k] + ab[k] + bias[k]))
        for j in range(H):
            cj = gb[H + j] * cb[j] + gb[j] * gb[2 * H + j]
            cn[j] = cj
            t = tanh(cj)
            tc[j] = t
            hn[j] = gb[3 * H + j] * t


@jit
def lstm_forward(a, gates, bias, c, c_new, h_new, tanh_c):
    p, q, r = lstm_coefficients(gates)
    lstm_forward_with(a, gates, bias, c, c_new, h_new, tanh_c, p, q, r)


@jit
def lstm_backward(dy, dh_rec, dc, gates, c, tanh_c, da):
    B, H = c.shape
    one = c.dtype.type(1)
    for b in range(B):
        yb, rb, dcb, gb, cb, tc, db = dy[b], dh_rec[b], dc[b], gates[b], c[b], tanh_c[b], da[b]
        for j in range(H):
            i, f, g, o = gb[j], gb[H + j], gb[2 * H + j], gb[3 * H + j]
            dh = yb[j] + rb[j]
            t = tc[j]
            db[3 * H + j] = dh * t * o * (one - o)
            dcn = dcb[j] + dh * o * (one - t * t)
            db[j] = dcn * g * i * (one - i)
            db[H + j] = dcn * cb[j] * f * (one - f)
            db[2 * H + j] = dcn * i * (one - g * g)
            dcb[j] = dcn * f


@jit
def gru_forward(a, gates, bias, h, hp_n, h_new):
    B, H = h.shape
    for b in range(B):
        ab, gb, hb, pb, hn = a[b], gates[b], h[b], hp_n[b], h_new[b]
        for k in range(2 * H):          # in place, so it vectorises (see lstm_forward_with)
            gb[k] = sigmoid(gb[k] + (ab[k] + bias[k]))
        for j in range(H):              # n goes to a first: this loop reads gates, writes a
            p = ab[2 * H + j] + bias[2 * H + j]
            pb[j] = p
            n = tanh(gb[2 * H + j] + gb[j] * p)
            ab[2 * H + j] = n
            hn[j] = n + gb[H + j] * (hb[j] - n)
        for j in range(2 * H, 3 * H):
            gb[j] = ab[j]


@jit
def gru_backward(dy, dh_rec, carry, gates, h, hp_n, dhp, dxp_n):
    B, H = h.shape
    one = h.dtype.type(1)
    for b in range(B):
        yb, rb, cb, gb, hb, pb, db, dnb = dy[b], dh_rec[b], carry[b], gates[b], h[b], hp_n[b], dhp[b], dxp_n[b]
        for j in range(H):
            r, z, n = gb[j], gb[H + j], gb[2 * H + j]
            dh = yb[j] + rb[j] + cb[j]
            dan = dh * (one - z) * (one - n * n)
            dnb[j] = dan
            db[H + j] = dh * (hb[j] - n) * z * (one - z)
            db[j] = dan * pb[j] * r * (one - r)
            db[2 * H + j] = dan * r
            cb[j] = dh * z
