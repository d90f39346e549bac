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
                 "--seq-len", "20", "--batch-size", "4", "--max-steps", "8", "--no-progress"]) == 0
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
                 "--seq-len", "20", "--batch-size", "4", "--max-steps", "10", "--no-progress", "--resume"]) == 0
    # the training messages go to the "rnnkit" logger (on stderr only when verbose), the result to stdout
    assert "resumed from" in caplog.text and "saved" in capsys.readouterr().out


def test_cli_errors_are_clear(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"garbage")
    assert main(["sample", str(bad)]) == 2
    assert "bad.safetensors" in capsys.readouterr().err
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\xff\xfe\x00abc")
    assert main(["train-lm", str(binary), "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "not UTF-8" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "none.safetensors"), str(binary)]) == 2


def test_demo_runs_and_samples(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d.safetensors"), "--max-minutes", "0.03"]) == 0
    out = capsys.readouterr().out
    assert "--- sample after" in out and (tmp_path / "d.safetensors").exists()

