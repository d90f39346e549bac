"""SequenceTagger: gradient check, PyTorch parity, learning (inline and a UD slice), unknown words,
save/load, selection on accuracy, CLI."""
import json
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit import cli, gradcheck, interop
from rnnkit.data.conllu import read_conllu
from rnnkit.losses import softmax_cross_entropy
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.models.tagger.task import bucket_batches, build_vocabularies

EWT = Path("/work/shared/data/ud_english_ewt")
TINY = dict(word_dim=5, char_dim=3, char_hidden_size=4, hidden_size=6)
FAST = dict(progress=False, log=lambda message: None)


def toy_corpus(n: int, seed: int):
    """A made-up language whose tags need both directions and the characters:
    a capitalised word is NAME; "the" is DET; a lowercase word is VERB when the next token is
    "!" and NOUN otherwise; "!" is PUNCT. Words are drawn from a closed set, names from an open one."""
    rng = np.random.default_rng(seed)
    words = ["dog", "cat", "run", "jump", "fish", "sing"]
    names = ["Ann", "Bob", "Cid", "Dee", "Eve", "Fay", "Gus", "Hal"]
    sentences, tags = [], []
    for _ in range(n):
        s, t = [], []
        for _ in range(rng.integers(2, 7)):
            r = rng.random()
            if r < 0.25:
                s.append(str(rng.choice(names)))
                t.append("NAME")
            elif r < 0.4:
                s.append("the")
                t.append("DET")
            else:
                s.append(str(rng.choice(words)))
                t.append("NOUN")
                if rng.random() < 0.4:
                    s.append("!")
                    t[-1] = "VERB"
                    t.append("PUNCT")
        sentences.append(s)
        tags.append(t)
    return sentences, tags


@pytest.fixture(scope="module")
def toy_tagger():
    s, t = toy_corpus(300, 0)
    ds, dt = toy_corpus(60, 1)
    return SequenceTagger(**TINY, dropout=0.1).fit(s, t, ds, dt, max_epochs=12, patience=12, lr=1e-2,
                                                   batch_size=16, eval_every=19, **FAST)   # once an epoch


def built(config=None, dtype=np.float64, seed=0):
    s, t = toy_corpus(20, 3)
    tagger = SequenceTagger(**(config or {**TINY, "num_layers": 2}))
    w, c, l, _ = build_vocabularies(tagger, s, t)
    return tagger.build(w, c, l, seed=seed, dtype=dtype), s, t


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradcheck_whole_tagger(cell):
    tagger, s, t = built({**TINY, "num_layers": 2, "cell": cell, "dropout": 0.3})
    batch = tagger.make_batch(s[:4], t[:4])

    def loss():  # the same dropout masks in every call
        logits, _ = tagger.forward(batch, training=True, rng=np.random.default_rng(5))
        return softmax_cross_entropy(logits, batch.tags, mask=batch.tags >= 0)[0]

    logits, cache = tagger.forward(batch, training=True, rng=np.random.default_rng(5))
    _, dlogits = softmax_cross_entropy(logits, batch.tags, mask=batch.tags >= 0)
    grads = tagger.backward(dlogits, batch, cache)
    assert set(grads) == set(tagger.params)
    # 12 random entries per array; eps 1e-5 because the character weights' gradients are ~3e-4,
    # where the default 1e-6 leaves a 1e-6 relative round-off error (it shrinks with larger eps)
    errors = gradcheck(loss, tagger.params, grads, eps=1e-5, max_entries=12)
    assert max(errors.values()) < 1e-6, errors


def test_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    tagger, s, t = built({**TINY, "num_layers": 2, "dropout": 0.0})
    batch = tagger.make_batch(s[:5], t[:5])
    P = {k: torch.tensor(v, requires_grad=True) for k, v in tagger.params.items()}
    chars = torch.nn.LSTM(3, 4, bidirectional=True, batch_first=True).double()
    sent = torch.nn.LSTM(5 + 8, 6, num_layers=2, bidirectional=True, batch_first=True).double()
    interop.from_torch(tagger.char_encoder.rnn, chars.state_dict())
    interop.from_torch(tagger.rnn, sent.state_dict())
    packed = pack_padded_sequence(P["chars.embedding.E"][torch.tensor(batch.chars)],
                                  torch.tensor(batch.char_lengths), batch_first=True, enforce_sorted=False)
    h = chars(packed)[1][0]
    c = torch.cat([h[0], h[1]], 1)[torch.tensor(batch.types)] * torch.tensor(batch.mask)[..., None]
    x = torch.cat([P["words.E"][torch.tensor(batch.words)], c], -1)
    packed = pack_padded_sequence(x, torch.tensor(batch.lengths), batch_first=True, enforce_sorted=False)
    y = pad_packed_sequence(sent(packed)[0], batch_first=True)[0]
    logits = y @ P["head.W"] + P["head.b"]
    loss = torch.nn.functional.cross_entropy(logits[torch.tensor(batch.mask)],
                                             torch.tensor(batch.tags[batch.mask]))
    loss.backward()

    ours_logits, cache = tagger.forward(batch, training=False)
    ours_loss, dlogits = softmax_cross_entropy(ours_logits, batch.tags, mask=batch.mask)
    grads = tagger.backward(dlogits, batch, cache)
    assert ours_loss == pytest.approx(loss.item(), rel=1e-10)
    for name in ("words.E", "chars.embedding.E", "head.W", "head.b"):
        np.testing.assert_allclose(grads[name], P[name].grad.numpy(), atol=1e-10, err_msg=name)
    for net, module, prefix in ((tagger.char_encoder.rnn, chars, "chars.rnn."), (tagger.rnn, sent, "rnn.")):
        ours = interop.to_torch(net, {k[len(prefix):]: v for k, v in grads.items() if k.startswith(prefix)})
        for name, p in module.named_parameters():
            np.testing.assert_allclose(ours[name], p.grad.numpy(), atol=1e-10, err_msg=prefix + name)


def test_learns_a_language_that_needs_both_directions_and_characters(toy_tagger):
    s, t = toy_corpus(100, 2)
    result = toy_tagger.score(s, t)
    assert result["accuracy"] > 0.97, result
    # names never seen in training: only the characters can say they are names
    pred = toy_tagger.predict([["Zoe", "jump", "!"], ["the", "Quincy", "fish"], ["Emil", "sing"]])
    assert pred == [["NAME", "VERB", "PUNCT"], ["DET", "NAME", "NOUN"], ["NAME", "NOUN"]]


def test_history_keeps_the_best_validation_accuracy(toy_tagger):
    accuracies = [row["val_accuracy"] for row in toy_tagger.history]
    ds, dt = toy_corpus(60, 1)
    assert toy_tagger.score(ds, dt)["accuracy"] == pytest.approx(max(accuracies))


def test_save_load_round_trip_and_files(tmp_path, toy_tagger):
    path = tmp_path / "toy.safetensors"
    toy_tagger.save(path)
    loaded = rnnkit.load(path)
    assert isinstance(loaded, SequenceTagger) and loaded.config == toy_tagger.config
    for k, v in toy_tagger.params.items():
        np.testing.assert_array_equal(loaded.params[k], v)
    s, t = toy_corpus(30, 4)
    assert loaded.predict(s) == toy_tagger.predict(s)
    data = tmp_path / "toy.conll"
    data.write_text("\n\n".join("\n".join(f"{w}\t{g}" for w, g in zip(a, b)) for a, b in zip(s, t)) + "\n",
                    encoding="utf-8")
    assert loaded.evaluate_file(data)["accuracy"] == pytest.approx(loaded.score(s, t)["accuracy"])
    tagged = loaded.tag_file(data)
    assert [line.split("\t")[0] for line in tagged.splitlines() if line] == [w for a in s for w in a]


def test_bad_input_is_named(toy_tagger):
    with pytest.raises(ValueError, match="not trained yet"):
        SequenceTagger().predict([["a"]])
    with pytest.raises(TypeError, match="sentence 0 must be a list of token strings"):
        toy_tagger.predict(["a whole sentence"])
    with pytest.raises(ValueError, match="sentence 1 is empty"):
        toy_tagger.predict([["a"], []])
    with pytest.raises(ValueError, match="sentence 0 has 2 tokens but 1 tags"):
        SequenceTagger().fit([["a", "b"]], [["X"]])
    with pytest.raises(ValueError, match="cell must be one of"):
        SequenceTagger(cell="transformer")
    with pytest.raises(ValueError, match="dropout must lie in"):
        TaggerConfig(dropout=1.5)


def test_bucket_batches_cover_every_sentence_once_and_group_lengths():
    lengths = np.random.default_rng(0).integers(1, 60, 1000)
    batches = bucket_batches(lengths, 32, np.random.default_rng(1))
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    spread = np.mean([lengths[b].max() - lengths[b].min() for b in batches])
    assert spread < 5                      # random batches of 32 would spread over ~55
    again = bucket_batches(lengths, 32, np.random.default_rng(1))
    assert all((a == b).all() for a, b in zip(batches, again))


def test_batches_from_a_precomputed_char_table_equal_batches_encoded_on_the_fly():
    from rnnkit.models.tagger.inputs import char_table, pad_batch
    tagger, s, t = built(TINY, dtype=np.float32)
    s = s[:6] + [["https://a-very-long-address.example/with/a/path/" + "x" * 40, "the"]]
    t = t[:6] + [["NAME", "DET"]]
    table = char_table(s[3:] + s, tagger.chars._index, 30)          # rows in another order, more forms
    direct = tagger.make_batch(s, t)
    cached = tagger.make_batch(s, t, char_table=table)
    for name in ("words", "lengths", "mask", "tags"):
        np.testing.assert_array_equal(getattr(cached, name), getattr(direct, name), err_msg=name)
    for batch in (direct, cached):      # each token's characters, whatever the row order
        assert len(batch.chars) == len({w for sentence in s for w in sentence})
    chars = [b.chars[b.types[b.mask]] for b in (direct, cached)]
    np.testing.assert_array_equal(chars[0][:, :chars[1].shape[1]], chars[1])
    assert direct.chars.shape[1] == cached.chars.shape[1] == 30        # the URL keeps 15 + 15 characters
    assert direct.tags[-1].tolist()[:2] == [tagger.tags.id_of("NAME"), tagger.tags.id_of("DET")]
    bare = pad_batch(s, [np.zeros(len(x), np.int64) for x in s], None, None, 30)
    assert bare.tags is None and bare.chars.shape == (0, 1) and not bare.types.any()


def test_word_dropout_probabilities():
    from rnnkit.models.tagger.task import TaggerTask
    tagger, s, t = built(TINY, dtype=np.float32)
    w, c, l, counts = build_vocabularies(tagger, s, t)
    task = TaggerTask(tagger, s, t, s[:2], t[:2], counts, 4, 0)
    the = tagger.words.id_of("the")
    assert task.p_unk[0] == task.p_unk[1] == 0.0                    # <PAD>, <UNK>
    alpha = tagger.config.word_dropout
    assert task.p_unk[the] == pytest.approx(alpha / (alpha + counts["the"]))


def test_learns_ud_english_slice():
    if not (EWT / "en_ewt-ud-train.conllu").exists():
        pytest.skip(f"{EWT} not present (the inline toy-language tests still run)")
    s, t = read_conllu(EWT / "en_ewt-ud-train.conllu")
    ds, dt = read_conllu(EWT / "en_ewt-ud-dev.conllu")
    tagger = SequenceTagger(word_dim=32, char_dim=16, char_hidden_size=16, hidden_size=32, dropout=0.2)
    tagger.fit(s[:400], t[:400], ds[:150], dt[:150], max_epochs=4, patience=4, lr=5e-3, batch_size=16,
               average=0.0, **FAST)
    result = tagger.score(ds[150:400], dt[150:400])
    # the majority tag (NOUN) gets about 17%; a few epochs on 400 sentences reach well above 70%
    assert result["accuracy"] > 0.7 and result["oov_tokens"] > 0 and result["oov_accuracy"] > 0.4, result


def test_cli_train_tag_evaluate(tmp_path, capsys):
    s, t = toy_corpus(120, 0)
    rows = lambda ss, tt: "\n\n".join(  # noqa: E731
        "\n".join(f"{k + 1}\t{w}\t_\t{g}\t_\t_\t0\t_\t_\t_" for k, (w, g) in enumerate(zip(a, b)))
        for a, b in zip(ss, tt)) + "\n"
    train, dev = tmp_path / "train.conllu", tmp_path / "dev.conllu"
    train.write_text("# a comment\n" + rows(s[:100], t[:100]), encoding="utf-8")
    dev.write_text(rows(s[100:], t[100:]), encoding="utf-8")
    model = tmp_path / "m.safetensors"
    assert cli.main(["train-tagger", str(train), "--dev", str(dev), "--out", str(model), "--word-dim", "8",
                     "--char-hidden-size", "4", "--hidden-size", "8", "--max-epochs", "2", "--no-progress"]) == 0
    assert model.exists() and "saved" in capsys.readouterr().out
    assert cli.main(["evaluate", str(model), str(dev), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0 <= metrics["accuracy"] <= 1 and metrics["tokens"] == sum(map(len, s[100:]))
    out = tmp_path / "tagged.conllu"
    assert cli.main(["tag", str(model), str(dev), "--output", str(out)]) == 0
    tagged, _ = read_conllu(out)
    assert tagged == s[100:]
    assert cli.main(["tag", str(model), str(tmp_path / "missing.conllu")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_word_vectors_initialise_the_embeddings(tmp_path):
    from rnnkit.data.word_vectors import read_word_vectors
    path = tmp_path / "vectors.txt"
    path.write_text("3 5\nthe 1 1 1 1 1\ndog 2 2 2 2 2\nann 3 3 3 3 3\n", encoding="utf-8")   # word2vec header
    s, t = toy_corpus(40, 0)
    messages = []
    SequenceTagger(**TINY).fit(s, t, max_epochs=1, word_vectors=path, progress=False, log=messages.append)
    assert any("for 3 of 16 words" in m for m in messages), messages     # the, dog, and Ann via ann
    assert read_word_vectors(path, ["Ann"])["ann"].tolist() == [3.0] * 5     # lowercase forms are kept
    (tmp_path / "bad.txt").write_text("the 1 2 3\ndog 1 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected 3 numbers after the word, got 2"):
        read_word_vectors(tmp_path / "bad.txt")
    (tmp_path / "three.txt").write_text("the 1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="set word_dim=3"):
        SequenceTagger(**TINY).fit(s, t, max_epochs=1, word_vectors=tmp_path / "three.txt", **FAST)


def test_word_vector_rows_are_copied():
    from rnnkit.data.word_vectors import embedding_matrix
    table = np.zeros((4, 2), np.float32)
    found = embedding_matrix(["<PAD>", "<UNK>", "Paris", "dog"], {"paris": np.ones(2), "dog": np.full(2, 2.0)}, table)
    assert found == 2 and table.tolist() == [[0, 0], [0, 0], [1, 1], [2, 2]]


class CountingTask:
    """w moves by -1 per SGD step (lr 1, gradient 1); the validation loss is (w + 3)^2."""
    steps_per_epoch = 4

    def __init__(self, params):
        self.params = params

    def train_step(self, step, rng):
        return 1.0, {"w": np.ones(1)}, 1

    def evaluate(self):
        return {"loss": float((self.params["w"][0] + 3) ** 2)}

    def state_arrays(self):
        return {}

    def load_state_arrays(self, arrays):
        pass


def test_trainer_average_evaluates_and_keeps_the_moving_average(tmp_path):
    # the tagger trains with TrainConfig.average; checked here on arithmetic done by hand
    params = {"w": np.zeros(1)}
    config = rnnkit.TrainConfig(optimizer="sgd", lr=1.0, clip=0, average=0.5, max_steps=4, eval_every=4,
                                progress=False)
    rnnkit.Trainer(params, CountingTask(params), config, log=lambda m: None).fit()
    a = 0.0
    for t in range(4):                    # w after step t + 1 is -(t + 1); decay min(0.5, (1+t)/(10+t))
        decay = min(0.5, (1 + t) / (10 + t))
        a += (1 - decay) * (-(t + 1) - a)
    assert params["w"][0] == pytest.approx(a)                       # the averaged weights are kept
    # a resumed run continues the average exactly
    run = lambda p, steps, out, resume=False: rnnkit.Trainer(  # noqa: E731
        p, CountingTask(p), rnnkit.TrainConfig(optimizer="sgd", lr=1.0, clip=0, average=0.9, max_steps=steps,
                                               eval_every=2, patience=99, progress=False),
        save_model=lambda path: None, out=out, log=lambda m: None).fit(resume=resume)
    straight, resumed = {"w": np.zeros(1)}, {"w": np.zeros(1)}
    run(straight, 6, tmp_path / "a")
    run(resumed, 2, tmp_path / "b")
    run(resumed, 6, tmp_path / "b", resume=True)
    assert resumed["w"][0] == straight["w"][0]


class SleepingTask(CountingTask):
    def train_step(self, step, rng):
        import time
        time.sleep(0.02)                  # wall time passes, almost no CPU time
        return super().train_step(step, rng)


def test_trainer_cpu_clock_counts_only_this_process():
    histories = {}
    for clock in ("wall", "cpu"):
        params = {"w": np.zeros(1)}
        config = rnnkit.TrainConfig(optimizer="sgd", lr=1.0, clip=0, max_steps=10, eval_every=10, clock=clock,
                                    progress=False)
        histories[clock] = rnnkit.Trainer(params, SleepingTask(params), config, log=lambda m: None).fit()
    assert histories["wall"][-1]["minutes"] * 60 >= 0.2              # 10 sleeps of 20 ms
    assert histories["cpu"][-1]["minutes"] * 60 < 0.1
    with pytest.raises(ValueError, match="clock must be"):
        rnnkit.TrainConfig(clock="gpu")
