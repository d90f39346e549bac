"""The step kernels in plain NumPy: the specification that :mod:`rnnkit.kernels.compiled` matches.

Every kernel writes into output arrays the caller owns. Shapes: ``B`` rows, ``H`` hidden units,
``a = h_prev Wh: (B, G*H)`` (the recurrent product, without its bias), ``xp = x Wx + bx: (B, G*H)``
and ``bias = bh: (G*H,)``. Where a docstring says an output "may be" an input, the kernel reads
each element before it writes it, so passing the same array is safe.

Activation codes for the Elman cell: 0 tanh, 1 relu, 2 sigmoid.
"""
from __future__ import annotations

import numpy as np
from numpy import ndarray

from ..functional import sigmoid

ACTIVATION_CODES = {"tanh": 0, "relu": 1, "sigmoid": 2}


def rnn_forward(a: ndarray, xp: ndarray, bias: ndarray, h_new: ndarray, act: int) -> None:
    """h' = act(xp + a + bias)."""
    s = xp + a
    s += bias
    if act == 0:
        np.tanh(s, out=h_new)
    elif act == 1:
        np.maximum(s, 0.0, out=h_new)
    else:
        sigmoid(s, out=h_new)


def rnn_backward(dy: ndarray, dh_rec: ndarray, h_new: ndarray, da: ndarray, act: int) -> None:
    """da = (dy + dh_rec) * act'(a), act' from the output h' (``dh_rec`` is the gradient that came
    back through ``Wh`` from the step after)."""
    dh = dy + dh_rec                                      # h' is y and the next step's h
    if act == 0:
        np.multiply(dh, 1.0 - h_new * h_new, out=da)      # h' = tanh(a)
    elif act == 1:
        np.multiply(dh, h_new > 0, out=da)                # h' = relu(a)
    else:
        np.multiply(dh, h_new * (1.0 - h_new), out=da)    # h' = sigmoid(a)


def lstm_forward(a: ndarray, gates: ndarray, bias: ndarray, c: ndarray, c_new: ndarray,
                 h_new: ndarray, tanh_c: ndarray) -> None:
    """Blocks ``i f g o`` of ``s = xp + a + bias``: i, f, o = sigmoid, g = tanh;
    c' = f * c + i * g; h' = o * tanh(c'). ``gates: (B, 4H)`` holds xp on entry and the gate
    activations on return; writes ``c_new``, ``h_new``, ``tanh_c: (B, H)``; ``a`` is scratch."""
    H = c.shape[1]
    s = np.add(gates, a, out=a)
    s += bias
    sigmoid(s[:, :2 * H], out=gates[:, :2 * H])
    np.tanh(s[:, 2 * H:3 * H], out=gates[:, 2 * H:3 * H])
    sigmoid(s[:, 3 * H:], out=gates[:, 3 * H:])
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    np.multiply(f, c, out=c_new)
    c_new += i * g
    np.tanh(c_new, out=tanh_c)
    np.multiply(o, tanh_c, out=h_new)


def lstm_backward(dy: ndarray, dh_rec: ndarray, dc: ndarray, gates: ndarray, c: ndarray,
                  tanh_c: ndarray, da: ndarray) -> None:
    """Inverts :func:`lstm_forward` with ``dh = dy + dh_rec``. ``dc`` holds the gradient of c' on
    entry and of c on return; writes ``da: (B, 4H)``, the gradient of s."""
    H = c.shape[1]
    i, f, g, o = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    dh = dy + dh_rec                                      # h' is y and the next step's h
    da[:, 3 * H:] = dh * tanh_c * o * (1 - o)             # h' = o * tanh(c'), o = sigmoid
    dcn = dc + dh * o * (1 - tanh_c * tanh_c)             # c' feeds h' and the next step
    da[:, :H] = dcn * g * i * (1 - i)                     # c' = ... + i * g, i = sigmoid
    da[:, H:2 * H] = dcn * c * f * (1 - f)                # c' = f * c + ..., f = sigmoid
    da[:, 2 * H:3 * H] = dcn * i * (1 - g * g)            # g = tanh
    np.multiply(dcn, f, out=dc)                           # c' = f * c + ...


def gru_forward(a: ndarray, gates: ndarray, bias: ndarray, h: ndarray, hp_n: ndarray,
                h_new: ndarray) -> None:
    """PyTorch's GRU (reset after the product), blocks ``r z n``:
    r, z = sigmoid(xp + (a + bias)); hp_n = a_n + bias_n; n = tanh(xp_n + r * hp_n);
    h' = n + z * (h - n). ``gates: (B, 3H)`` holds xp on entry and r z n on return; writes
    ``hp_n``, ``h_new``; ``a`` is scratch."""
    H = h.shape[1]
    hp = np.add(a, bias, out=a)
    np.add(gates[:, :2 * H], hp[:, :2 * H], out=hp[:, :2 * H])
    hp_n[...] = hp[:, 2 * H:]
    sigmoid(hp[:, :2 * H], out=gates[:, :2 * H])
    r, z = gates[:, :H], gates[:, H:2 * H]
    n = np.tanh(gates[:, 2 * H:] + r * hp_n, out=gates[:, 2 * H:])
    np.add(n, z * (h - n), out=h_new)


def gru_backward(dy: ndarray, dh_rec: ndarray, carry: ndarray, gates: ndarray, h: ndarray,
                 hp_n: ndarray, dhp: ndarray, dxp_n: ndarray) -> None:
    """Inverts :func:`gru_forward` with ``dh = dy + dh_rec + carry``, where ``carry`` is the
    gradient that reached h directly (``z * dh`` of the step after) on entry and this step's
    ``z * dh`` on return. Writes ``dhp: (B, 3H)``, the gradient of ``hp = h Wh + bh``, and
    ``dxp_n: (B, H)``, of ``xp_n`` (``xp``'s r and z blocks share ``dhp``'s)."""
    H = h.shape[1]
    r, z, n = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:]
    dh = dy + dh_rec                                      # h' is y, and h of the next step
    dh += carry                                           # (through Wh and through z * h)
    dan = dh * (1 - z) * (1 - n * n)                      # h' = n + z (h - n), n = tanh(a_n)
    dxp_n[...] = dan                                      # a_n = xp_n + r * hp_n: dxp_n = da_n
    dhp[:, H:2 * H] = dh * (h - n) * z * (1 - z)          # z = sigmoid
    dhp[:, :H] = dan * hp_n * r * (1 - r)                 # a_n = xp_n + r * hp_n, r = sigmoid
    np.multiply(dan, r, out=dhp[:, 2 * H:])               # a_n = xp_n + r * hp_n: dhp_n = r da_n
    np.multiply(dh, z, out=carry)                         # h' = ... + z * h


def rnn_step(xp: ndarray, h: ndarray, Wh: ndarray, bias: ndarray, h_new: ndarray, act: int) -> None:
    """One whole step, product included: h' = act(xp + h Wh + bias)."""
    rnn_forward(h @ Wh, xp, bias, h_new, act)


def lstm_step(xp: ndarray, h: ndarray, c: ndarray, Wh: ndarray, bias: ndarray, gates: ndarray,
              c_new: ndarray, h_new: ndarray, tanh_c: ndarray) -> None:
    """One whole step, product included; ``gates`` receives the activations (``xp`` is kept)."""
    gates[...] = xp
    lstm_forward(h @ Wh, gates, bias, c, c_new, h_new, tanh_c)


def gru_step(xp: ndarray, h: ndarray, Wh: ndarray, bias: ndarray, gates: ndarray, hp_n: ndarray,
             h_new: ndarray) -> None:
    """One whole step, product included; ``gates`` receives r z n (``xp`` is kept)."""
    gates[...] = xp
    gru_forward(h @ Wh, gates, bias, h, hp_n, h_new)


def softmax_xent(rows: ndarray, target: ndarray, weight: ndarray, dx: ndarray) -> float:
    """Softmax cross-entropy of ``rows: (N, V)`` logits against classes ``target: (N,)``, each
    row weighted by ``weight: (N,)``: returns ``sum_n w_n (log sum_v exp x_nv - x_n,target)``
    and writes its gradient ``w_n (softmax(x_n) - onehot(target_n))`` to ``dx: (N, V)``. Each
    row is shifted by its maximum before ``exp``, so any finite logits are safe."""
    y, w = target.reshape(-1, 1), weight.reshape(-1, 1)
    # as few passes over the (N, V) logits as NumPy allows: reductions along a short class axis
    # are slow (1.2-1.5x faster than log_softmax, then exp)
    shift = rows.max(axis=1, keepdims=True)
    picked = np.take_along_axis(rows, y, axis=1) - shift
    np.subtract(rows, shift, out=dx)
    np.exp(dx, out=dx)
    total = dx.sum(axis=1, keepdims=True)
    dx /= total
    np.put_along_axis(dx, y, np.take_along_axis(dx, y, axis=1) - 1, axis=1)
    dx *= w
    return -float(np.sum(w * (picked - np.log(total)), dtype=np.float64))
