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
        # Computed in place in h_new. The fused path passes xp and h_new as one array (its
        # projection lives where the outputs go), and a loop reading one name and writing the
        # other failed LLVM's overlap check there and ran scalar (4-8 ns per element, not 0.7);
        # any other xp is copied in first.
        if xb.ctypes.data != hb.ctypes.data:
            for j in range(H):
                hb[j] = xb[j]
        if act == 0:
            for j in range(H):
                hb[j] = tanh(hb[j] + ab[j] + bias[j])
        elif act == 1:
            for j in range(H):
                s = hb[j] + ab[j] + bias[j]
                hb[j] = s if s > zero else zero
        else:
            for j in range(H):
                hb[j] = sigmoid(hb[j] + ab[j] + bias[j])


@jit
def rnn_backward(dy, dh_rec, h_new, da, act):
    B, H = h_new.shape
    one, zero = h_new.dtype.type(1), h_new.dtype.type(0)
    for b in range(B):
        # dh = dy + dh_rec: h' is the output y and, through Wh, the next step's input
        yb, rb, hb, db = dy[b], dh_rec[b], h_new[b], da[b]
        if act == 0:
            for j in range(H):
                db[j] = (yb[j] + rb[j]) * (one - hb[j] * hb[j])       # h' = tanh(a)
        elif act == 1:
            for j in range(H):
                db[j] = (yb[j] + rb[j]) if hb[j] > zero else zero     # h' = relu(a)
        else:
            for j in range(H):
                db[j] = (yb[j] + rb[j]) * (hb[j] * (one - hb[j]))     # h' = sigmoid(a)


# Each gate's loop works on slices (``gb[H:2 * H]``) rather than offsets (``gb[H + j]``): Numba
# cannot tell that ``H + j`` is non-negative, so every offset access carried a negative-index
# check that kept LLVM from vectorising the loop (measured 6x slower on the LSTM's gates).

@jit
def lstm_forward(a, gates, bias, c, c_new, h_new, tanh_c):
    B, H = c.shape
    for b in range(B):
        ab, gb, cb, cn, hn, tc = a[b], gates[b], c[b], c_new[b], h_new[b], tanh_c[b]
        for k in range(4):                # in place, one loop per gate, so each vectorises
            s, ak, bk = gb[k * H:(k + 1) * H], ab[k * H:(k + 1) * H], bias[k * H:(k + 1) * H]
            if k == 2:
                for j in range(H):
                    s[j] = tanh(s[j] + ak[j] + bk[j])
            else:
                for j in range(H):
                    s[j] = sigmoid(s[j] + ak[j] + bk[j])
        i, f, g, o = gb[:H], gb[H:2 * H], gb[2 * H:3 * H], gb[3 * H:]
        for j in range(H):
            cj = f[j] * cb[j] + i[j] * g[j]
            cn[j] = cj
            t = tanh(cj)
            tc[j] = t
            hn[j] = o[j] * t


@jit
def lstm_backward(dy, dh_rec, dc, gates, c, tanh_c, da):
    B, H = c.shape
    one = c.dtype.type(1)
    for b in range(B):
        yb, rb, dcb, gb, cb, tc, db = dy[b], dh_rec[b], dc[b], gates[b], c[b], tanh_c[b], da[b]
        i, f, g, o = gb[:H], gb[H:2 * H], gb[2 * H:3 * H], gb[3 * H:]
        di, df, dg, do = db[:H], db[H:2 * H], db[2 * H:3 * H], db[3 * H:]
        for j in range(H):
            dh = yb[j] + rb[j]                          # h' is the output y and the next step's h
            t, oj, ij, gj, fj = tc[j], o[j], i[j], g[j], f[j]
            do[j] = dh * t * oj * (one - oj)            # h' = o * tanh(c'), o = sigmoid(a_o)
            dcn = dcb[j] + dh * oj * (one - t * t)      # h' = o * tanh(c'); c' also feeds the next step
            di[j] = dcn * gj * ij * (one - ij)          # c' = f * c + i * g, i = sigmoid(a_i)
            df[j] = dcn * cb[j] * fj * (one - fj)       # c' = f * c + i * g, f = sigmoid(a_f)
            dg[j] = dcn * ij * (one - gj * gj)          # c' = f * c + i * g, g = tanh(a_g)
            dcb[j] = dcn * fj                           # c' = f * c + ...: the gradient of c


@jit
def gru_forward(a, gates, bias, h, hp_n, h_new):
    B, H = h.shape
    for b in range(B):
        ab, gb, hb, pb, hn = a[b], gates[b], h[b], hp_n[b], h_new[b]
        for k in range(2):              # r and z in place, one loop each, so each vectorises
            s, ak, bk = gb[k * H:(k + 1) * H], ab[k * H:(k + 1) * H], bias[k * H:(k + 1) * H]
            for j in range(H):
                s[j] = sigmoid(s[j] + (ak[j] + bk[j]))
        r, z, n = gb[:H], gb[H:2 * H], gb[2 * H:]
        an, bn = ab[2 * H:], bias[2 * H:]
        for j in range(H):
            p = an[j] + bn[j]
            pb[j] = p
            nj = tanh(n[j] + r[j] * p)
            n[j] = nj
            hn[j] = nj + z[j] * (hb[j] - nj)


@jit
def gru_backward(dy, dh_rec, carry, gates, h, hp_n, dhp, dxp_n):
    B, H = h.shape
    one = h.dtype.type(1)
    for b in range(B):
        yb, rb, cb, gb, hb, pb, db, dnb = dy[b], dh_rec[b], carry[b], gates[b], h[b], hp_n[b], dhp[b], dxp_n[b]
        r, z, n = gb[:H], gb[H:2 * H], gb[2 * H:]
        dr, dz, dn = db[:H], db[H:2 * H], db[2 * H:]
        for j in range(H):
            rj, zj, nj = r[j], z[j], n[j]
            dh = yb[j] + rb[j] + cb[j]                  # h' is y, and h of the next step (via Wh and z)
            dan = dh * (one - zj) * (one - nj * nj)     # h' = n + z (h - n), n = tanh(a_n)
            dnb[j] = dan                                # a_n = xp_n + r * hp_n: dxp_n = da_n
            dz[j] = dh * (hb[j] - nj) * zj * (one - zj)  # h' = n + z (h - n), z = sigmoid(a_z)
            dr[j] = dan * pb[j] * rj * (one - rj)       # a_n = xp_n + r * hp_n, r = sigmoid(a_r)
            dn[j] = dan * rj                            # a_n = xp_n + r * hp_n: dhp_n = r da_n
            cb[j] = dh * zj                             # h' = ... + z * h: the direct path to h
