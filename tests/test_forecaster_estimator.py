"""Forecaster as an estimator: scikit-learn's contract and tools (a sample is a series), validation
series, many series as an (N, T, D) array, out, messages, files of the earlier format, CSV files."""
import logging
import os

import numpy as np
import pytest

import rnnkit
from rnnkit.estimator import NotFittedError
from rnnkit.io import load_model_file, save_model_file
from rnnkit.models.forecaster import Forecaster, fit_csv
from rnnkit.models.forecaster import estimator as estimator_module

TINY = dict(lookback=8, hidden_size=4, n_models=1, max_epochs=3, patience=3)


def sines(n=6, T=60, seed=0):
    """An (n, T, 1) array: n noisy sines of period 12 with different phases."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    clean = np.sin(2 * np.pi * (t[None, :] + 3 * np.arange(n)[:, None]) / 12)
    return (clean + 0.1 * rng.normal(size=(n, T)))[..., None]


# -- scikit-learn ------------------------------------------------------------------------------
def test_scikit_learn_estimator_checks():
    from sklearn.utils.estimator_checks import (check_get_params_invariance, check_no_attributes_set_in_init,
                                                check_set_params)
    for est in (Forecaster(), Forecaster(lookback=12, scaling="minmax", out="f.safetensors")):
        check_get_params_invariance("Forecaster", est)
        check_set_params("Forecaster", est)
        check_no_attributes_set_in_init("Forecaster", est)
    assert set(vars(Forecaster())) == set(Forecaster._param_names())        # nothing else in __init__


def test_clone_cross_val_score_and_grid_search_over_series():
    """A sample is a series, y is None: KFold splits the (N, T, D) array's series, score is R^2."""
    from sklearn.base import clone, is_regressor
    from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
    from sklearn.utils import get_tags
    X = sines()
    est = Forecaster(**TINY)
    assert is_regressor(est) and not get_tags(est).target_tags.required
    copy = clone(est)
    assert copy is not est and copy.get_params() == est.get_params()
    scores = cross_val_score(est, X, cv=KFold(3))
    assert scores.shape == (3,) and np.all(np.isfinite(scores)) and np.all(scores <= 1)
    assert not hasattr(est, "ensemble_")
    search = GridSearchCV(est, {"hidden_size": [2, 4]}, cv=KFold(2)).fit(X)
    assert [p["hidden_size"] for p in search.cv_results_["params"]] == [2, 4]
    best = search.best_estimator_
    assert best.hidden_size == search.best_params_["hidden_size"] and best.n_features_in_ == 1
    assert best.ensemble_.members[0].params["head.W"].shape[0] == best.hidden_size
    np.testing.assert_allclose(search.score(X), best.score(X))
    # a list of series works the same way
    assert cross_val_score(est, list(X[:, :, 0]), cv=KFold(2)).shape == (2,)


def test_many_series_as_an_array_and_a_pooled_score():
    X = sines()
    model = Forecaster(**TINY).fit(X[:4])
    forecast = model.predict(X[4:], horizon=3)
    assert isinstance(forecast, np.ndarray) and forecast.shape == (2, 3, 1)
    np.testing.assert_allclose(forecast[1], model.predict(X[5], horizon=3), rtol=1e-6)   # float32, batched
    each = [model.rolling_forecast(s)[:2] for s in X[4:]]
    f, a = (np.concatenate(p) for p in zip(*each))
    np.testing.assert_allclose(model.score(X[4:]), 1 - np.sum((a - f) ** 2) / np.sum((a - a.mean()) ** 2))
    assert model.score(X[4]) == pytest.approx(model.score(X[4:5]))
    with pytest.raises(ValueError, match="Forecaster.score: y must be None"):
        model.score(X[4:], X[4:])


def test_fitted_state_lives_in_underscored_attributes():
    est = Forecaster(**TINY)
    before = dict(vars(est))
    est.fit(sines()[0])
    assert {k: v for k, v in vars(est).items() if not k.endswith("_")} == before
    assert est.n_features_in_ == 1 and est.univariate_ is False and len(est.history_) >= 1
    for call in (lambda m: m.predict(np.ones(50)), lambda m: m.score(np.ones(50)), lambda m: m.save("x")):
        with pytest.raises(NotFittedError, match="Forecaster.* is not fitted yet"):
            call(Forecaster())


# -- validation series, max_steps, out ---------------------------------------------------------
def test_validation_series_early_stop_and_training_uses_the_series_whole(monkeypatch):
    X = sines(3)
    seen = {}
    real = estimator_module.ForecastTask

    def spy(ensemble, x, y, x_val, y_val, batch_size, seed):
        seen.update(x=x, x_val=x_val)
        return real(ensemble, x, y, x_val, y_val, batch_size, seed)

    monkeypatch.setattr(estimator_module, "ForecastTask", spy)
    model = Forecaster(**TINY).fit(X[0], validation=[X[1], X[2]])
    assert len(seen["x"]) == 60 - 8 and len(seen["x_val"]) == 2 * (60 - 8)     # every window of each
    np.testing.assert_allclose(model.scaler_.offset, X[0].mean(0))             # scaled on all of it
    Forecaster(**TINY).fit(X[0])
    n_val = round(0.2 * 60)
    assert len(seen["x"]) == 60 - n_val - 8 and len(seen["x_val"]) == n_val    # the held-out tail otherwise
    with pytest.raises(ValueError, match="validation series too short \\(the longest has 5 steps\\) for lookback 8"):
        Forecaster(**TINY).fit(X[0], validation=X[1, :5])
    with pytest.raises(ValueError, match="Forecaster.fit \\(validation\\): the series has 2 channel"):
        Forecaster(**TINY).fit(X[0], validation=np.ones((30, 2)))


def test_max_steps_caps_training():
    model = Forecaster(**{**TINY, "max_epochs": 50}, max_steps=3).fit(sines()[0])
    assert model.history_[-1]["step"] == 3


def test_out_is_checked_before_training(tmp_path, monkeypatch):
    monkeypatch.setattr(estimator_module, "Trainer", lambda *a, **k: pytest.fail("trained"))
    y = sines()[0]
    with pytest.raises(ValueError, match=f"out '{tmp_path}' is a directory"):
        Forecaster(**TINY, out=tmp_path).fit(y)
    with pytest.raises(ValueError, match="the directory .*nowhere' does not exist"):
        Forecaster(**TINY, out=tmp_path / "nowhere" / "f.safetensors").fit(y)
    with pytest.raises(ValueError, match="resume=True .* but out is None"):
        Forecaster(**TINY, resume=True).fit(y)
    assert os.listdir(tmp_path) == []


def test_out_writes_the_model_and_trainer_files(tmp_path):
    y = sines()[0]
    out = tmp_path / "f.safetensors"
    model = Forecaster(**TINY, out=out).fit(y)
    for suffix in ("", ".history.csv", ".loss.png", ".ckpt"):
        assert os.path.getsize(f"{out}{suffix}") > 0, suffix
    np.testing.assert_array_equal(rnnkit.load(out).predict(y, 4), model.predict(y, 4))
    params = load_model_file(out)[1]["params"]
    assert "out" not in params and "resume" not in params and params["max_steps"] is None
    # NumPy hyperparameters (as from a grid of np.arange) describe the same run to resume
    again = Forecaster(**{**TINY, "hidden_size": np.int64(4)}, out=out, resume=True).fit(y)
    assert [r["val_loss"] for r in again.history_] == [r["val_loss"] for r in model.history_]


# -- messages --------------------------------------------------------------------------------
def test_evaluation_lines_are_debug_and_the_bar_follows_verbose(caplog, monkeypatch):
    bars = []
    monkeypatch.setattr(rnnkit.train, "_progress_bar", lambda enabled, total, initial: bars.append(enabled))
    with caplog.at_level(logging.DEBUG, logger="rnnkit"):
        Forecaster(**TINY, verbose=True).fit(sines()[0])
    info = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(info) == 2 and info[0].startswith("forecaster: 1 series") and info[1].startswith("stopped (")
    assert sum(m.startswith("step ") for m in debug) == 3
    Forecaster(**TINY).fit(sines()[0])
    assert bars == [True, False]


# -- files -------------------------------------------------------------------------------------
def old_metadata(model, columns=None, csv_options=None) -> dict:
    """Metadata as the code before the estimator rewrite wrote it: the hyperparameters under
    ``"config"`` (ForecasterConfig's fields: no verbose, out, resume or max_steps)."""
    config = {k: getattr(model, k) for k in (
        "lookback horizon strategy cell hidden_size num_layers bidirectional dropout frame linear subtract_last "
        "scaling n_models season lr lr_decay batch_size max_epochs patience val_fraction max_minutes seed").split()}
    return {"kind": model.kind, "config": config, "lookback": model.lookback_,
            "frame": model.frame_, "n_channels": model.n_channels_, "univariate": model.univariate_,
            "scaler": model.scaler_.to_dict(), "naive_scale": np.asarray(model.naive_scale_).tolist(),
            "columns": columns, "csv_options": csv_options, "dtype": model.ensemble_.members[0].dtype.name}


def test_files_of_the_earlier_format_still_load(tmp_path):
    y = sines()[0, :, 0]
    model = Forecaster(**{**TINY, "horizon": 2, "n_models": 2}).fit(y)
    path = tmp_path / "old.safetensors"
    save_model_file(path, model.ensemble_.params, old_metadata(model, ["value"], {"columns": ["value"]}))
    loaded = rnnkit.load(path)
    assert loaded.columns_ == ["value"] and loaded.n_features_in_ == 1 and loaded.univariate_
    assert {k: v for k, v in loaded.get_params().items() if k != "verbose"} == {
        k: v for k, v in model.get_params().items() if k != "verbose"}
    np.testing.assert_array_equal(loaded.predict(y, 5), model.predict(y, 5))
    np.testing.assert_array_equal(loaded.scaler_.offset, model.scaler_.offset)
    np.testing.assert_array_equal(loaded.scaler_.scale, model.scaler_.scale)


def test_fit_csv_remembers_the_columns_and_saves_them(tmp_path):
    X = sines(2)
    for i in range(2):
        (tmp_path / f"s{i}.csv").write_text("t,a,b\n" + "".join(f"{t},{v},{2 * v}\n" for t, v in enumerate(X[i, :, 0])))
    out = tmp_path / "f.safetensors"
    model = fit_csv(Forecaster(**TINY, out=out), tmp_path / "s0.csv", validation=tmp_path / "s1.csv", columns=["b"])
    assert model.columns_ == ["b"] and model.csv_options_ == {"columns": ["b"]} and model.n_features_in_ == 1
    loaded = rnnkit.load(out)
    assert loaded.columns_ == ["b"] and loaded.evaluate_file(tmp_path / "s1.csv") == model.evaluate(2 * X[1, :, 0])
    (tmp_path / "other.csv").write_text("t,c\n" + "".join(f"{t},{t}\n" for t in range(60)))
    with pytest.raises(ValueError, match="other.csv: columns \\['c'\\] differ from \\['a', 'b'\\]"):
        fit_csv(Forecaster(**TINY), tmp_path / "s0.csv", validation=tmp_path / "other.csv")
