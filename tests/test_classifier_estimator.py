"""SequenceClassifier as an estimator: scikit-learn's contract and tools, validation data, out,
the ensemble checkpoint and resume, Ctrl-C, messages, files of the earlier format, reports."""
import logging
import os
import signal

import numpy as np
import pytest

import rnnkit
from rnnkit._types import prefixed
from rnnkit.estimator import NotFittedError
from rnnkit.io import load_model_file, save_model_file
from rnnkit.models.classifier import SequenceClassifier, fit_file, write_reports
from rnnkit.models.classifier import estimator as estimator_module
from rnnkit.models.classifier.task import ClassificationTask

TINY = dict(hidden_size=4, n_models=1, max_epochs=3, patience=3, frame=1)


def ramps(n=24, T=12, seed=0):
    """A padded (n, T, 2) array of rising and falling noisy ramps, labels "up" / "down"."""
    rng = np.random.default_rng(seed)
    slope = np.where(np.arange(n) % 2, 1.0, -1.0)
    X = np.stack([slope[:, None] * np.linspace(0, 1, T), rng.normal(size=(n, T))], axis=2)
    return X + 0.3 * rng.normal(size=X.shape), np.where(slope > 0, "up", "down")


def variable(n=16, seed=0):
    """Variable-length series with a median of 40 steps, so frame="auto" tries two framings."""
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(38 + i % 5, 2)) + (i % 2) * np.linspace(0, 1, 38 + i % 5)[:, None] for i in range(n)]
    return X, [i % 2 for i in range(n)]


# -- scikit-learn ------------------------------------------------------------------------------
def test_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import (check_get_params_invariance, check_no_attributes_set_in_init,
                                                check_set_params)
    for est in (SequenceClassifier(), SequenceClassifier(hidden_size=8, class_weight="balanced", out="m.safetensors")):
        check_get_params_invariance("SequenceClassifier", est)
        check_set_params("SequenceClassifier", est)
        check_no_attributes_set_in_init("SequenceClassifier", est)
    assert set(vars(SequenceClassifier())) == set(SequenceClassifier._param_names())   # nothing else in __init__


def test_clone_cross_val_score_and_grid_search_on_padded_arrays():
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
    X, y = ramps()
    est = SequenceClassifier(**TINY)
    copy = clone(est)
    assert copy is not est and copy.get_params() == est.get_params() and is_classifier(est)
    scores = cross_val_score(est, X, y, cv=StratifiedKFold(3))
    assert scores.shape == (3,) and np.all((0 <= scores) & (scores <= 1))
    assert not hasattr(est, "classes_")                                   # folds fit clones
    search = GridSearchCV(est, {"hidden_size": [2, 4]}, cv=StratifiedKFold(2)).fit(X, y)
    assert [p["hidden_size"] for p in search.cv_results_["params"]] == [2, 4]
    assert search.best_estimator_.hidden_size == search.best_params_["hidden_size"]
    best = search.best_estimator_
    assert best.networks_[0].rnn.params["layers.0.fwd.Wh"].shape[0] == search.best_params_["hidden_size"]
    assert search.predict(X).tolist() == search.best_estimator_.predict(X).tolist()


def test_fitted_state_lives_in_underscored_attributes_and_a_refit_starts_afresh():
    X, y = ramps()
    est = SequenceClassifier(**TINY)
    before = dict(vars(est))
    est.fit(X, y)
    assert {k: v for k, v in vars(est).items() if not k.endswith("_")} == before   # hyperparameters untouched
    assert isinstance(est.classes_, np.ndarray) and est.n_features_in_ == 2 and len(est.history_) >= 1
    est.fit(["good film", "bad film", "good one", "bad one"], [1, 0, 1, 0])        # now tokens
    assert est.input_kind_ == "tokens" and not hasattr(est, "n_features_in_") and not hasattr(est, "mean_")
    with pytest.raises(NotFittedError):
        SequenceClassifier().predict_proba(X)


def test_classes_keep_their_type():
    X, y = ramps(12)
    assert SequenceClassifier(**TINY).fit(X, (y == "up").astype(int)).predict(X).dtype.kind == "i"
    mixed = SequenceClassifier(**TINY).fit(X, [1 if v == "up" else "1" for v in y])
    assert mixed.classes_.dtype == object and mixed.classes_.tolist() == [1, "1"]   # int sorts before str


# -- validation data, max_steps, out -----------------------------------------------------------
def test_validation_data_replaces_each_networks_split(monkeypatch):
    X, y = ramps(24)
    Xv, yv = ramps(10, seed=3)
    seen = []
    real = estimator_module.train_network

    def spy(net, x, lengths, target, **options):
        seen.append((len(target), options["validation"]))
        return real(net, x, lengths, target, **options)

    monkeypatch.setattr(estimator_module, "train_network", spy)
    clf = SequenceClassifier(**{**TINY, "n_models": 2}).fit(X, y, validation=(Xv, yv))
    assert [n for n, _ in seen] == [24, 24]                                      # every case trains
    assert all(len(v.y) == 10 and v.y.tolist() == (yv == "up").astype(int).tolist() for _, v in seen)
    assert all(round(r["val_accuracy"] * 10, 6).is_integer() for r in clf.history_)   # scored on the 10
    # with lengths: the validation cases are cut to them
    lengths = np.full(10, 6)
    SequenceClassifier(**TINY).fit(X, y, validation=(Xv, yv, lengths))
    assert seen[-1][1].lengths.tolist() == [6] * 10
    seen.clear()
    SequenceClassifier(**TINY).fit(X, y)
    assert seen[0] == (24, None)                                           # its own split otherwise


@pytest.mark.parametrize("validation, message", [
    ("abc", "validation must be \\(X_val, y_val\\) or \\(X_val, y_val, lengths_val\\), got str"),
    ((np.ones((2, 4, 2)),), "got tuple of length 1"),
    ((np.ones((2, 4, 2)), ["up", "sideways"]), "label 'sideways' is not a class of y"),
    ((np.ones((2, 4, 3)), ["up", "down"]), "X has 2 channel\\(s\\), the validation sequences 3"),
    ((["a b", "c"], ["up", "down"]), "X holds features, the validation data tokens"),
    ((np.ones((2, 4, 2)), ["up"]), "X has 2 sequences, y has 1 labels"),
])
def test_bad_validation_data(validation, message):
    with pytest.raises(ValueError, match=message):
        SequenceClassifier(**TINY).fit(*ramps(8), validation=validation)


def test_max_steps_caps_every_network():
    clf = SequenceClassifier(**{**TINY, "n_models": 2, "max_epochs": 50, "max_steps": 2}).fit(*ramps(40))
    assert [max(r["step"] for r in clf.history_ if r["model"] == m) for m in range(2)] == [2, 2]


def test_out_is_checked_before_training(tmp_path, monkeypatch):
    monkeypatch.setattr(estimator_module, "train_network", lambda *a, **k: pytest.fail("trained"))
    X, y = ramps(8)
    with pytest.raises(ValueError, match=f"out '{tmp_path}' is a directory"):
        SequenceClassifier(**TINY, out=tmp_path).fit(X, y)
    missing = tmp_path / "nowhere" / "m.safetensors"
    with pytest.raises(ValueError, match="the directory .*nowhere' does not exist"):
        SequenceClassifier(**TINY, out=missing).fit(X, y)
    with pytest.raises(ValueError, match="resume=True .* but out is None"):
        SequenceClassifier(**TINY, resume=True).fit(X, y)
    with pytest.raises(FileNotFoundError, match="resume: no checkpoint at .*m.safetensors.ckpt"):
        SequenceClassifier(**TINY, out=tmp_path / "m.safetensors", resume=True).fit(X, y)
    assert os.listdir(tmp_path) == []


def test_out_writes_the_model_history_plot_and_checkpoint(tmp_path):
    X, y = ramps()
    out = tmp_path / "m.safetensors"
    clf = SequenceClassifier(**{**TINY, "n_models": 2}, out=out).fit(X, y)
    np.testing.assert_array_equal(rnnkit.load(out).predict_proba(X), clf.predict_proba(X))
    for suffix in (".history.csv", ".loss.png", ".ckpt"):
        assert os.path.getsize(f"{out}{suffix}") > 0, suffix
    assert open(f"{out}.history.csv").readline().startswith("model,frame,frame_stride,step")
    _, metadata = load_model_file(f"{out}.ckpt")
    assert metadata["kind"] == "checkpoint" and [e["networks"] for e in metadata["ensemble"]] == [2]
    assert "out" not in load_model_file(out)[1]["params"]                # where a run wrote is not the model
    with pytest.raises(rnnkit.io.ModelFileError, match="a training checkpoint"):
        rnnkit.load(f"{out}.ckpt")
    # NumPy hyperparameters (as from a grid of np.arange) describe the same run
    same = SequenceClassifier(**{**TINY, "n_models": 2, "hidden_size": np.int64(4)}, out=out, resume=True).fit(X, y)
    np.testing.assert_array_equal(same.predict_proba(X), clf.predict_proba(X))


# -- checkpoint, resume, Ctrl-C ----------------------------------------------------------------
def interrupt_network(monkeypatch, which: int):
    """Send SIGINT (a Ctrl-C) during the second step of the ``which``-th network trained (0-based);
    returns the list of networks started, each a list of the steps it took."""
    started = []
    init, step = ClassificationTask.__init__, ClassificationTask.train_step

    def counting_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.number = len(started)
        started.append([])

    def train_step(self, k, rng):
        started[self.number].append(k)
        if self.number == which and k == 1:
            os.kill(os.getpid(), signal.SIGINT)
        return step(self, k, rng)

    monkeypatch.setattr(ClassificationTask, "__init__", counting_init)
    monkeypatch.setattr(ClassificationTask, "train_step", train_step)
    return started


@pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name == "nt", reason="needs POSIX signals")
def test_ctrl_c_stops_the_ensemble_and_resume_equals_an_uninterrupted_fit(tmp_path, monkeypatch, caplog):
    X, y = variable()
    options = dict(hidden_size=4, n_models=2, max_epochs=4, patience=4, dropout=0.2, augment="jitter")
    straight = SequenceClassifier(**options, out=tmp_path / "a.safetensors").fit(X, y)
    assert list(straight.framing_losses_) == [(1, 1), (20, 5)]           # two framings of two networks

    started = interrupt_network(monkeypatch, which=2)                    # the second framing's first network
    with caplog.at_level(logging.WARNING, logger="rnnkit"):
        cut = SequenceClassifier(**options, out=tmp_path / "b.safetensors").fit(X, y)
    assert len(started) == 3 and len(started[2]) == 2                    # stopped there, nothing trained after
    assert "interrupted" in caplog.text and "resume=True" in caplog.text
    assert list(cut.framing_losses_) == [(1, 1), (20, 5)] and os.path.exists(tmp_path / "b.safetensors")
    _, metadata = load_model_file(tmp_path / "b.safetensors.ckpt")
    assert [e["networks"] for e in metadata["ensemble"]] == [2]           # the finished networks only

    monkeypatch.undo()
    started = interrupt_network(monkeypatch, which=-1)                   # count, never interrupt
    resumed = SequenceClassifier(**options, out=tmp_path / "b.safetensors", resume=True).fit(X, y)
    assert len(started) == 2                                             # only the second framing's networks
    assert resumed.framing_losses_ == straight.framing_losses_
    assert (resumed.frame_, resumed.frame_stride_) == (straight.frame_, straight.frame_stride_)
    assert [r["val_loss"] for r in resumed.history_] == [r["val_loss"] for r in straight.history_]
    for a, b in zip(resumed.networks_, straight.networks_):
        for k in a.params:
            np.testing.assert_array_equal(a.params[k], b.params[k])
    np.testing.assert_array_equal(resumed.predict_proba(X), straight.predict_proba(X))

    started.clear()                                                      # a finished run resumes to itself
    again = SequenceClassifier(**options, out=tmp_path / "b.safetensors", resume=True).fit(X, y)
    assert started == [] and np.array_equal(again.predict_proba(X), straight.predict_proba(X))
    with pytest.raises(ValueError, match="different model or data"):
        SequenceClassifier(**{**options, "hidden_size": 5}, out=tmp_path / "b.safetensors", resume=True).fit(X, y)
    with pytest.raises(ValueError, match="different model or data"):
        SequenceClassifier(**options, out=tmp_path / "b.safetensors", resume=True).fit(X[:-2], y[:-2])


# -- messages --------------------------------------------------------------------------------
def test_evaluations_are_debug_lines_networks_and_framings_info(caplog, monkeypatch):
    bars = []
    monkeypatch.setattr(rnnkit.train, "_progress_bar", lambda enabled, total, initial: bars.append(enabled))
    X, y = variable()
    with caplog.at_level(logging.DEBUG, logger="rnnkit"):
        SequenceClassifier(hidden_size=4, n_models=2, max_epochs=3, verbose=True).fit(X, y)
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert sum(m.startswith("network ") for m in info) == 4 and len(info) == 7, info   # + 2 framings + kept
    assert any(m.startswith("frames of 20 every 5 steps: mean validation loss") for m in info)
    assert any(m.startswith("kept frames of") for m in info)
    assert sum(m.startswith("step ") for m in debug) >= 4 and not any(m.startswith("step ") for m in info)
    assert bars == [True] * 4
    bars.clear()
    SequenceClassifier(hidden_size=4, n_models=2, max_epochs=1, frame=1).fit(X, y)
    assert bars == [False, False]                                        # the bar follows verbose


def test_verbose_shows_messages_on_stderr_when_logging_is_not_configured(capsys, monkeypatch):
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])                            # as in a plain script
    SequenceClassifier(**TINY, verbose=True).fit(*ramps(12))
    err = capsys.readouterr().err
    assert "network 1/1 (frames of 1 every 1 steps): " in err and "\nstep " not in err
    SequenceClassifier(**TINY).fit(*ramps(12))
    assert capsys.readouterr().err == ""


# -- files -------------------------------------------------------------------------------------
def old_save(model, path, data_format=None, data_options=None, position=True):
    """A model file as the code before the estimator rewrite wrote it (its save(), line for line):
    the old hyperparameters only, classes as a list, ``data_format``/``data_options`` keys; with
    ``position=False`` as files from before the position option."""
    old_params = ("cell hidden_size num_layers bidirectional pooling dropout embedding_dim min_count lowercase "
                  "normalize derivatives frame frame_stride augment position class_weight n_models lr weight_decay "
                  "batch_size max_epochs patience lr_decay average val_fraction max_minutes seed verbose").split()
    arrays = {}
    for m, net in enumerate(model.networks_):
        arrays.update(prefixed(f"networks.{m}", net.params))
    fitted = {"classes": list(model.classes_.tolist()), "input_kind": model.input_kind_,
              "n_networks": len(model.networks_)}
    if model.input_kind_ == "tokens":
        fitted["vocab"] = model.vocab_.to_dict()
    else:
        fitted.update(n_channels=model.n_channels_, frame=model.frame_, frame_stride=model.frame_stride_)
        if position:
            fitted["position"] = model.position_
        arrays["scaler.mean"], arrays["scaler.std"] = model.mean_, model.std_
    metadata = {"kind": model.kind, "params": {k: getattr(model, k) for k in old_params}, "fitted": fitted,
                "data_format": data_format, "data_options": data_options or {}}
    save_model_file(path, arrays, metadata)


def test_files_of_the_earlier_format_still_load(tmp_path):
    X, y = ramps()
    clf = SequenceClassifier(**{**TINY, "n_models": 2}).fit(X, y)
    old_save(clf, tmp_path / "old.safetensors", "ts", {})
    loaded = rnnkit.load(tmp_path / "old.safetensors")
    assert isinstance(loaded.classes_, np.ndarray) and loaded.classes_.tolist() == ["down", "up"]
    assert loaded.data_format_ == "ts" and loaded.n_features_in_ == 2
    assert loaded.max_steps is None and loaded.out is None and loaded.resume is False   # new ones at defaults
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    old_save(clf, tmp_path / "older.safetensors", position=False)
    assert rnnkit.load(tmp_path / "older.safetensors").position_ is False
    text = SequenceClassifier(**TINY).fit(["good one", "bad one", "very good", "very bad"], ["p", "n", "p", "n"])
    old_save(text, tmp_path / "text.safetensors", "text")
    assert rnnkit.load(tmp_path / "text.safetensors").predict(["good"]).tolist() == text.predict(["good"]).tolist()


def write_ts(path, X, y):
    lines = ["@problemName Ramps", "@univariate false", "@dimensions 2", "@equalLength true",
             "@classLabel true down up", "@data"]
    lines += [":".join(",".join(f"{v:.6f}" for v in x[:, d]) for d in range(2)) + f":{label}" for x, label in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")


def test_fit_file_remembers_the_format_and_write_reports_plots_each_network(tmp_path, monkeypatch):
    from rnnkit import plots
    X, y = ramps(30)
    write_ts(tmp_path / "train.ts", X[:20], y[:20])
    write_ts(tmp_path / "dev.ts", X[20:], y[20:])
    out = tmp_path / "m.safetensors"
    clf = fit_file(SequenceClassifier(**{**TINY, "n_models": 3}, out=out), tmp_path / "train.ts",
                   validation=tmp_path / "dev.ts")
    assert clf.data_format_ == "ts" and rnnkit.load(out).data_format_ == "ts"   # saved again with it
    assert all(round(r["val_accuracy"] * 10, 6).is_integer() for r in clf.history_)   # the 10 dev cases
    figures = []
    monkeypatch.setattr(plots.plt, "close", figures.append)
    metrics = clf.evaluate_file(tmp_path / "dev.ts")
    write_reports(clf, out, metrics, tmp_path / "dev.ts")
    loss, confusion = figures
    lines = loss.axes[0].get_lines()
    assert len(lines) == 6 and [t.get_text() for t in loss.axes[0].get_legend().get_texts()] == [
        "network 1", "network 2", "network 3"]                               # validation solid, training dotted
    assert "dev.ts: accuracy" in confusion.axes[0].get_title()
    assert os.path.getsize(f"{out}.confusion.png") > 0
