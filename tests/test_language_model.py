"""Language model: gradients, PyTorch parity, learning on real text, resume, sampling, files, CLI,
and the estimator contract (scikit-learn's checks, fit-time validation, logging)."""
import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.gradcheck import gradcheck
from rnnkit.io import ModelFileError, load_model_file
from rnnkit.losses import softmax_cross_entropy
from rnnkit.estimator import NotFittedError
from rnnkit.io import save_model_file
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig, LanguageModelNetwork

SHAKESPEARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare" / "input.txt"
BUNDLED = Path(rnnkit.__file__).parent / "datasets" / "shakespeare_excerpt.txt"


def real_text(chars: int) -> str:
    """A slice of real text: tiny Shakespeare from ../shared when present, else the bundled excerpt
    (the same text's first 100 KB), so the tests never depend on ../shared to run."""
    path = SHAKESPEARE if SHAKESPEARE.exists() else BUNDLED
    return path.read_text(encoding="utf-8")[:chars]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_finite_differences(cell):
    model = LanguageModelNetwork(LanguageModelConfig(11, 4, 5, 2, cell, dropout=0.3), seed=0, dtype=np.float64)
    rng = np.random.default_rng(0)
    ids, targets = rng.integers(0, 11, (2, 6)), rng.integers(0, 11, (2, 6))
    state0 = tuple(rng.normal(size=s.shape) for s in model.zero_state(2))

    def loss():
        logits, _, _ = model.forward(ids, state0, training=True, rng=np.random.default_rng(3))
        return softmax_cross_entropy(logits, targets, reduction="sum")[0]

    logits, _, cache = model.forward(ids, state0, training=True, rng=np.random.default_rng(3))
    grads = model.backward(softmax_cross_entropy(logits, targets, reduction="sum")[1], None, cache)
    errors = gradcheck(loss, model.params, grads)
    assert max(errors.values()) < 1e-6, errors


def test_matches_torch_embedding_lstm_linear():
    torch = pytest.importorskip("torch")
    V, E, H, B, T = 13, 5, 7, 3, 6
    model = LanguageModelNetwork(LanguageModelConfig(V, E, H, 2, "lstm", dropout=0.0), seed=0, dtype=np.float64)
    emb, lstm, head = (torch.nn.Embedding(V, E).double(), torch.nn.LSTM(E, H, 2, batch_first=True).double(),
                       torch.nn.Linear(H, V).double())
    model.params["embedding.E"][...] = emb.weight.detach().numpy()
    rnnkit.interop.from_torch(model.rnn, lstm.state_dict())
    model.params["head.W"][...] = head.weight.detach().numpy().T
    model.params["head.b"][...] = head.bias.detach().numpy()
    rng = np.random.default_rng(1)
    ids, targets = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
    logits, _, cache = model.forward(ids, training=False)
    loss, dlogits = softmax_cross_entropy(logits, targets)
    grads = model.backward(dlogits, None, cache)
    out, _ = lstm(emb(torch.tensor(ids)))
    theirs = torch.nn.functional.cross_entropy(head(out).reshape(-1, V), torch.tensor(targets).reshape(-1))
    theirs.backward()
    assert abs(loss - theirs.item()) < 1e-12
    np.testing.assert_allclose(grads["embedding.E"], emb.weight.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(grads["head.W"], head.weight.grad.numpy().T, atol=1e-12)
    ours = rnnkit.interop.to_torch(model.rnn, {k[4:]: v for k, v in grads.items() if k.startswith("rnn.")})
    for name, p in lstm.named_parameters():
        np.testing.assert_allclose(ours[name], p.grad.numpy(), atol=1e-12)


def test_overfits_a_short_real_passage():
    from rnnkit.models.language_model.task import LanguageModelTask
    from rnnkit.models.language_model.inputs import build_vocabulary
    text = real_text(600)
    vocab = build_vocabulary(text, "char")
    ids = vocab.encode_text(text)
    model = LanguageModelNetwork(LanguageModelConfig(len(vocab), 16, 64, 1, "lstm", dropout=0.0), vocab, seed=0)
    task = LanguageModelTask(model, ids, ids, batch_size=4, seq_len=40, val_characters=len(text))
    config = rnnkit.TrainConfig(lr=1e-2, max_steps=250, eval_every=10, patience=100, progress=False)
    history = rnnkit.Trainer(model.params, task, config, log=lambda m: None).fit()
    assert history[0]["val_loss"] > 2.0
    # read in the stream layout it was trained on, the passage is almost memorised
    assert rnnkit.evaluate_text(model, text, batch_size=4, seq_len=40)["loss"] < 0.1


def test_learns_beyond_unigram_on_held_out_text():
    text = real_text(60_000)
    model = rnnkit.train_language_model(text, hidden_size=64, num_layers=1, seq_len=50, batch_size=16,
                                        max_steps=150, eval_every=50, seed=0)
    held_out = text[int(len(text) * 0.9):]
    vocab = model.vocabulary_
    counts = np.bincount(vocab.encode_text(text[:int(len(text) * 0.9)]), minlength=len(vocab))
    p = counts / counts.sum()
    ids = vocab.encode_text(held_out)
    unigram = -np.mean(np.log(np.maximum(p[ids], 1e-12)))
    assert rnnkit.evaluate_text(model, held_out)["loss"] < unigram - 0.4


def test_word_level_vocabulary_with_unk():
    text = real_text(20_000)
    model = rnnkit.train_language_model(text, level="word", min_count=3, hidden_size=32, num_layers=1,
                                        seq_len=20, batch_size=8, max_steps=20, seed=0)
    vocab = model.vocabulary_
    assert vocab.level == "word" and vocab.unk_id is not None and vocab.eos_id is not None
    words = [w for line in rnnkit.data.vocab.tokenize_words(text[:int(len(text) * 0.9)]) for w in line]
    counts = {w: words.count(w) for w in set(words)}
    rare = [w for w, c in counts.items() if c < 3]
    assert rare and all(w not in vocab for w in rare[:50])
    assert all(w in vocab for w, c in counts.items() if c >= 3)
    sampled = model.sample(length=200, seed=0, temperature=1.5)
    assert "<UNK>" not in sampled and "<PAD>" not in sampled
    assert "<EOS>" not in sampled and sampled.count("\n") > 0


def test_resume_equals_uninterrupted(tmp_path):
    text = real_text(8_000)
    # patience 1: every evaluation without improvement halves the lr (the Trainer's lr_decay 0.5),
    # so the learning rate is part of what a resume must replay
    options = dict(hidden_size=32, num_layers=2, seq_len=20, batch_size=8, eval_every=3, lr=5e-3, seed=4,
                   patience=1)
    rnnkit.train_language_model(text, tmp_path / "a.safetensors", max_steps=14, **options)
    rnnkit.train_language_model(text, tmp_path / "b.safetensors", max_steps=7, **options)  # off the eval grid
    rnnkit.train_language_model(text, tmp_path / "b.safetensors", max_steps=14, resume=True, **options)
    a, meta_a = load_model_file(tmp_path / "a.safetensors.ckpt")
    b, meta_b = load_model_file(tmp_path / "b.safetensors.ckpt")
    assert set(a) == set(b)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    state_a, state_b = meta_a["train_state"], meta_b["train_state"]
    assert state_a["step"] == state_b["step"] == 14 and state_a["lr"] == state_b["lr"]
    rows_a = {r["step"]: r["val_loss"] for r in state_a["history"]}
    rows_b = {r["step"]: r["val_loss"] for r in state_b["history"]}
    assert all(rows_a[s] == rows_b[s] for s in (3, 6, 9, 12)), (rows_a, rows_b)


def test_resume_refuses_a_different_model(tmp_path):
    text = real_text(5_000)
    rnnkit.train_language_model(text, tmp_path / "m.safetensors", hidden_size=16, num_layers=1, seq_len=20,
                                batch_size=4, max_steps=2)
    with pytest.raises(ValueError, match="different model or data"):
        rnnkit.train_language_model(text, tmp_path / "m.safetensors", hidden_size=24, num_layers=1, seq_len=20,
                                    batch_size=4, max_steps=4, resume=True)


@pytest.fixture(scope="module")
def small_model():
    return rnnkit.train_language_model(real_text(20_000), hidden_size=32, num_layers=1, seq_len=30,
                                       batch_size=8, max_steps=40, seed=0)


def test_sampling_is_deterministic_for_a_seed(small_model):
    a = small_model.sample(length=100, prime="ROMEO:", seed=7)
    b = small_model.sample(length=100, prime="ROMEO:", seed=7)
    c = small_model.sample(length=100, prime="ROMEO:", seed=8)
    assert a == b and a != c and a.startswith("ROMEO:") and len(a) == len("ROMEO:") + 100


def test_low_temperature_is_argmax(small_model):
    greedy = small_model.sample(length=60, prime="First", temperature=0, seed=1)
    assert small_model.sample(length=60, prime="First", temperature=1e-4, seed=2) == greedy
    assert small_model.sample(length=60, prime="First", top_k=1, seed=3) == greedy
    # greedy decoding by hand: argmax of the model's next-token distribution at every step
    vocab, text = small_model.vocabulary_, "First"
    for _ in range(60):
        logits, _, _ = small_model.network_.forward(vocab.encode_text(text)[None, :], training=False)
        scores = logits[0, -1].copy()
        scores[vocab.unk_id] = -np.inf
        text += vocab.token_of(int(np.argmax(scores)))
    assert greedy == text


def test_top_k_restricts_draws(small_model):
    from rnnkit.sampling import next_token_distribution
    logits = np.array([3.0, 1.0, 2.0, 0.5, 2.5])
    p = next_token_distribution(logits, 1.0, 2, banned=[])
    assert set(np.flatnonzero(p)) == {0, 4} and abs(p.sum() - 1) < 1e-12
    assert next_token_distribution(logits, 1.0, None, banned=[0])[0] == 0
    with pytest.raises(ValueError, match="never saw"):
        small_model.sample(prime="\u00e9t\u00e9", length=5)
    with pytest.raises(ValueError, match="temperature"):
        small_model.sample(temperature=-1, length=5)


def test_save_load_round_trip(small_model, tmp_path):
    path = tmp_path / "m.safetensors"
    small_model.save(path)
    loaded = rnnkit.load(path)
    assert isinstance(loaded, LanguageModel)
    for k, v in small_model.network_.params.items():
        np.testing.assert_array_equal(loaded.network_.params[k], v)
    assert loaded.vocabulary_ == small_model.vocabulary_
    assert loaded.get_params() == small_model.get_params()   # the hyperparameters travel in the file
    assert loaded.sample(length=50, seed=3) == small_model.sample(length=50, seed=3)
    raw = path.read_bytes()
    assert b"pickle" not in raw[:200]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing"])
def test_damaged_model_file_gives_a_clear_error(small_model, tmp_path, damage):
    path = tmp_path / "m.safetensors"
    small_model.save(path)
    if damage == "truncate":
        path.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\x01not a model at all" * 10)
    else:
        path.unlink()
    with pytest.raises(ModelFileError, match="m.safetensors"):
        rnnkit.load(path)


def test_cli_end_to_end(tmp_path, capsys, caplog):
    text_file = tmp_path / "t.txt"
    text_file.write_text(real_text(6_000), encoding="utf-8")
    model = tmp_path / "m.safetensors"
    assert main(["train-lm", str(text_file), "--out", str(model), "--hidden-size", "24", "--num-layers", "1",
                 "--seq-len", "20", "--batch-size", "4", "--max-steps", "8"]) == 0
    assert model.exists() and (tmp_path / "m.safetensors.history.csv").exists()
    assert (tmp_path / "m.safetensors.loss.png").read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    caplog.set_level(logging.INFO, logger="rnnkit")
    assert main(["sample", str(model), "--length", "30", "--seed", "1", "--prime", "First"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("First") and len(out.rstrip("\n")) >= 30
    assert main(["evaluate", str(model), str(text_file), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0 < metrics["loss"] < 5 and metrics["bpc"] == pytest.approx(metrics["loss"] / np.log(2), rel=0.02)
    assert main(["train-lm", str(text_file), "--out", str(model), "--hidden-size", "24", "--num-layers", "1",
                 "--seq-len", "20", "--batch-size", "4", "--max-steps", "10", "--resume"]) == 0
    # the training messages go to the "rnnkit" logger (on stderr only when verbose), the result to stdout
    assert "resumed from" in caplog.text and "saved" in caplog.text


def test_cli_errors_are_clear(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    assert main(["sample", str(bad)]) == 1                  # an unreadable file: a failure, not a usage error
    assert "bad.safetensors" in capsys.readouterr().err
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\xff\xfe\x00abc")
    assert main(["train-lm", str(binary), "--out", str(tmp_path / "x.safetensors")]) == 1
    assert "not UTF-8" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "none.safetensors"), str(binary)]) == 2


def test_demo_runs_and_samples(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d.safetensors"), "--max-minutes", "0.03"]) == 0
    out = capsys.readouterr().out
    assert "--- sample after" in out and (tmp_path / "d.safetensors").exists()


# -- the estimator contract ------------------------------------------------------------------
TINY = dict(hidden_size=16, num_layers=1, embedding_dim=8, seq_len=20, batch_size=4)


def test_clone_and_scikit_learn_parameter_checks(tmp_path):
    from sklearn.base import clone
    from sklearn.utils import get_tags
    from sklearn.utils.estimator_checks import (check_get_params_invariance, check_no_attributes_set_in_init,
                                                check_set_params)
    model = LanguageModel(level="word", cell="gru", hidden_size=8, max_vocab=50, lr=1e-3, out=tmp_path / "m",
                          resume=True, seed=3, verbose=True)
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    assert list(model.get_params()) == [
        "level", "cell", "hidden_size", "num_layers", "embedding_dim", "dropout", "seq_len", "batch_size",
        "val_fraction", "min_count", "max_vocab", "lr", "clip", "eval_every", "patience", "max_steps",
        "max_minutes", "out", "resume", "seed", "verbose"]
    for check in (check_get_params_invariance, check_set_params, check_no_attributes_set_in_init):
        check("LanguageModel", model)
    assert get_tags(model).target_tags.required is False       # fit(text) takes no y
    assert repr(LanguageModel(hidden_size=8)) == "LanguageModel(hidden_size=8)"


@pytest.mark.parametrize("params, match", [
    ({"level": "bytes"}, "level"), ({"cell": "transformer"}, "transformer"), ({"hidden_size": 0}, "hidden_size"),
    ({"batch_size": 2.5}, "batch_size"), ({"dropout": 1.0}, "dropout"), ({"lr": 0.0}, "lr"),
    ({"val_fraction": 1.5}, "val_fraction"), ({"max_steps": 0}, "max_steps"), ({"clip": -1}, "clip"),
    ({"max_minutes": -2}, "max_minutes"), ({"resume": True}, "resume=True needs out")])
def test_hyperparameters_are_stored_as_given_and_checked_by_fit(params, match):
    model = LanguageModel(**params)
    assert all(getattr(model, k) == v for k, v in params.items())   # __init__ checks nothing
    with pytest.raises(ValueError, match=match):
        model.fit(real_text(2_000))
    assert not model.__sklearn_is_fitted__()


@pytest.mark.parametrize("call", ["sample", "step", "evaluate", "score", "evaluate_file", "save"])
def test_methods_before_fit_raise_not_fitted(call, tmp_path):
    args = {"sample": (), "step": (np.array([0]),), "evaluate": ("some text",), "score": ("some text",),
            "evaluate_file": (tmp_path / "t.txt",), "save": (tmp_path / "m.safetensors",)}[call]
    with pytest.raises(NotFittedError, match=f"LanguageModel.{call}: .*not fitted"):
        getattr(LanguageModel(), call)(*args)
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    assert not (tmp_path / "m.safetensors").exists()


def test_fit_returns_self_and_an_explicit_validation_text_is_used():
    text, held_out = real_text(6_000), real_text(9_000)[6_000:] + "\u00e9\u00e9\u00e9\n"
    model = LanguageModel(max_steps=6, eval_every=3, **TINY)
    assert model.fit(text, validation=held_out) is model
    assert set(model.network_.params) >= {"embedding.E", "head.W", "head.b"}
    assert model.network_.vocab is model.vocabulary_ and [row["step"] for row in model.history_] == [3, 6]
    # all of `text` trained the vocabulary (its last characters included); the validation text's
    # "\u00e9" was never seen, so it is <UNK>
    assert set(text) <= set(model.vocabulary_.tokens) and "\u00e9" not in model.vocabulary_
    # the best weights are kept, and their validation loss is the held-out text's loss
    best = min(row["val_loss"] for row in model.history_)
    assert model.evaluate(held_out, batch_size=4, seq_len=20)["loss"] == pytest.approx(best, rel=1e-9)
    # by default the last val_fraction is held out instead, and differs from the given text
    default = LanguageModel(max_steps=6, eval_every=3, **TINY).fit(text)
    assert default.history_[0]["val_loss"] != model.history_[0]["val_loss"]
    with pytest.raises(ValueError, match="validation text has 1 tokens"):
        LanguageModel(**TINY).fit(text, validation="a")
    with pytest.raises(ValueError, match="expected text as a str"):
        LanguageModel(**TINY).fit(["not", "a", "str"])


def test_score_is_minus_the_loss_and_prefers_real_text(small_model):
    text = real_text(20_000)[:3_000]
    shuffled = "".join(np.random.default_rng(0).permutation(list(text)))
    assert small_model.score(text) == -small_model.evaluate(text)["loss"]
    assert small_model.score(text) > small_model.score(shuffled) + 0.05   # 40 steps: a little beyond unigrams


def test_step_is_the_networks_step_and_checks_its_ids(small_model):
    ids = small_model.vocabulary_.encode_text("Fi")
    logits, state = small_model.step(ids[:1])
    logits, state = small_model.step(ids[1:], state)
    full, _, _ = small_model.network_.forward(ids[None, :])
    np.testing.assert_allclose(logits, full[:, -1], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"LanguageModel.step: expected ids of shape \(B,\)"):
        small_model.step(np.array([len(small_model.vocabulary_)]))


def test_a_failed_fit_leaves_no_fitted_model(monkeypatch):
    from rnnkit.train import Trainer

    def diverge(self, resume=False):
        raise FloatingPointError("training diverged")
    monkeypatch.setattr(Trainer, "fit", diverge)
    model = LanguageModel(**TINY)
    with pytest.raises(FloatingPointError):
        model.fit(real_text(3_000))
    with pytest.raises(NotFittedError):
        model.sample(length=5)


def test_out_is_checked_before_any_training(tmp_path, monkeypatch):
    from rnnkit.models.language_model import estimator

    def no_training(*args, **kwargs):
        raise AssertionError("training started")
    monkeypatch.setattr(estimator, "Trainer", no_training)
    missing = tmp_path / "no such dir" / "m.safetensors"
    with pytest.raises(ValueError, match="no such dir.*does not exist"):
        LanguageModel(out=missing, **TINY).fit(real_text(3_000))
    with pytest.raises(ValueError, match=f"{tmp_path.name}.* is a directory"):
        rnnkit.train_language_model(real_text(3_000), tmp_path, **TINY)
    assert list(tmp_path.iterdir()) == []


def test_quiet_by_default_and_verbose_logs_to_stderr(capsys, monkeypatch):
    text = real_text(3_000)
    rnnkit.train_language_model(text, max_steps=2, **TINY)
    assert capsys.readouterr() == ("", "")
    # pytest gives the root logger handlers of its own; without any, verbose adds one on stderr
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    LanguageModel(max_steps=2, verbose=True, **TINY).fit(text)
    out, err = capsys.readouterr()
    assert out == "" and "char-level language model: vocabulary" in err and "stopped (step budget)" in err
    assert not logging.getLogger("rnnkit").handlers          # the handler lives for one fit only
    # `progress`, the older name, still switches the messages on (today's CLI passes it)
    rnnkit.train_language_model(text, max_steps=2, progress=True, **TINY)
    assert "language model: vocabulary" in capsys.readouterr().err


def test_on_evaluate_sees_the_model_being_trained():
    seen = []

    def hook(model, row):
        seen.append((model, row["step"], model.sample(length=10, seed=0)))
    model = rnnkit.train_language_model(real_text(4_000), max_steps=4, eval_every=2, on_evaluate=hook, **TINY)
    assert [step for _, step, _ in seen] == [2, 4] and all(m is model for m, _, _ in seen)
    assert all(len(sampled) == 10 for _, _, sampled in seen)


def old_format_file(path, network: LanguageModelNetwork) -> None:
    """A model file exactly as rnnkit wrote it before the estimator (LanguageModel.save then)."""
    from dataclasses import asdict
    metadata = {"kind": "language_model", "config": asdict(network.config), "dtype": network.dtype.name,
                "vocab": None if network.vocab is None else network.vocab.to_dict()}
    save_model_file(path, network.params, metadata)


def test_a_file_in_the_older_format_loads(tmp_path):
    from rnnkit.models.language_model.inputs import build_vocabulary
    from rnnkit.sampling import sample
    text = real_text(3_000)
    vocab = build_vocabulary(text, "char")
    network = LanguageModelNetwork(LanguageModelConfig(len(vocab), 6, 10, 2, "gru", 0.1), vocab, seed=5)
    old_format_file(tmp_path / "old.safetensors", network)
    loaded = rnnkit.load(tmp_path / "old.safetensors")
    assert isinstance(loaded, LanguageModel) and loaded.history_ == []
    params = loaded.get_params()
    assert {k: params[k] for k in ("level", "cell", "hidden_size", "num_layers", "embedding_dim", "dropout")} == {
        "level": "char", "cell": "gru", "hidden_size": 10, "num_layers": 2, "embedding_dim": 6, "dropout": 0.1}
    assert loaded.sample(length=40, seed=2) == sample(network, length=40, seed=2)
    assert loaded.evaluate(text) == rnnkit.evaluate_text(network, text)
    # saved again, it is written in the new format and reads back the same
    loaded.save(tmp_path / "new.safetensors")
    assert rnnkit.load(tmp_path / "new.safetensors").sample(length=40, seed=2) == loaded.sample(length=40, seed=2)
    # an old network saved without a vocabulary still loads; sampling then says what is missing
    old_format_file(tmp_path / "bare.safetensors", LanguageModelNetwork(LanguageModelConfig(7, 3, 4, 1), seed=0))
    bare = rnnkit.load(tmp_path / "bare.safetensors")
    assert bare.vocabulary_ is None
    with pytest.raises(ValueError, match="no vocabulary"):
        bare.sample(length=5)
