"""Pooling layers: float64 finite differences, padding invariance, hand-computed values."""
import numpy as np
import pytest

from rnnkit.gradcheck import gradcheck
from rnnkit.layers.pooling import (AttentionPooling, ConcatPooling, LastPooling, MaxPooling, MeanPooling,
                                   make_pooling)

LENGTHS = np.array([5, 2, 4])


def layers(H):
    return {
        "last": LastPooling(),
        "last_bidirectional": LastPooling(num_directions=2),
        "mean": MeanPooling(),
        "max": MaxPooling(),
        "attention": AttentionPooling(H, 3, dtype=np.float64, seed=0),
        "mean+max+attention": make_pooling("mean+max+attention", H, dtype=np.float64, seed=1),
    }


@pytest.mark.parametrize("name", list(layers(6)))
@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["full", "padded"])
def test_finite_differences(name, lengths):
    rng = np.random.default_rng(0)
    B, T, H = 3, 5, 6
    pool = layers(H)[name]
    h = rng.normal(size=(B, T, H))
    s, cache = pool.forward(h, lengths)
    upstream = rng.normal(size=s.shape)
    dh, grads = pool.backward(upstream, cache)
    assert set(grads) == set(pool.params)

    def loss():
        return float((pool.forward(h, lengths)[0] * upstream).sum())

    errors = gradcheck(loss, {"h": h, **pool.params}, {"h": dh, **grads})
    assert max(errors.values()) < 1e-6, errors
    if lengths is not None:  # padding gets no gradient
        for b, n in enumerate(lengths):
            assert np.all(dh[b, n:] == 0)


@pytest.mark.parametrize("name", list(layers(6)))
def test_padding_does_not_change_the_summary(name):
    """A padded batch gives what each sequence gives alone, whatever the padding holds."""
    rng = np.random.default_rng(1)
    pool = layers(6)[name]
    h = rng.normal(size=(3, 5, 6))
    garbage = h.copy()
    for b, n in enumerate(LENGTHS):
        garbage[b, n:] = 1e3 * rng.normal(size=(5 - n, 6))
    s, _ = pool.forward(garbage, LENGTHS)
    for b, n in enumerate(LENGTHS):
        alone, _ = pool.forward(h[b:b + 1, :n], None)
        np.testing.assert_allclose(s[b], alone[0], rtol=1e-12)


def test_values_by_hand():
    h = np.array([[[1.0, -2.0], [3.0, 5.0], [100.0, 100.0]]])   # B=1, T=3, H=2; step 2 is padding
    lengths = np.array([2])
    np.testing.assert_allclose(MeanPooling().forward(h, lengths)[0], [[2.0, 1.5]])
    np.testing.assert_allclose(MaxPooling().forward(h, lengths)[0], [[3.0, 5.0]])
    np.testing.assert_allclose(LastPooling().forward(h, lengths)[0], [[3.0, 5.0]])
    # bidirectional: forward half at the last valid step, backward half at step 0
    np.testing.assert_allclose(LastPooling(2).forward(h, lengths)[0], [[3.0, -2.0]])
    att = AttentionPooling(2, 4, dtype=np.float64, seed=0)
    att.params["v"][...] = 0.0                                  # equal scores: attention is the mean
    np.testing.assert_allclose(att.forward(h, lengths)[0], [[2.0, 1.5]])


def test_concat_layout_and_params():
    pool = make_pooling("attention+mean", 4, seed=0)
    assert isinstance(pool, ConcatPooling)
    assert set(pool.params) == {"0.W", "0.b", "0.v"}
    assert pool.output_size(4) == 8
    s, _ = pool.forward(np.ones((2, 3, 4), np.float32), np.array([3, 1]))
    assert s.shape == (2, 8)
    np.testing.assert_allclose(s, 1.0, rtol=1e-6)


@pytest.mark.parametrize("spec", ["", "sum", "mean+mean", "mean+", 3])
def test_bad_specs(spec):
    with pytest.raises(ValueError, match="pooling"):
        make_pooling(spec, 4)


def test_bad_input():
    with pytest.raises(ValueError, match=r"MeanPooling: expected a float array h of shape \(B, T, H\)"):
        MeanPooling().forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"MaxPooling: expected integer lengths of shape \(2,\) in \[1, 3\]"):
        MaxPooling().forward(np.ones((2, 3, 4)), np.array([4, 1]))
    with pytest.raises(ValueError, match=r"AttentionPooling: expected h of shape \(B, T, 5\)"):
        AttentionPooling(5).forward(np.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="num_directions"):
        LastPooling(3)


@pytest.mark.parametrize("name", list(layers(6)))
def test_caches_are_named(name):
    """A cache is an array, a NamedTuple read by field name, or (ConcatPooling) a list of those,
    one per part in order."""
    pool = layers(6)[name]
    _, cache = pool.forward(np.random.default_rng(1).normal(size=(3, 5, 6)), LENGTHS)
    for part in cache if isinstance(cache, list) else [cache]:
        assert isinstance(part, np.ndarray) or hasattr(part, "_fields"), type(part)
