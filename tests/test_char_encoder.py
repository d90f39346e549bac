"""CharEncoder: gradient check, padded batch == words run alone, length groups, PyTorch parity."""
import numpy as np
import pytest

from rnnkit import gradcheck, interop
from rnnkit.layers.char_encoder import CharEncoder, encode_words, length_groups
from rnnkit.layers.fused import FusedCache
from rnnkit.layers.recurrent import RecurrentCache

WORDS = ["a", "cat", "sat", "on", "mats", "antidisestablishment"]
CHARS = {c: i + 2 for i, c in enumerate(sorted(set("".join(WORDS))))}   # 0 pad, 1 unknown


def layer_caches(cache):
    """Every direction's cache, down the nested caches of the encoder and its network."""
    if isinstance(cache, (FusedCache, RecurrentCache)):
        return [cache]
    return [c for part in cache for c in layer_caches(part)] if isinstance(cache, (tuple, list)) else []


def small(cell="lstm", num_layers=1, dtype=np.float64, seed=0):
    return CharEncoder(len(CHARS) + 2, char_dim=3, hidden_size=4, num_layers=num_layers, cell=cell,
                       dtype=dtype, seed=seed)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("num_layers", [1, 2])
def test_gradcheck(cell, num_layers):
    enc = small(cell, num_layers)
    ids, lengths = encode_words(["cat", "a", "mats", "on"], CHARS)
    R = np.random.default_rng(1).standard_normal((4, 8))

    def loss():
        return float((enc.forward(ids, lengths)[0] * R).sum())

    y, cache = enc.forward(ids, lengths)
    _, grads = enc.backward(R, cache)
    assert set(grads) == set(enc.params)
    assert np.abs(grads["embedding.E"][0]).max() == 0.0            # the padding row never learns
    errors = gradcheck(loss, enc.params, grads, max_entries=40)   # 40 random entries per array
    assert max(errors.values()) < 1e-6, errors


def test_padded_batch_equals_each_word_alone_and_groups_do_not_matter():
    enc = small()
    ids, lengths = encode_words(WORDS, CHARS)
    y, _ = enc.forward(ids, lengths)
    for k, w in enumerate(WORDS):
        alone, _ = enc.forward(*encode_words([w], CHARS))
        np.testing.assert_allclose(y[k], alone[0], atol=1e-12)
    # the forward half is the final state after the last character: a word's prefix alone differs
    prefix, _ = enc.forward(*encode_words(["ca"], CHARS))
    assert not np.allclose(prefix[0, :4], y[1, :4])


def test_length_groups_partition_and_split_outliers():
    lengths = np.array([3] * 100 + [60, 2, 4])
    groups = length_groups(lengths)
    assert sorted(np.concatenate(groups).tolist()) == list(range(103))
    assert [lengths[g].max() for g in groups] == [3, 60]      # the 100 short words do not run 60 steps
    assert 100 in groups[-1] and len(groups[-1]) <= 3
    # cost = max length * (words + overhead): one group of [3, 3, 4] beats two
    assert len(length_groups(np.array([3, 3, 4]))) == 1
    assert len(length_groups(np.array([3, 3, 4]), overhead=0)) == 2


@pytest.mark.parametrize("overhead", [32, 1e9], ids=["groups", "one-batch"])
def test_an_outlier_word_does_not_make_the_short_ones_run_its_length(overhead):
    """Within a group (one ragged batch) the fast path runs each step's product and kernel on the
    words still running only, so 100 three-letter words and one of 60 letters cost 366
    word-steps per direction, not 103 * 60, in any grouping."""
    from rnnkit.layers import fused
    enc = small()
    enc.group_overhead = overhead
    words = ["cat"] * 100 + ["t" * 60, "on", "mats"]
    ids, lengths = encode_words(words, CHARS, max_length=60)
    y, cache = enc.forward(ids, lengths)
    work = [sum(end - lo for lo, end, _ in blocks) for c in layer_caches(cache)
            for blocks in fused.running(c.rows, c.shape[1])]
    assert sum(work) == 2 * lengths.sum() == 2 * 366                 # both directions
    for k in (0, 100, 102):
        alone, _ = enc.forward(*encode_words([words[k]], CHARS, max_length=60))
        np.testing.assert_allclose(y[k], alone[0], atol=1e-12)


def test_encode_words_clips_long_words_and_maps_unknown_characters():
    ids, lengths = encode_words(["ab", "x" * 40, "a?"], {"a": 2, "b": 3, "x": 4}, max_length=10)
    assert lengths.tolist() == [2, 10, 2] and ids.shape == (3, 10)
    assert ids[2, :2].tolist() == [2, 1] and ids[0, 2:].max() == 0
    with pytest.raises(ValueError, match="empty word at position 1"):
        encode_words(["a", ""], {"a": 2})


def test_bad_input():
    enc = small()
    with pytest.raises(ValueError, match=r"expected integer ids of shape \(N, L\)"):
        enc.forward(np.zeros((2, 3)), np.array([1, 2]))
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 3\]"):
        enc.forward(np.zeros((2, 3), int), np.array([0, 2]))
    with pytest.raises(ValueError, match="cell must be one of"):
        CharEncoder(5, cell="tcn")
    y, cache = enc.forward(*encode_words(["ab"], CHARS))
    with pytest.raises(ValueError, match=r"expected dy of shape \(1, 8\)"):
        enc.backward(np.zeros((1, 4)), cache)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_matches_torch_packed_bidirectional_final_states(cell):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence
    enc = small(cell, num_layers=2, seed=3)
    ids, lengths = encode_words(WORDS, CHARS)
    torch.manual_seed(0)
    rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](3, 4, num_layers=2, bidirectional=True,
                                                            batch_first=True).double()
    interop.from_torch(enc.rnn, rnn.state_dict())
    E = torch.tensor(enc.params["embedding.E"], requires_grad=True)
    x = E[torch.tensor(ids)]
    packed = pack_padded_sequence(x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    _, h = rnn(packed)
    h = h[0] if cell == "lstm" else h
    theirs = torch.cat([h[-2], h[-1]], dim=1)                    # top layer: forward, backward
    R = np.random.default_rng(2).standard_normal((len(WORDS), 8))
    (theirs * torch.tensor(R)).sum().backward()

    ours, cache = enc.forward(ids, lengths)
    _, grads = enc.backward(R, cache)
    np.testing.assert_allclose(ours, theirs.detach().numpy(), atol=1e-10)
    np.testing.assert_allclose(grads["embedding.E"], E.grad.numpy(), atol=1e-10)
    torch_grads = interop.to_torch(enc.rnn, {k[4:]: v for k, v in grads.items() if k.startswith("rnn.")})
    for name, p in rnn.named_parameters():
        np.testing.assert_allclose(torch_grads[name], p.grad.numpy(), atol=1e-10, err_msg=name)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_words_take_the_fast_path_and_equal_the_general_loop(cell, monkeypatch):
    """Each length group is one ragged batch on the network's fast path (asserted), with the
    numbers of the masked per-step loop: outputs and every gradient."""
    from rnnkit.cells import GRUCell, LSTMCell, RNNCell
    enc = small(cell, num_layers=2)
    ids, lengths = encode_words(WORDS, CHARS)
    R = np.random.default_rng(4).standard_normal((len(WORDS), 8))
    y, cache = enc.forward(ids, lengths)
    _, grads = enc.backward(R, cache)
    found = layer_caches(cache)
    assert len(found) == 4 * len(cache.groups) and all(isinstance(c, FusedCache) for c in found)
    with monkeypatch.context() as patch:
        for cls in (RNNCell, GRUCell, LSTMCell):
            patch.setattr(cls, "fast_kernel", property(lambda self: None))
        y_ref, cache_ref = enc.forward(ids, lengths)
        assert not any(isinstance(c, FusedCache) for c in layer_caches(cache_ref))
        _, grads_ref = enc.backward(R, cache_ref)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-13)
    for k in grads_ref:
        np.testing.assert_allclose(grads[k], grads_ref[k], rtol=1e-11, atol=1e-13, err_msg=k)


def test_no_words():
    enc = small()
    y, cache = enc.forward(np.zeros((0, 3), np.int64), np.zeros(0, np.int64))
    assert y.shape == (0, 8)
    _, grads = enc.backward(np.zeros((0, 8)), cache)
    assert set(grads) == set(enc.params) and all(not g.any() for g in grads.values())
