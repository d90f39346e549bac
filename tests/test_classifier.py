"""SequenceClassifier: gradients, PyTorch parity, learning on real and generated data, files, CLI, bad input."""
import json
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.data.ucr import load_ts
from rnnkit.gradcheck import gradcheck
from rnnkit.io import ModelFileError
from rnnkit.losses import softmax_cross_entropy
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.classifier.inputs import frames
from rnnkit.models.classifier.network import ClassifierNetwork
from rnnkit.models.classifier.task import stratified_split

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
JV = SHARED / "ucr_uea" / "JapaneseVowels"
needs_shared = pytest.mark.skipif(not JV.exists(), reason="../shared/data is not present")
FAST = dict(hidden_size=16, n_models=1, max_epochs=40, patience=8)


def fast(**options) -> SequenceClassifier:
    """A small, quick classifier for tests (``options`` override :data:`FAST`)."""
    return SequenceClassifier(**{**FAST, **options})


def generated(n=60, seed=0):
    """Two classes of variable-length 2-channel series: a rising or a falling ramp plus noise."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for i in range(n):
        T = int(rng.integers(5, 15))
        slope = 1.0 if i % 2 else -1.0
        ramp = slope * np.linspace(0, 1, T)
        X.append(np.stack([ramp, rng.normal(size=T)], axis=1) + 0.3 * rng.normal(size=(T, 2)))
        y.append("up" if i % 2 else "down")
    return X, y


@pytest.mark.parametrize("config", [
    dict(cell="lstm", bidirectional=True, num_layers=2, pooling="mean+max+attention"),
    dict(cell="gru", bidirectional=False, num_layers=1, pooling="last"),
    dict(cell="rnn", bidirectional=True, num_layers=1, pooling="last+attention"),
])
def test_finite_differences_features(config):
    net = ClassifierNetwork(3, 4, hidden_size=5, dropout=0.3, seed=0, dtype=np.float64, **config)
    for k in net.params:
        if k.startswith("pool"):  # attention's gradients start ~1e-5: scale them above finite-difference noise
            net.params[k] *= 10
    rng = np.random.default_rng(0)
    x, lengths, y = rng.normal(size=(3, 6, 3)), np.array([6, 2, 4]), np.array([0, 3, 1])

    def loss():
        logits, _ = net.forward(x, lengths, training=True, rng=np.random.default_rng(5))
        return softmax_cross_entropy(logits, y, reduction="sum")[0]

    logits, cache = net.forward(x, lengths, training=True, rng=np.random.default_rng(5))
    dx, grads = net.backward(softmax_cross_entropy(logits, y, reduction="sum")[1], cache)
    assert set(grads) == set(net.params)
    # eps = 1e-5: attention's small gradients drown in round-off at 1e-6
    errors = gradcheck(loss, {"x": x, **net.params}, {"x": dx, **grads}, eps=1e-5, max_entries=10)
    assert max(errors.values()) < 1e-6, errors
    assert np.all(dx[1, 2:] == 0) and np.all(dx[2, 4:] == 0)   # padding gets no gradient


def test_finite_differences_tokens():
    net = ClassifierNetwork(0, 3, vocab_size=7, embedding_dim=4, hidden_size=5, dropout=0.2, seed=1,
                            dtype=np.float64, pooling="mean+last")
    ids, lengths, y = np.array([[2, 3, 4, 0], [5, 6, 0, 0]]), np.array([3, 2]), np.array([2, 0])

    def loss():
        logits, _ = net.forward(ids, lengths, training=True, rng=np.random.default_rng(2))
        return softmax_cross_entropy(logits, y, reduction="sum")[0]

    logits, cache = net.forward(ids, lengths, training=True, rng=np.random.default_rng(2))
    _, grads = net.backward(softmax_cross_entropy(logits, y, reduction="sum")[1], cache)
    errors = gradcheck(loss, dict(net.params), grads, max_entries=20)
    assert max(errors.values()) < 1e-6, errors
    assert np.all(grads["embedding.E"][0] == 0)                 # <PAD> is never trained


def test_matches_pytorch_packed_bidirectional_lstm_with_mean_pooling():
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    from rnnkit import interop
    net = ClassifierNetwork(3, 4, hidden_size=5, num_layers=2, bidirectional=True, pooling="mean+max",
                            dropout=0.0, seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    x, lengths, y = rng.normal(size=(3, 6, 3)), np.array([6, 2, 4]), np.array([0, 3, 1])
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 5, num_layers=2, bidirectional=True, batch_first=True).double()
    interop.from_torch(net.rnn, lstm.state_dict())
    W = torch.tensor(net.params["head.W"], requires_grad=True)
    b = torch.tensor(net.params["head.b"], requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    packed = pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    h, _ = pad_packed_sequence(lstm(packed)[0], batch_first=True, total_length=6)
    mask = torch.tensor(np.arange(6)[None, :] < lengths[:, None])[:, :, None]
    mean = (h * mask).sum(1) / torch.tensor(lengths)[:, None]
    mx = h.masked_fill(~mask, -np.inf).max(1).values
    logits_t = torch.cat([mean, mx], 1) @ W + b
    torch.nn.functional.cross_entropy(logits_t, torch.tensor(y), reduction="sum").backward()

    logits, cache = net.forward(x, lengths, training=False)
    np.testing.assert_allclose(logits, logits_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    dx, grads = net.backward(softmax_cross_entropy(logits, y, reduction="sum")[1], cache)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-10)
    np.testing.assert_allclose(grads["head.W"], W.grad.numpy(), atol=1e-10)
    torch_grads = interop.to_torch(net.rnn, {k[4:]: v for k, v in grads.items() if k.startswith("rnn.")})
    for name, p in lstm.named_parameters():
        np.testing.assert_allclose(torch_grads[name], p.grad.numpy(), atol=1e-10, err_msg=name)


def test_learns_generated_variable_length_series():
    X, y = generated(80)
    Xt, yt = generated(60, seed=1)
    clf = fast(seed=0).fit(X, y)
    assert isinstance(clf.classes_, np.ndarray) and clf.classes_.tolist() == ["down", "up"]
    assert clf.n_features_in_ == 2 and clf.predict(Xt).dtype == clf.classes_.dtype
    assert clf.score(Xt, yt) >= 0.9
    proba = clf.predict_proba(Xt)
    assert proba.shape == (60, 2) and np.allclose(proba.sum(1), 1)


def test_padded_array_input_equals_list_input():
    X, y = generated(40)
    T = max(len(a) for a in X)
    padded = np.zeros((40, T, 2))
    for i, a in enumerate(X):
        padded[i, :len(a)] = a
    lengths = np.array([len(a) for a in X])
    clf = fast(max_epochs=3).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(padded, lengths), clf.predict_proba(X), rtol=1e-6)


def test_frames_and_series_normalisation():
    a = np.arange(14, dtype=float).reshape(7, 2)              # T = 7, D = 2
    f = frames(a, 3, 2)                   # frames at 0, 2, 4 (the last zero-padded)
    np.testing.assert_array_equal(f[0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(f[2], [8, 9, 10, 11, 12, 13])
    assert f.shape == (3, 6)
    assert frames(a, 4, 4).tolist()[1] == [8, 9, 10, 11, 12, 13, 0, 0]
    X = [np.random.default_rng(i).normal(size=(100, 1)) for i in range(4)]
    clf = fast(max_epochs=1, normalize="series", frame_stride=3).fit(X, [0, 1, 0, 1])
    assert clf.frame_ == 3 and clf.frame_stride_ == 3         # about 32 frames of a 100-step median
    clf = fast(max_epochs=1, derivatives=True, frame=2).fit(X, [0, 1, 0, 1])
    assert clf.networks_[0].rnn.input_size == 2 * 2          # frame 2 x (value, first difference)
    np.testing.assert_allclose(clf._with_derivatives(a)[:, 2:], np.r_[[[0, 0]], np.full((6, 2), 2.0)])


@needs_shared
def test_learns_japanese_vowels_slice_quickly():
    train, test = load_ts(JV / "JapaneseVowels_TRAIN.ts"), load_ts(JV / "JapaneseVowels_TEST.ts")
    keep = np.isin(train.y, ["1", "2", "3"])
    keep_test = np.flatnonzero(np.isin(test.y, ["1", "2", "3"]))[:60]
    clf = fast(seed=0, max_epochs=12).fit([x for x, k in zip(train.X, keep) if k], train.y[keep])
    accuracy = clf.score([test.X[i] for i in keep_test], test.y[keep_test])
    assert accuracy >= 0.8                                    # chance is 1/3


def test_learns_tokens():
    rng = np.random.default_rng(0)
    good, bad, filler = ["great", "good", "lovely"], ["awful", "bad", "poor"], ["the", "food", "was", "and", "it"]
    sentences, labels = [], []
    for i in range(120):
        words = list(rng.choice(filler, size=int(rng.integers(2, 6)))) + [str(rng.choice(good if i % 2 else bad))]
        rng.shuffle(words)
        sentences.append(" ".join(words).capitalize() + ".")
        labels.append(i % 2)
    clf = fast(seed=0).fit(sentences[:80], labels[:80])
    assert clf.score(sentences[80:], labels[80:]) >= 0.9
    assert clf.predict(["The food was GREAT", [] or ["awful"], "never seen words"]).tolist()[:2] == [1, 0]


def test_save_load_round_trip(tmp_path):
    X, y = generated(30)
    labels = [7 if v == "up" else 3 for v in y]              # int labels come back as ints
    clf = fast(max_epochs=2, n_models=2, pooling="attention", frame=2).fit(X, labels)
    clf.save(tmp_path / "m.safetensors")
    loaded = rnnkit.load(tmp_path / "m.safetensors")
    assert isinstance(loaded, SequenceClassifier) and loaded.classes_.tolist() == [3, 7]
    assert loaded.classes_.dtype.kind == "i" and loaded.n_features_in_ == 2
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.predict(X).tolist() == clf.predict(X).tolist()

    sentences = ["good one", "bad one", "very good", "very bad"]
    text = fast(max_epochs=2).fit(sentences, ["p", "n", "p", "n"])
    text.save(tmp_path / "t.safetensors")
    np.testing.assert_array_equal(rnnkit.load(tmp_path / "t.safetensors").predict_proba(sentences),
                                  text.predict_proba(sentences))


def test_corrupt_or_mismatched_file(tmp_path):
    from rnnkit.io import load_model_file, save_model_file
    X, y = generated(20)
    fast(max_epochs=1).fit(X, y).save(tmp_path / "m.safetensors")
    arrays, metadata = load_model_file(tmp_path / "m.safetensors")
    arrays.pop("networks.0.head.b")
    save_model_file(tmp_path / "bad.safetensors", arrays, metadata)
    with pytest.raises(ModelFileError, match="not a valid sequence classifier file"):
        rnnkit.load(tmp_path / "bad.safetensors")


def test_auto_framing_keeps_the_ensemble_with_the_lower_validation_loss(tmp_path):
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(100 + i % 3 - 1, 2)) for i in range(12)]       # median 100
    y = [0, 1] * 6
    clf = fast(max_epochs=3, n_models=2).fit(X, y)
    losses = clf.framing_losses_
    assert list(losses) == [(3, 3), (50, 12)]       # ~32 frames; 5 of half the length every eighth
    assert (clf.frame_, clf.frame_stride_) == min(losses, key=losses.get)
    assert clf.networks_[0].rnn.input_size == clf.frame_ * 2
    best = [min(r["val_loss"] for r in clf.history_ if r["model"] == m) for m in range(2)]
    assert np.isclose(np.mean(best), losses[(clf.frame_, clf.frame_stride_)])  # the kept networks' history
    clf.save(tmp_path / "m.safetensors")
    loaded = rnnkit.load(tmp_path / "m.safetensors")
    assert (loaded.frame_, loaded.frame_stride_) == (clf.frame_, clf.frame_stride_)
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))

    # one framing where the choice is made for it, or where both would cut alike
    assert list(fast(max_epochs=1, frame=4).fit(X, y).framing_losses_) == [(4, 4)]
    assert list(fast(max_epochs=1, frame_stride=2).fit(X, y).framing_losses_) == [(3, 2)]
    short = [rng.normal(size=(2, 1)) for _ in range(6)]
    assert list(fast(max_epochs=1).fit(short, [0, 1] * 3).framing_losses_) == [(1, 1)]


def test_auto_framing_picks_by_validation_loss_not_by_order(monkeypatch):
    """Whichever framing's networks validate better is kept, with its own networks and history."""
    X = [np.zeros((64, 1)) + i for i in range(6)]
    for wide_is_better in (True, False):
        clf = fast()
        def fake(data, networks, history, save):
            loss = {(2, 2): 0.5, (32, 8): 0.3 if wide_is_better else 0.7}[(clf.frame_, clf.frame_stride_)]
            history += [{"model": m, "val_loss": v} for m in range(clf.n_models) for v in (loss + 1, loss)]
            networks.append(f"net {clf.frame_}")
            return ""
        monkeypatch.setattr(clf, "_fit_ensemble", fake)
        clf.fit(X, [0, 1] * 3)
        assert clf.framing_losses_ == {(2, 2): 0.5, (32, 8): 0.3 if wide_is_better else 0.7}
        assert clf.frame_ == (32 if wide_is_better else 2) and clf.networks_ == [f"net {clf.frame_}"]
        assert clf.frame_stride_ == (8 if wide_is_better else 2) and min(r["val_loss"] for r in clf.history_) \
            == (0.3 if wide_is_better else 0.5)


def test_class_weights_and_split():
    y = np.array([0] * 8 + [1] * 2)
    from rnnkit.models.classifier.inputs import class_weights
    np.testing.assert_allclose(class_weights("balanced", [0, 1], y), [10 / 16, 10 / 4])
    np.testing.assert_allclose(class_weights({1: 3.0}, [0, 1], y), [1.0, 3.0])
    with pytest.raises(ValueError, match="class_weight names 'x'"):
        class_weights({"x": 1.0}, [0, 1], y)
    train, val = stratified_split(np.array([0] * 10 + [1] * 5 + [2]), 0.2, np.random.default_rng(0))
    assert len(val) == 3 and sorted(np.r_[train, val]) == list(range(16))
    assert 15 in train                                        # a class's only case stays in training


@pytest.mark.parametrize("call, message", [
    (lambda c: c.fit(np.ones((3, 4, 2, 1)), [0, 1, 0]), r"expected X of shape \(N, T, D\)"),
    (lambda c: c.fit([np.ones((3, 2))] * 3, [0, 1]), "X has 3 sequences, y has 2 labels"),
    (lambda c: c.fit([np.ones((3, 2))] * 2, [1, 1]), "a single class"),
    (lambda c: c.fit([np.ones((3, 2)), np.ones((3, 1))], [0, 1]), "sequence 1 has 1 channels"),
    (lambda c: c.fit([np.ones((3, 2)), np.full((3, 2), np.nan)], [0, 1]), "sequence 1 contains NaN"),
    (lambda c: c.fit([np.ones((3, 2)), np.ones((0, 2))], [0, 1]), "sequence 1 must be a"),
    (lambda c: c.fit(np.ones((2, 3, 1)), [0, 1], lengths=np.array([4, 1])), "expected lengths"),
    (lambda c: c.fit([["a"], ["b", 3]], [0, 1]), "sequence 1 must be a str or a list of str tokens"),
    (lambda c: c.fit([np.ones(3), "text"], [0, 1]), "sequence 1 is not numeric"),
    (lambda c: c.fit("abc", [0, 1, 2]), "expected a non-empty list of sequences"),
    (lambda c: c.predict([np.ones((3, 2))]), "not fitted"),
])
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call(fast(max_epochs=1))


def test_calls_before_fit_raise_not_fitted_error():
    from rnnkit.estimator import NotFittedError
    for call in (lambda c: c.predict([np.ones((3, 2))]), lambda c: c.predict_proba([np.ones((3, 2))]),
                 lambda c: c.score([np.ones((3, 2))], [0]), lambda c: c.save("never.safetensors")):
        with pytest.raises(NotFittedError, match="SequenceClassifier.* is not fitted yet"):
            call(fast())


@pytest.mark.parametrize("option, message", [
    (dict(normalize="minmax"), "normalize must be one of"), (dict(frame=0), "frame must be 'auto'"),
    (dict(hidden_size=0), "hidden_size must be a positive int"), (dict(cell="tcn"), "cell must be one of"),
    (dict(pooling="sum"), "pooling"), (dict(val_fraction=1.0), "val_fraction"),
])
def test_bad_hyperparameters(option, message):
    with pytest.raises(ValueError, match=message):
        fast(**option).fit(*generated(6))


def test_predict_checks_the_trained_input():
    X, y = generated(10)
    clf = fast(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="expected sequences with 2 channel"):
        clf.predict([np.ones((4, 3))])
    with pytest.raises(ValueError, match="trained on features, got tokens"):
        clf.predict(["some words"])


def test_cli_train_evaluate_predict(tmp_path, capsys):
    X, y = generated(40)
    Xt, yt = generated(20, seed=1)

    def write_ts(path, X, y):
        lines = ["@problemName Ramps", "@univariate false", "@dimensions 2", "@equalLength false",
                 "@classLabel true down up", "@data"]
        lines += [":".join(",".join(f"{v:.6f}" for v in x[:, d]) for d in range(2)) + f":{label}"
                  for x, label in zip(X, y)]
        path.write_text("\n".join(lines) + "\n")

    write_ts(tmp_path / "train.ts", X, y)
    write_ts(tmp_path / "test.ts", Xt, yt)
    out = tmp_path / "m.safetensors"
    code = main(["train-classifier", str(tmp_path / "train.ts"), "--test", str(tmp_path / "test.ts"),
                 "--out", str(out), "--hidden-size", "16", "--n-models", "1", "--max-epochs", "30",
                 ])
    assert code == 0
    for suffix in (".history.csv", ".loss.png", ".confusion.png"):
        assert Path(str(out) + suffix).stat().st_size > 0
    assert "test_accuracy" in capsys.readouterr().out
    assert main(["evaluate", str(out), str(tmp_path / "test.ts"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["n"] == 20 and metrics["accuracy"] >= 0.85 and metrics["labels"] == ["down", "up"]
    assert main(["predict", str(out), str(tmp_path / "test.ts")]) == 0
    printed = capsys.readouterr().out.split()
    assert len(printed) == 20 and set(printed) <= {"down", "up"}
    assert main(["train-classifier", str(tmp_path / "missing.ts"), "--out", str(out)]) == 2
    assert "missing.ts: no such file" in capsys.readouterr().err


def test_trainer_min_delta_stops_on_creeping_validation_loss():
    """TrainConfig.min_delta (added for the classifier): improvements smaller than it count as none."""
    from rnnkit.train import TrainConfig, Trainer

    class Creeping:
        steps_per_epoch = 1

        def __init__(self):
            self.losses = iter([1.0, 0.5, 0.4995, 0.499, 0.4985, 0.3, 0.2999, 0.2998])

        def train_step(self, step, rng):
            return 0.0, {"w": np.zeros(1)}, 1

        def evaluate(self):
            return {"loss": next(self.losses)}

        def state_arrays(self):
            return {}

        def load_state_arrays(self, arrays):
            pass

    params = {"w": np.zeros(1)}
    run = lambda delta: Trainer(params, Creeping(), TrainConfig(patience=3, min_delta=delta, lr_decay=1.0, max_steps=8,  # noqa: E731
                                                               progress=False), log=lambda m: None).fit()
    assert len(run(1e-2)) == 5         # 0.4995, 0.499, 0.4985 are not progress: stop after three
    assert len(run(0.0)) == 8          # every tiny step resets the patience
    with pytest.raises(ValueError, match="min_delta must be >= 0"):
        TrainConfig(min_delta=-1.0)


def test_augmenter_crops_scales_and_jitters_before_framing():
    from rnnkit.models.classifier.inputs import Augmenter, parse_augment
    a = np.arange(40, dtype=float).reshape(20, 2)                # T = 20, D = 2
    crop = Augmenter([a, a[:10]], ("crop",), frame=2, stride=2)
    for seed in range(20):
        x, lengths = crop(np.array([0, 1]), np.random.default_rng(seed))
        assert x.shape[2] == 4 and 9 <= lengths[0] * 2 <= 20 and 5 <= lengths[1] * 2 <= 10
        window = x[0, :lengths[0]].reshape(-1, 2)                # frames back to steps
        start = int(window[0, 0]) // 2
        kept = window[:len(window) - (window[-1] == 0).all()]     # the last frame may be zero-padded
        np.testing.assert_array_equal(kept, a[start:start + len(kept)])   # one contiguous window of a
    long = Augmenter([np.arange(200.0).reshape(100, 2)], ("crop",), frame=2, stride=2)
    starts = {long(np.array([0]), np.random.default_rng(s))[0][0, 0, 0] / 2 for s in range(20)}
    assert len(starts) > 3 and any(s % 2 for s in starts)        # the window moves by single steps
    scaled = Augmenter([a + 1], ("scale",), 1, 1).one(a + 1, np.random.default_rng(0))
    ratio = scaled / (a + 1)
    assert np.allclose(ratio, ratio[0]) and not np.allclose(ratio[0], 1)   # one factor per channel
    jittered = Augmenter([a], ("jitter",), 1, 1).one(a, np.random.default_rng(0))
    assert jittered.shape == a.shape and 0.02 < np.std(jittered - a) < 0.1
    x1, _ = Augmenter([a], ("crop", "scale", "jitter"), 2, 2)(np.array([0]), np.random.default_rng(3))
    x2, _ = Augmenter([a], ("crop", "scale", "jitter"), 2, 2)(np.array([0]), np.random.default_rng(3))
    np.testing.assert_array_equal(x1, x2)                        # a pure function of the rng
    assert parse_augment(None) == () and parse_augment("jitter+crop") == ("jitter", "crop")
    for bad in ("warp", "crop+crop", 3):
        with pytest.raises(ValueError, match="augment must be None"):
            parse_augment(bad)


@pytest.mark.parametrize("normalize", ["channel", "series", None])
def test_derived_channels_are_computed_from_the_augmented_series(normalize):
    """Scaling is the old formula on [series, first difference] (so fitted models mean the same),
    and an augmented series gets derivative and position channels of its own: the derivative
    channel is the scaled difference of the augmented input channel, the position spans the
    cropped length."""
    from rnnkit.models.classifier.inputs import Augmenter
    X = [np.random.default_rng(i).normal(i, 1 + i, size=(T, 2)) for i, T in enumerate([30, 24, 40, 36])]
    clf = fast(max_epochs=1, normalize=normalize, derivatives=True, position=True, frame=1).fit(X, [0, 1, 0, 1])
    both = clf._with_derivatives(X[0])
    if normalize == "channel":
        expected = (both - clf.mean_) / clf.std_
    elif normalize == "series":
        expected = (both - both.mean(0)) / both.std(0)
    else:
        expected = both
    np.testing.assert_allclose(clf._scaled(X[0])[:, :4], expected, rtol=1e-12, atol=1e-12)
    augment = Augmenter([clf._base(X[0])], ("crop", "scale", "jitter"), 1, 1, clf._finish)
    x, lengths = next((x, n) for x, n in (augment(np.array([0]), np.random.default_rng(s)) for s in range(50))
                      if n[0] < 30)                               # a draw that crops
    got = x[0, :lengths[0]]
    assert got.shape[1] == 5
    step = np.diff(got[:, :2], axis=0, prepend=got[:1, :2])        # of the augmented series
    if normalize == "channel":                                       # in raw units, then scaled
        step = (step * clf.std_[:2] - clf.mean_[2:]) / clf.std_[2:]
    elif normalize == "series":
        step = (step - step.mean(0)) / step.std(0)
    np.testing.assert_allclose(got[:, 2:4], step, rtol=1e-5, atol=1e-6)   # float32 network input
    np.testing.assert_allclose(got[[0, -1], 4], [-np.sqrt(3), np.sqrt(3)])


def test_augmented_training_changes_the_model_and_still_learns():
    X, y = generated(80)
    Xt, yt = generated(60, seed=1)
    plain = fast(seed=0, max_epochs=10).fit(X, y)
    augmented = fast(seed=0, max_epochs=10, augment="crop+scale+jitter").fit(X, y)
    assert not np.allclose(plain.predict_proba(Xt), augmented.predict_proba(Xt))
    assert fast(seed=0, augment="crop+scale+jitter").fit(X, y).score(Xt, yt) >= 0.9
    tokens = fast(max_epochs=1, augment="crop").fit(["good one", "bad one"], [1, 0])   # no-op for tokens
    assert tokens.predict(["good one"]).shape == (1,)


def test_position_channel_gives_each_step_its_relative_place():
    X = [np.random.default_rng(i).normal(size=(T, 2)) for i, T in enumerate([9, 5, 1, 7])]
    clf = fast(max_epochs=1, position=True, frame=1).fit(X, [0, 1, 0, 1])
    assert clf.networks_[0].rnn.input_size == 3                 # 2 channels + position
    where = clf._scaled(X[1])[:, 2]
    np.testing.assert_allclose(where, np.sqrt(3) * np.array([-1, -0.5, 0, 0.5, 1]))
    np.testing.assert_allclose(clf._scaled(X[0])[:, :2], (X[0] - clf.mean_) / clf.std_)   # channels untouched
    assert clf._scaled(X[2])[0, 2] == 0                          # a single step sits in the middle
    assert fast(max_epochs=1, position=True, frame=2).fit(X, [0, 1, 0, 1]).networks_[0].rnn.input_size == 6
