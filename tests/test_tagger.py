"""SequenceTagger: learning (inline and a UD slice), unknown words, save/load (today's files and
files written before the estimator API), selection on accuracy, the checks of fit, CLI. The
network's gradients and PyTorch parity: test_tagger_network.py; the estimator contract:
test_tagger_estimator.py."""
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit import cli
from rnnkit.data.conllu import read_conllu
from rnnkit.estimator import NotFittedError
from rnnkit.models.tagger import SequenceTagger, TaggerConfig
from rnnkit.models.tagger.task import bucket_batches, build_vocabularies

EWT = Path("/work/shared/data/ud_english_ewt")
DATA = Path(__file__).resolve().parent / "data"
TINY = dict(word_dim=5, char_dim=3, char_hidden_size=4, hidden_size=6)


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
    return SequenceTagger(**TINY, dropout=0.1, max_epochs=12, patience=12, lr=1e-2, batch_size=16,
                          eval_every=19).fit(s, t, (ds, dt))   # once an epoch


def fitted(config=None, **params):
    """A tagger fitted for one step on a small corpus (its vocabularies and network are what
    matter), and the corpus; nothing is held out, so every word is known."""
    s, t = toy_corpus(20, 3)
    tagger = SequenceTagger(**(config or TINY), max_steps=1, **params).fit(s, t, (s[:2], t[:2]))
    return tagger, s, t


def test_learns_a_language_that_needs_both_directions_and_characters(toy_tagger):
    s, t = toy_corpus(100, 2)
    result = toy_tagger.evaluate(s, t)
    assert result["accuracy"] > 0.97, result
    assert toy_tagger.score(s, t) == result["accuracy"]          # score is the token accuracy, a float
    # names never seen in training: only the characters can say they are names
    pred = toy_tagger.predict([["Zoe", "jump", "!"], ["the", "Quincy", "fish"], ["Emil", "sing"]])
    assert pred == [["NAME", "VERB", "PUNCT"], ["DET", "NAME", "NOUN"], ["NAME", "NOUN"]]


def test_history_keeps_the_best_validation_accuracy(toy_tagger):
    accuracies = [row["val_accuracy"] for row in toy_tagger.history_]
    ds, dt = toy_corpus(60, 1)
    assert toy_tagger.score(ds, dt) == pytest.approx(max(accuracies))
    assert toy_tagger.history is toy_tagger.history_                  # the name rnnkit train-tagger reads


def test_save_load_round_trip_and_files(tmp_path, toy_tagger):
    path = tmp_path / "toy.safetensors"
    toy_tagger.save(path)
    loaded = rnnkit.load(path)
    assert isinstance(loaded, SequenceTagger) and loaded.config_ == toy_tagger.config_
    architecture = set(TaggerConfig.__dataclass_fields__) | {"column"}
    assert {k: v for k, v in loaded.get_params().items() if k in architecture} == \
        {k: v for k, v in toy_tagger.get_params().items() if k in architecture}
    assert loaded.classes_.tolist() == toy_tagger.classes_.tolist() == ["DET", "NAME", "NOUN", "PUNCT", "VERB"]
    assert loaded.word_vocabulary_.tokens == toy_tagger.word_vocabulary_.tokens
    assert loaded.char_vocabulary_.tokens == toy_tagger.char_vocabulary_.tokens
    assert set(loaded.params) == set(toy_tagger.params)
    for k, v in toy_tagger.params.items():
        np.testing.assert_array_equal(loaded.params[k], v)
    s, t = toy_corpus(30, 4)
    assert loaded.predict(s) == toy_tagger.predict(s)
    assert loaded.evaluate(s, t) == toy_tagger.evaluate(s, t)
    data = tmp_path / "toy.conll"
    data.write_text("\n\n".join("\n".join(f"{w}\t{g}" for w, g in zip(a, b)) for a, b in zip(s, t)) + "\n",
                    encoding="utf-8")
    assert loaded.evaluate_file(data)["accuracy"] == pytest.approx(loaded.score(s, t))
    tagged = loaded.tag_file(data)
    assert [line.split("\t")[0] for line in tagged.splitlines() if line] == [w for a in s for w in a]


def test_bad_input_is_named(toy_tagger):
    for call in (lambda m: m.predict([["a"]]), lambda m: m.score([["a"]], [["X"]]),
                 lambda m: m.evaluate([["a"]], [["X"]]), lambda m: m.save("never.safetensors"),
                 lambda m: m.params, lambda m: m.make_batch([["a"]]), lambda m: m.evaluate_file("x.conll"),
                 lambda m: m.tag_file("x.conll"), lambda m: m.read_file("x.conll")):
        with pytest.raises(NotFittedError, match="SequenceTagger.* is not fitted yet"):
            call(SequenceTagger())
    with pytest.raises(TypeError, match="sentence 0 must be a list of token strings"):
        toy_tagger.predict(["a whole sentence"])
    with pytest.raises(ValueError, match="sentence 1 is empty"):
        toy_tagger.predict([["a"], []])
    with pytest.raises(ValueError, match="sentence 0 has 2 tokens but 1 tags"):
        SequenceTagger().fit([["a", "b"]], [["X"]])
    with pytest.raises(ValueError, match="cell must be one of"):
        SequenceTagger(cell="transformer").fit([["a"], ["b"]], [["X"], ["Y"]])
    with pytest.raises(ValueError, match="dropout must lie in"):
        TaggerConfig(dropout=1.5)


def test_a_model_file_written_before_the_estimator_api_loads_and_predicts_as_it_did():
    # written by SequenceTagger(config, **options).fit(...).save(...) at commit 283b7ae, with the
    # predictions and logits that code gave (two layers, dropout 0.1, CoNLL data format)
    expected = json.loads((DATA / "sequence_tagger_283b7ae.json").read_text(encoding="utf-8"))
    loaded = rnnkit.load(DATA / "sequence_tagger_283b7ae.safetensors")
    assert isinstance(loaded, SequenceTagger)
    assert (loaded.num_layers, loaded.dropout, loaded.hidden_size, loaded.column) == (2, 0.1, 6, "upos")
    assert loaded.config_ == TaggerConfig(**TINY, num_layers=2, dropout=0.1)
    assert loaded.data_format_ == {"format": "conll", "column": "upos"} and loaded.history_ == []
    s, t = toy_corpus(30, 4)
    assert loaded.predict(s) == expected["predictions"]
    logits, _ = loaded.network_.forward(loaded.make_batch(s[:8]))
    np.testing.assert_allclose(logits, expected["logits_of_first_8"], atol=2e-5)
    assert loaded.score(s, t) == pytest.approx(expected["accuracy"])


def test_fit_checks_its_parameters_and_data_before_training(tmp_path):
    s, t = toy_corpus(20, 0)
    for params, error, message in [
            ({"batch_size": 0}, ValueError, "SequenceTagger.fit: batch_size must be a positive int, got 0"),
            ({"batch_size": 2.5}, ValueError, "batch_size must be a positive int"),
            ({"word_dim": 0}, ValueError, "SequenceTagger.fit: word_dim must be a positive int, got 0"),
            ({"num_layers": True}, ValueError, "num_layers must be a positive int"),
            ({"char_hidden_size": -1}, ValueError, "char_hidden_size must be an int >= 0, got -1"),
            ({"dropout": 1.0}, ValueError, r"SequenceTagger.fit: dropout must lie in \[0, 1\), got 1.0"),
            ({"word_dropout": -1.0}, ValueError, "word_dropout must be >= 0, got -1.0"),
            ({"cell": "transformer"}, ValueError, "cell must be one of"),
            ({"seed": None}, ValueError, "SequenceTagger.fit: seed must be an int, got None"),
            ({"column": "lemma"}, ValueError, r"column must be one of \('upos', 'xpos'\), got 'lemma'"),
            ({"lr": 0.0}, ValueError, "lr must be > 0"),
            ({"max_epochs": 0}, ValueError, "max_epochs must be >= 1 or None"),
            ({"eval_every": 0}, ValueError, "eval_every must be >= 1 or None"),
            ({"average": 1.0}, ValueError, r"average must lie in \[0, 1\)"),
            ({"clock": "gpu"}, ValueError, "clock must be"),
            ({"max_minutes": 0}, ValueError, "max_minutes must be > 0"),
            ({"val_fraction": 1.5}, ValueError, r"val_fraction must lie in \(0, 1\), got 1.5"),
            ({"out": tmp_path}, ValueError,
             re.escape(f"out must be a model file path, got the directory '{tmp_path}'")),
            ({"out": tmp_path / "no" / "m.safetensors"}, ValueError,
             re.escape(f"the directory of out='{tmp_path / 'no' / 'm.safetensors'}' does not exist")),
            ({"resume": True}, ValueError, "resume=True needs out"),
            ({"out": tmp_path / "m.safetensors", "resume": True}, FileNotFoundError,
             re.escape(f"no checkpoint at {tmp_path / 'm.safetensors'}.ckpt")),
            ({"word_vectors": tmp_path / "none.txt"}, ValueError, "word_vectors '.*none.txt' is not a file")]:
        tagger = SequenceTagger(**{**TINY, **params})
        with pytest.raises(error, match=message):
            tagger.fit(s, t)
        assert not tagger.__sklearn_is_fitted__(), params
    assert not list(tmp_path.iterdir())                          # nothing written by a refused fit
    tagger = SequenceTagger(**TINY)
    for X, y, validation, error, message in [
            (s, t[:-1], None, ValueError, r"expected one tag list per sentence \(20\), got 19"),
            ("a b", t, None, TypeError, "expected sentences as a list of token lists, got str"),
            ([["a", ""]], [["X", "Y"]], None, ValueError, "token 1 of sentence 0 must be a non-empty str"),
            (s, t, (s,), ValueError, r"validation must be an \(X_dev, y_dev\) pair"),
            (s, t, "dev", ValueError, r"validation must be an \(X_dev, y_dev\) pair"),
            (s, t, (s, None), ValueError, "validation needs the tags of its sentences"),
            (s, t, ([["a"], []], [["X"], []]), ValueError, r"SequenceTagger.fit \(validation\): sentence 1 is empty"),
            (s, t, (s[:2], t[:1]), ValueError, "expected one tag list per sentence"),
            (s[:1], t[:1], None, ValueError, r"too few sentences \(1\) to hold out a validation part")]:
        with pytest.raises(error, match=message):
            tagger.fit(X, y, validation)
        assert not tagger.__sklearn_is_fitted__()


def test_out_writes_model_checkpoint_history_and_resume_continues_exactly(tmp_path):
    s, t = toy_corpus(60, 0)
    ds, dt = toy_corpus(20, 1)
    out = tmp_path / "m.safetensors"
    params = dict(**TINY, batch_size=8, eval_every=4, average=0.0)
    straight = SequenceTagger(**params, max_steps=8).fit(s, t, (ds, dt))
    SequenceTagger(**params, max_steps=4, out=out).fit(s, t, (ds, dt))
    for suffix in ("", ".ckpt", ".history.csv"):
        assert (tmp_path / f"m.safetensors{suffix}").exists(), suffix
    resumed = SequenceTagger(**params, max_steps=8, out=out, resume=True).fit(s, t, (ds, dt))
    assert [row["step"] for row in resumed.history_] == [row["step"] for row in straight.history_] == [4, 8]
    for k, v in straight.params.items():
        np.testing.assert_array_equal(resumed.params[k], v, err_msg=k)
    assert rnnkit.load(out).predict(ds) == straight.predict(ds)
    with pytest.raises(ValueError, match="written for a different model or data"):
        SequenceTagger(**{**params, "hidden_size": 7}, max_steps=9, out=out, resume=True).fit(s, t, (ds, dt))


def test_messages_go_to_the_rnnkit_logger_and_reach_stderr_only_when_verbose(capsys, caplog, monkeypatch):
    s, t = toy_corpus(20, 0)
    quiet = SequenceTagger(**TINY, max_steps=1)
    with caplog.at_level(logging.INFO, logger="rnnkit"):
        quiet.fit(s, t)
    messages = [r.getMessage() for r in caplog.records if r.name == "rnnkit"]
    assert messages[0] == "holding out 2 of the training sentences for validation", messages
    assert any(m.startswith("tagger: 18 sentences") for m in messages), messages
    assert any(m.startswith("stopped (step budget) after 1 steps") for m in messages), messages
    assert quiet._train_config(None, "accuracy").progress is False
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""                    # no print, nothing on stderr
    monkeypatch.setattr(logging.getLogger(), "handlers", [])     # as in an application that set up no logging
    SequenceTagger(**TINY, max_steps=1).fit(s, t)
    assert capsys.readouterr().err == ""
    loud = SequenceTagger(**TINY, max_steps=1, verbose=True)
    loud.fit(s, t)
    captured = capsys.readouterr()
    assert captured.out == "" and "holding out 2 of the training sentences" in captured.err
    assert "tagger: 18 sentences" in captured.err
    assert loud._train_config(None, "accuracy").progress is True
    assert not logging.getLogger("rnnkit").handlers               # the stderr handler lives only during fit


def test_read_tagger_files_gives_fit_its_data_and_column_goes_into_the_model(tmp_path):
    from rnnkit.models.tagger import read_tagger_files, train_tagger_files
    s, t = toy_corpus(40, 0)
    xpos = [[f"x{g}" for g in tags] for tags in t]
    rows = lambda ss, uu, xx: "\n\n".join(  # noqa: E731
        "\n".join(f"{k + 1}\t{w}\t_\t{u}\t{x}\t_\t0\t_\t_\t_" for k, (w, u, x) in enumerate(zip(a, b, c)))
        for a, b, c in zip(ss, uu, xx)) + "\n"
    train, dev = tmp_path / "train.conllu", tmp_path / "dev.conllu"
    train.write_text(rows(s[:30], t[:30], xpos[:30]), encoding="utf-8")
    dev.write_text(rows(s[30:], t[30:], xpos[30:]), encoding="utf-8")
    (X, y), validation = read_tagger_files(train, dev, column="xpos")
    assert X == s[:30] and y == xpos[:30] and validation == (s[30:], xpos[30:])
    (X, y), validation = read_tagger_files(train)
    assert y == t[:30] and validation is None
    model = tmp_path / "m.safetensors"
    tagger = train_tagger_files(train, dev, model, column="xpos", config=dict(TINY), max_steps=2, progress=False)
    assert tagger.column == "xpos" and tagger.data_format_ == {"column": "xpos"} and tagger.verbose is False
    assert set(tagger.classes_) == {g for tags in xpos for g in tags}
    loaded = rnnkit.load(model)
    assert loaded.column == "xpos" and loaded.read_file(dev)[1] == xpos[30:]
    tagged = [line.split("\t") for line in loaded.tag_file(dev).splitlines() if line]
    assert [row[3] for row in tagged] == [g for tags in t[30:] for g in tags]      # UPOS left as it was
    assert [row[4] for row in tagged] == [g for tags in loaded.predict(s[30:]) for g in tags]


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
    tagger, s, t = fitted()
    s = s[:6] + [["https://a-very-long-address.example/with/a/path/" + "x" * 40, "the"]]
    t = t[:6] + [["NAME", "DET"]]
    table = char_table(s[3:] + s, tagger.char_vocabulary_._index, 30)          # rows in another order, more forms
    direct = tagger.make_batch(s, t)
    cached = tagger.make_batch(s, t, char_table=table)
    for name in ("words", "lengths", "mask", "tags"):
        np.testing.assert_array_equal(getattr(cached, name), getattr(direct, name), err_msg=name)
    for batch in (direct, cached):      # each token's characters, whatever the row order
        assert len(batch.chars) == len({w for sentence in s for w in sentence})
    chars = [b.chars[b.types[b.mask]] for b in (direct, cached)]
    np.testing.assert_array_equal(chars[0][:, :chars[1].shape[1]], chars[1])
    assert direct.chars.shape[1] == cached.chars.shape[1] == 30        # the URL keeps 15 + 15 characters
    assert direct.tags[-1].tolist()[:2] == [tagger.tag_vocabulary_.id_of("NAME"), tagger.tag_vocabulary_.id_of("DET")]
    bare = pad_batch(s, [np.zeros(len(x), np.int64) for x in s], None, None, 30)
    assert bare.tags is None and bare.chars.shape == (0, 1) and not bare.types.any()


def test_word_dropout_probabilities():
    from rnnkit.models.tagger.task import TaggerTask
    tagger, s, t = fitted(word_dropout=0.5)
    w, c, l, counts = build_vocabularies(tagger, s, t)
    assert w.tokens == tagger.word_vocabulary_.tokens
    task = TaggerTask(tagger, s, t, s[:2], t[:2], counts, 4, 0)
    the = tagger.word_vocabulary_.id_of("the")
    assert task.p_unk[0] == task.p_unk[1] == 0.0                    # <PAD>, <UNK>
    alpha = tagger.config_.word_dropout
    assert alpha == 0.5
    assert task.p_unk[the] == pytest.approx(alpha / (alpha + counts["the"]))


def test_learns_ud_english_slice():
    if not (EWT / "en_ewt-ud-train.conllu").exists():
        pytest.skip(f"{EWT} not present (the inline toy-language tests still run)")
    s, t = read_conllu(EWT / "en_ewt-ud-train.conllu")
    ds, dt = read_conllu(EWT / "en_ewt-ud-dev.conllu")
    tagger = SequenceTagger(word_dim=32, char_dim=16, char_hidden_size=16, hidden_size=32, dropout=0.2,
                            max_epochs=4, patience=4, lr=5e-3, batch_size=16, average=0.0)
    tagger.fit(s[:400], t[:400], (ds[:150], dt[:150]))
    result = tagger.evaluate(ds[150:400], dt[150:400])
    # the majority tag (NOUN) gets about 17%; a few epochs on 400 sentences reach well above 70%
    assert result["accuracy"] > 0.7 and result["oov_tokens"] > 0 and result["oov_accuracy"] > 0.4, result


def test_cli_train_tag_evaluate(tmp_path, capsys, caplog):
    s, t = toy_corpus(120, 0)
    rows = lambda ss, tt: "\n\n".join(  # noqa: E731
        "\n".join(f"{k + 1}\t{w}\t_\t{g}\t_\t_\t0\t_\t_\t_" for k, (w, g) in enumerate(zip(a, b)))
        for a, b in zip(ss, tt)) + "\n"
    train, dev = tmp_path / "train.conllu", tmp_path / "dev.conllu"
    train.write_text("# a comment\n" + rows(s[:100], t[:100]), encoding="utf-8")
    dev.write_text(rows(s[100:], t[100:]), encoding="utf-8")
    model = tmp_path / "m.safetensors"
    caplog.set_level(logging.INFO, logger="rnnkit")
    assert cli.main(["train-tagger", str(train), "--validation", str(dev), "--out", str(model), "--word-dim", "8",
                     "--char-hidden-size", "4", "--hidden-size", "8", "--max-epochs", "2"]) == 0
    assert model.exists() and "saved" in caplog.text
    assert cli.main(["evaluate", str(model), str(dev), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert 0 <= metrics["accuracy"] <= 1 and metrics["tokens"] == sum(map(len, s[100:]))
    out = tmp_path / "tagged.conllu"
    assert cli.main(["tag", str(model), str(dev), "--out", str(out)]) == 0
    tagged, _ = read_conllu(out)
    assert tagged == s[100:]
    assert cli.main(["tag", str(model), str(tmp_path / "missing.conllu")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_word_vectors_initialise_the_embeddings(tmp_path, caplog):
    from rnnkit.data.word_vectors import read_word_vectors
    path = tmp_path / "vectors.txt"
    path.write_text("3 5\nthe 1 1 1 1 1\ndog 2 2 2 2 2\nann 3 3 3 3 3\n", encoding="utf-8")   # word2vec header
    s, t = toy_corpus(40, 0)
    with caplog.at_level(logging.INFO, logger="rnnkit"):
        tagger = SequenceTagger(**TINY, max_steps=1, word_vectors=path).fit(s, t)
    messages = [r.getMessage() for r in caplog.records if r.name == "rnnkit"]
    assert any("for 3 of 16 words" in m for m in messages), messages     # the, dog, and Ann via ann
    row = tagger.word_vocabulary_.id_of("the")
    assert np.abs(tagger.params["words.E"][row] - 1).max() < 0.1        # one Adam step from the vector
    assert not tagger.params["words.E"][0].any()                        # <PAD> stays zero
    assert read_word_vectors(path, ["Ann"])["ann"].tolist() == [3.0] * 5     # lowercase forms are kept
    (tmp_path / "bad.txt").write_text("the 1 2 3\ndog 1 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected 3 numbers after the word, got 2"):
        read_word_vectors(tmp_path / "bad.txt")
    (tmp_path / "three.txt").write_text("the 1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="set word_dim=3"):
        SequenceTagger(**TINY, max_epochs=1, word_vectors=tmp_path / "three.txt").fit(s, t)


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
