"""``Recurrent`` over time: equal to a plain loop over its cell, reverse equal to forward on
flipped input, a ragged batch equal to each sequence alone, no state kept between calls."""
import numpy as np
import pytest

from network_cases import B, D, H, IDS, LENGTHS, T, VARIANTS, make
from rnnkit.layers.recurrent import Recurrent


@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
def test_layer_equals_plain_loop_over_cell(name, cls, options, rng):
    net = make(cls, options)
    cell = net.layers[0].cell
    x = rng.normal(size=(B, T, D))
    y, (h, *rest), _ = net.forward(x)
    state = cell.zero_state(B)
    for t in range(T):
        state, _ = cell.step(x[:, t] @ cell.params["Wx"] + cell.params["bx"], state)
        np.testing.assert_allclose(y[:, t], state[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h[0], state[0], rtol=1e-12, atol=1e-12)

@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
def test_reverse_equals_forward_on_flipped_input(name, cls, options, rng):
    net = make(cls, options, bidirectional=True)
    x = rng.normal(size=(B, T, D))
    y, (h, *_), _ = net.forward(x)
    forward_only = Recurrent(net.layers[0].bwd.cell, reverse=False)
    y_flip, (h_flip, *_), _ = forward_only.forward(x[:, ::-1].copy())
    np.testing.assert_allclose(y[:, :, H:], y_flip[:, ::-1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h[1], h_flip[0], rtol=1e-12, atol=1e-12)

@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
def test_ragged_batch_equals_each_sequence_alone(name, cls, options, rng):
    net = make(cls, options, num_layers=2, bidirectional=True)
    x = rng.normal(size=(B, T, D))
    x_padded = x.copy()
    for b, L in enumerate(LENGTHS):
        x_padded[b, L:] = 1e3  # padding content must not matter
    y, state, cache = net.forward(x_padded, lengths=LENGTHS)
    dy = rng.normal(size=y.shape)
    dx, _, grads = net.backward(dy, None, cache)
    total = {k: np.zeros_like(v) for k, v in grads.items()}
    for b, L in enumerate(LENGTHS):
        yb, sb, cb = net.forward(x[b:b + 1, :L])
        np.testing.assert_allclose(y[b, :L], yb[0], rtol=1e-10, atol=1e-12)
        assert np.all(y[b, L:] == 0), "outputs at padded steps must be zero"
        for s_all, s_one in zip(state, sb):
            np.testing.assert_allclose(s_all[:, b], s_one[:, 0], rtol=1e-10, atol=1e-12)
        dxb, _, gb = net.backward(dy[b:b + 1, :L], None, cb)
        np.testing.assert_allclose(dx[b, :L], dxb[0], rtol=1e-9, atol=1e-12)
        assert np.all(dx[b, L:] == 0), "padded steps must receive no gradient"
        for k in total:
            total[k] += gb[k]
    for k in grads:
        np.testing.assert_allclose(grads[k], total[k], rtol=1e-9, atol=1e-12)

@pytest.mark.parametrize("name,cls,options", VARIANTS, ids=IDS)
def test_two_forwards_then_two_backwards(name, cls, options, rng):
    net = make(cls, options, num_layers=2, bidirectional=True)
    x1, x2 = rng.normal(size=(B, T, D)), rng.normal(size=(B, T + 1, D))
    y1, _, c1 = net.forward(x1)
    y2, _, c2 = net.forward(x2)
    dy1, dy2 = rng.normal(size=y1.shape), rng.normal(size=y2.shape)
    dx2, _, g2 = net.backward(dy2, None, c2)
    dx1, _, g1 = net.backward(dy1, None, c1)
    fresh1 = net.backward(dy1, None, net.forward(x1)[2])
    np.testing.assert_array_equal(dx1, fresh1[0])
    for k in g1:
        np.testing.assert_array_equal(g1[k], fresh1[2][k])
    assert dx2.shape == x2.shape
