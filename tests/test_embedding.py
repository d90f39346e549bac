"""Embedding: lookup, gradients with repeated ids and padding, PyTorch parity, errors."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.gradcheck import gradcheck, numerical_gradient, relative_error
from rnnkit.layers.embedding import Embedding, accumulate_rows

V, D = 7, 4          # V != D, so a transposed table or gradient cannot pass
IDS = np.array([[1, 3, 3, 0, 6],
                [3, 2, 1, 1, 3]])   # (B, T) = (2, 5); id 3 four times, id 1 three times, 4 and 5 never


def loss_and_grad(emb: Embedding, ids: np.ndarray, dy: np.ndarray):
    _, cache = emb.forward(ids)
    dids, grads = emb.backward(dy, cache)
    return (lambda: float(np.sum(emb.forward(ids)[0] * dy))), dids, grads


def test_lookup_shapes_and_values():
    emb = Embedding(V, D, seed=0)
    for ids in (IDS, IDS[0], np.array(2), IDS[None]):
        y, _ = emb.forward(ids)
        assert y.shape == ids.shape + (D,) and y.dtype == np.float32
        np.testing.assert_array_equal(y, emb.params["E"][ids])


def test_gradcheck_with_repeated_ids():
    rng = np.random.default_rng(0)
    emb = Embedding(V, D, dtype=np.float64, seed=1)
    dy = rng.standard_normal(IDS.shape + (D,))
    loss, dids, grads = loss_and_grad(emb, IDS, dy)
    assert dids is None
    errors = gradcheck(loss, emb.params, grads)
    assert errors["E"] < 1e-7, errors
    # repeated ids sum: id 3 got four upstream rows; unused ids get exactly zero
    np.testing.assert_allclose(grads["E"][3], dy[IDS == 3].sum(axis=0), rtol=1e-12)
    np.testing.assert_array_equal(grads["E"][[4, 5]], 0.0)


@pytest.mark.parametrize("padding_idx, row", [(3, 3), (-1, 6)])
def test_padding_row_is_zero_and_never_trained(padding_idx, row):
    rng = np.random.default_rng(0)
    emb = Embedding(V, D, padding_idx=padding_idx, dtype=np.float64, seed=1)
    assert emb.padding_idx == row
    np.testing.assert_array_equal(emb.params["E"][row], 0.0)
    np.testing.assert_array_equal(emb.forward(IDS)[0][IDS == row], 0.0)
    dy = rng.standard_normal(IDS.shape + (D,))
    loss, _, grads = loss_and_grad(emb, IDS, dy)
    np.testing.assert_array_equal(grads["E"][row], 0.0)
    # every other row still matches finite differences (the padding row's would not: like
    # PyTorch, the layer withholds a gradient the maths would give)
    numeric = numerical_gradient(loss, emb.params["E"])
    assert np.abs(numeric[row]).max() > 0.1
    numeric[row] = 0.0
    assert relative_error(grads["E"], numeric) < 1e-7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_accumulation_is_bitwise_np_add_at(dtype):
    """The fast scatter-add gives exactly np.add.at's numbers (V = 10k, 64 x 100 ids, text-like
    id frequencies so some rows sum thousands of terms)."""
    rng = np.random.default_rng(0)
    Vbig, Dbig = 10_000, 32
    ids = (np.minimum(rng.zipf(1.3, size=(64, 100)), Vbig) - 1)
    dy = rng.standard_normal((64, 100, Dbig)).astype(dtype)
    emb = Embedding(Vbig, Dbig, dtype=dtype, seed=0)
    _, grads = emb.backward(dy, emb.forward(ids)[1])
    reference = np.zeros((Vbig, Dbig), dtype)
    np.add.at(reference, ids.reshape(-1), dy.reshape(-1, Dbig))
    assert grads["E"].dtype == dtype
    np.testing.assert_array_equal(grads["E"], reference)
    np.testing.assert_array_equal(accumulate_rows(ids.reshape(-1), dy.reshape(-1, Dbig), Vbig), reference)


def test_two_forwards_then_two_backwards_in_any_order():
    rng = np.random.default_rng(0)
    emb = Embedding(V, D, padding_idx=0, dtype=np.float64, seed=1)
    ids1, ids2 = IDS, rng.integers(0, V, size=(3, 4))
    dy1, dy2 = rng.standard_normal(ids1.shape + (D,)), rng.standard_normal(ids2.shape + (D,))
    alone1 = emb.backward(dy1, emb.forward(ids1)[1])[1]["E"]
    alone2 = emb.backward(dy2, emb.forward(ids2)[1])[1]["E"]
    _, c1 = emb.forward(ids1)
    _, c2 = emb.forward(ids2)
    np.testing.assert_array_equal(emb.backward(dy2, c2)[1]["E"], alone2)
    np.testing.assert_array_equal(emb.backward(dy1, c1)[1]["E"], alone1)


# ---------------------------------------------------------------- parity with torch.nn.Embedding

@pytest.mark.parametrize("padding_idx", [None, 3])
@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
def test_parity_with_torch_embedding(dtype, tol, padding_idx):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    emb = Embedding(V, D, padding_idx=padding_idx, dtype=dtype, seed=1)
    dy = rng.standard_normal(IDS.shape + (D,)).astype(dtype)

    ref = torch.nn.Embedding(V, D, padding_idx=padding_idx, dtype=getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(emb.params["E"]))          # same layout, no transpose
    yt = ref(torch.from_numpy(IDS))
    yt.backward(torch.from_numpy(dy))

    y, cache = emb.forward(IDS)
    _, grads = emb.backward(dy, cache)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(grads["E"], ref.weight.grad.numpy(), rtol=tol, atol=tol)


def test_init_normal_like_torch_and_uniform_like_keras():
    E = Embedding(1000, 100, seed=0).params["E"].astype(np.float64)
    assert abs(E.mean()) < 0.01 and E.std() == pytest.approx(1.0, rel=0.01)
    U = Embedding(1000, 100, seed=0, init="uniform").params["E"]
    assert np.abs(U).max() <= 0.05 and np.abs(U).max() > 0.049
    a, b = Embedding(V, D, seed=5), Embedding(V, D, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(a.params["E"], b.params["E"])
    assert not np.array_equal(a.params["E"], Embedding(V, D, seed=6).params["E"])
    assert Embedding(V, D, dtype=np.float64).params["E"].dtype == np.float64


# ---------------------------------------------------------------- from_pretrained

def test_from_pretrained_copies_and_trains():
    table = np.arange(V * D, dtype=np.float64).reshape(V, D)
    emb = Embedding.from_pretrained(table, padding_idx=2)
    assert emb.params["E"].dtype == np.float32 and emb.params["E"] is not table
    np.testing.assert_array_equal(emb.params["E"], table)       # padding row kept, as in torch
    dy = np.ones(IDS.shape + (D,), np.float32)
    _, grads = emb.backward(dy, emb.forward(IDS)[1])
    np.testing.assert_array_equal(grads["E"][2], 0.0)
    np.testing.assert_array_equal(grads["E"][3], 4.0)


def test_from_pretrained_frozen_has_no_parameters():
    table = np.random.default_rng(0).standard_normal((V, D))
    emb = Embedding.from_pretrained(table, freeze=True, dtype=np.float64)
    assert emb.params == {}
    y, cache = emb.forward(IDS)
    np.testing.assert_array_equal(y, table[IDS])
    assert emb.backward(np.ones_like(y), cache) == (None, {})


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("ids, error, match", [
    (np.array([[0, 1.0]]), TypeError, r"^Embedding\(7, 4\): expected integer ids, got dtype float64$"),
    (np.array([True, False]), TypeError, "expected integer ids, got dtype bool"),
    (np.array([[0, 1], [7, 2]]), ValueError, r"^Embedding\(7, 4\): id 7 at position \(1, 0\) is out of range \[0, 7\)$"),
    (np.array([3, -1]), ValueError, r"id -1 at position \(1,\) is out of range \[0, 7\)"),
    (np.array(12, dtype=np.uint64), ValueError, r"id 12 is out of range"),
])
def test_bad_ids(ids, error, match):
    with pytest.raises(error, match=match):
        Embedding(V, D).forward(ids)


def test_bad_output_gradient():
    emb = Embedding(V, D)
    _, cache = emb.forward(IDS)
    with pytest.raises(ValueError, match=r"expected dy of shape \(2, 5, 4\), got \(2, 5, 7\)"):
        emb.backward(np.zeros((2, 5, V), np.float32), cache)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_embeddings=0, embedding_dim=4), ValueError, "num_embeddings must be >= 1, got 0"),
    (dict(num_embeddings=7, embedding_dim=4, padding_idx=7), ValueError, r"padding_idx must lie in \[-7, 7\), got 7"),
    (dict(num_embeddings=7, embedding_dim=4, padding_idx=1.0), TypeError, "padding_idx must be an int or None"),
    (dict(num_embeddings=7, embedding_dim=4, dtype=np.int64), TypeError, "dtype must be a float dtype"),
    (dict(num_embeddings=7, embedding_dim=4, init="xavier"), ValueError, "init must be one of"),
])
def test_bad_constructor(kwargs, error, match):
    with pytest.raises(error, match=match):
        Embedding(**kwargs)


def test_bad_pretrained():
    with pytest.raises(ValueError, match=r"expected a \(V, D\) array, got shape \(7,\)"):
        Embedding.from_pretrained(np.zeros(7))
    with pytest.raises(TypeError, match="expected a float array"):
        Embedding.from_pretrained(np.zeros((7, 4), dtype=np.int64))
