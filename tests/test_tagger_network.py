"""TaggerNetwork: gradient check, PyTorch parity, padding changes nothing, the parameter names of
model files, the recurrent stack's masked path equal to the full-length one."""
import numpy as np
import pytest

from rnnkit import gradcheck, interop
from rnnkit.data.vocab import PAD, UNK, Vocabulary
from rnnkit.losses import softmax_cross_entropy
from rnnkit.models.tagger.inputs import pad_batch
from rnnkit.models.tagger.network import TaggerCache, TaggerNetwork

SENTENCES = [["The", "dog", "runs", "!"], ["Ann", "sings"], ["a", "cat", "and", "the", "Dog", "jump"],
             ["Bob"], ["fish", "swim", "fast"]]
TAGS = [["DET", "NOUN", "VERB", "PUNCT"], ["NAME", "VERB"], ["DET", "NOUN", "CONJ", "DET", "NOUN", "VERB"],
        ["NAME"], ["NOUN", "VERB", "ADV"]]
TINY = dict(word_dim=5, char_dim=3, char_hidden_size=4, hidden_size=6)


def setup(dtype=np.float64, seed=0, **options):
    words = Vocabulary.build_words([[w.lower() for w in s] for s in SENTENCES], specials=(PAD, UNK))
    chars = Vocabulary.build_chars("".join(w for s in SENTENCES for w in s), specials=(PAD, UNK))
    tags = Vocabulary(sorted({t for ts in TAGS for t in ts}), level="word")
    net = TaggerNetwork(len(words), len(chars), len(tags), dtype=dtype, seed=seed, **{**TINY, **options})

    def batch(index):
        s = [SENTENCES[i] for i in index]
        word_ids = [words.encode([w.lower() for w in x]) for x in s]
        tag_ids = [np.array([tags.id_of(t) for t in TAGS[i]]) for i in index]
        char_index = chars._index if net.char_encoder is not None else None
        return pad_batch(s, word_ids, tag_ids, char_index, 30)
    return net, batch


def test_parameter_names_are_those_of_model_files():
    net, _ = setup(num_layers=2)
    names = set(net.params)
    assert {"words.E", "chars.embedding.E", "head.W", "head.b"} <= names
    rest = names - {"words.E", "chars.embedding.E", "head.W", "head.b"}
    assert rest and all(k.startswith(("chars.rnn.layers.", "rnn.layers.")) for k in rest), rest
    assert "rnn.layers.1.bwd.Wx" in names and "chars.rnn.layers.0.bwd.Wx" in names
    words_only, _ = setup(char_hidden_size=0)
    assert not any(k.startswith("chars.") for k in words_only.params)
    assert words_only.params["rnn.layers.0.fwd.Wx"].shape[0] == 5     # the word embedding alone


@pytest.mark.parametrize("cell,chars", [("lstm", 4), ("gru", 4), ("lstm", 0)])
def test_gradcheck(cell, chars):
    net, batch = setup(num_layers=2, cell=cell, dropout=0.3, char_hidden_size=chars)
    b = batch([0, 1, 2, 3])

    def loss():  # the same dropout masks in every call
        logits, _ = net.forward(b, training=True, rng=np.random.default_rng(5))
        return softmax_cross_entropy(logits, b.tags, mask=b.tags >= 0)[0]

    logits, cache = net.forward(b, training=True, rng=np.random.default_rng(5))
    assert isinstance(cache, TaggerCache)
    _, dlogits = softmax_cross_entropy(logits, b.tags, mask=b.tags >= 0)
    grads = net.backward(dlogits, b, cache)
    assert list(grads) == list(net.params)
    # eps 1e-5 because the character weights' gradients are ~3e-4, where the default 1e-6 leaves
    # a 1e-6 relative round-off error (it shrinks with larger eps)
    errors = gradcheck(loss, net.params, grads, eps=1e-5, max_entries=12)
    assert max(errors.values()) < 1e-6, errors


def test_padding_changes_neither_outputs_nor_gradients():
    """A batch of sentences of different lengths = each sentence alone (no padding), in the
    logits at real tokens and in the gradients (summed losses add up)."""
    net, batch = setup(num_layers=2, dropout=0.0)
    index = [0, 1, 2, 3, 4]
    b = batch(index)
    logits, cache = net.forward(b)
    _, dlogits = softmax_cross_entropy(logits, b.tags, mask=b.mask, reduction="sum")
    grads = net.backward(dlogits, b, cache)
    total = {k: np.zeros_like(v) for k, v in grads.items()}
    for row, i in enumerate(index):
        one = batch([i])
        alone, c1 = net.forward(one)
        np.testing.assert_allclose(logits[row, :b.lengths[row]], alone[0], atol=1e-12)
        _, d1 = softmax_cross_entropy(alone, one.tags, mask=one.mask, reduction="sum")
        for k, g in net.backward(d1, one, c1).items():
            total[k] += g
    for k in grads:
        np.testing.assert_allclose(grads[k], total[k], atol=1e-10, err_msg=k)


def test_same_seed_same_weights_and_dropout_only_when_training():
    a, batch = setup(seed=7, dtype=np.float32)
    b, _ = setup(seed=7, dtype=np.float32)
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k], err_msg=k)
    assert a.params["words.E"].dtype == np.float32
    x = batch([0, 2])
    first, _ = a.forward(x)
    again, _ = a.forward(x, training=False, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(first, again)
    dropped, _ = a.forward(x, training=True, rng=np.random.default_rng(0))
    assert not np.allclose(dropped, first)


def test_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    net, batch = setup(num_layers=2, dropout=0.0)
    b = batch([0, 1, 2, 3, 4])
    P = {k: torch.tensor(v, requires_grad=True) for k, v in net.params.items()}
    chars = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True).double()
    sent = torch.nn.LSTM(5 + 8, 6, num_layers=2, bidirectional=True, batch_first=True).double()
    interop.from_torch(net.char_encoder.rnn, chars.state_dict())
    interop.from_torch(net.rnn, sent.state_dict())
    packed = pack_padded_sequence(P["chars.embedding.E"][torch.tensor(b.chars)],
                                  torch.tensor(b.char_lengths), batch_first=True, enforce_sorted=False)
    h = chars(packed)[1][0]
    c = torch.cat([h[0], h[1]], 1)[torch.tensor(b.types)] * torch.tensor(b.mask)[..., None]
    x = torch.cat([P["words.E"][torch.tensor(b.words)], c], -1)
    packed = pack_padded_sequence(x, torch.tensor(b.lengths), batch_first=True, enforce_sorted=False)
    y = pad_packed_sequence(sent(packed)[0], batch_first=True)[0]
    logits = y @ P["head.W"] + P["head.b"]
    loss = torch.nn.functional.cross_entropy(logits[torch.tensor(b.mask)], torch.tensor(b.tags[b.mask]))
    loss.backward()

    ours_logits, cache = net.forward(b, training=False)
    ours_loss, dlogits = softmax_cross_entropy(ours_logits, b.tags, mask=b.mask)
    grads = net.backward(dlogits, b, cache)
    assert ours_loss == pytest.approx(loss.item(), rel=1e-10)
    for name in ("words.E", "chars.embedding.E", "head.W", "head.b"):
        np.testing.assert_allclose(grads[name], P[name].grad.numpy(), atol=1e-10, err_msg=name)
    for rnn, module, prefix in ((net.char_encoder.rnn, chars, "chars.rnn."), (net.rnn, sent, "rnn.")):
        ours = interop.to_torch(rnn, {k[len(prefix):]: v for k, v in grads.items() if k.startswith(prefix)})
        for name, p in module.named_parameters():
            np.testing.assert_allclose(ours[name], p.grad.numpy(), atol=1e-10, err_msg=prefix + name)
