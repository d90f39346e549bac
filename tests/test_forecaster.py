"""Forecaster: gradients and PyTorch parity of its network, learning, strategies, scaling, files, CLI."""
import json
from pathlib import Path

import numpy as np
import pytest

import rnnkit
from rnnkit.cli import main
from rnnkit.gradcheck import gradcheck
from rnnkit.io import ModelFileError, load_model_file, save_model_file
from rnnkit.losses import mse
from rnnkit.models.forecaster import Forecaster
from rnnkit.models.forecaster.network import ForecastEnsemble, ForecastNetwork
from rnnkit.models.forecaster.inputs import choose_lookback, windows
from rnnkit.models.forecaster.task import ForecastTask

GUNPOINT = Path(__file__).resolve().parents[2] / "shared" / "data" / "ucr_uea" / "GunPoint" / "GunPoint_TRAIN.ts"
SMALL = dict(hidden_size=12, n_models=2, max_epochs=25, patience=8, batch_size=32)


def noisy_sine(n=320, period=20, noise=0.1, seed=0):
    t = np.arange(n)
    return np.sin(2 * np.pi * t / period) + noise * np.random.default_rng(seed).normal(size=n)


def ar2(n=400, seed=0, sigma=0.5):
    """x_t = 0.6 x_{t-1} - 0.5 x_{t-2} + e_t. The best one-step forecast errs by sigma; the naive one
    by sqrt(2 (1 - rho_1) var x) = 1.38 sigma (rho_1 = 0.6 / 1.5, var x = 1.59 sigma^2)."""
    rng = np.random.default_rng(seed)
    x = np.zeros(n)
    for t in range(2, n):
        x[t] = 0.6 * x[t - 1] - 0.5 * x[t - 2] + sigma * rng.normal()
    return x


# -- the network -----------------------------------------------------------------------------
@pytest.mark.parametrize("cell, bidirectional, linear, frame", [
    ("lstm", False, True, 1), ("gru", True, True, 2), ("rnn", False, False, 3), ("lstm", True, False, 2)])
def test_network_finite_differences(cell, bidirectional, linear, frame):
    net = ForecastNetwork(3, 2, steps=4, cell=cell, hidden_size=5, num_layers=2, bidirectional=bidirectional,
                          dropout=0.3, lookback=6, linear=linear, frame=frame, seed=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    x, target = rng.normal(size=(3, 6, 3)), rng.normal(size=(3, 4, 2))

    def loss():
        return mse(net.forward(x, training=True, rng=np.random.default_rng(7))[0], target, reduction="sum")[0]

    y, cache = net.forward(x, training=True, rng=np.random.default_rng(7))
    dx, grads = net.backward(mse(y, target, reduction="sum")[1], cache)
    assert sorted(grads) == sorted(net.params) and all(np.abs(g).sum() > 0 for g in grads.values())
    errors = gradcheck(loss, {**net.params, "x": x}, {**grads, "x": dx}, max_entries=40)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("bidirectional", [False, True])
def test_network_matches_torch(bidirectional):
    torch = pytest.importorskip("torch")
    B, L, D, H, K = 4, 6, 2, 5, 3
    net = ForecastNetwork(D, D, steps=K, hidden_size=H, num_layers=2, bidirectional=bidirectional, lookback=L,
                          linear=True, seed=0, dtype=np.float64)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(D, H, 2, batch_first=True, bidirectional=bidirectional).double()
    head, linear = torch.nn.Linear(H * (1 + bidirectional), K * D).double(), torch.nn.Linear(L * D, K * D).double()
    rnnkit.interop.from_torch(net.rnn, lstm.state_dict())
    for name, layer in (("head", head), ("linear", linear)):
        net.params[f"{name}.W"][...] = layer.weight.detach().numpy().T
        net.params[f"{name}.b"][...] = layer.bias.detach().numpy()
    x, dy = np.random.default_rng(2).normal(size=(B, L, D)), np.random.default_rng(3).normal(size=(B, K, D))

    xt = torch.tensor(x, requires_grad=True)
    _, (h, _) = lstm(xt)
    top = torch.cat([h[-2], h[-1]], dim=1) if bidirectional else h[-1]
    yt = (head(top) + linear(xt.reshape(B, -1))).reshape(B, K, D)
    (yt * torch.tensor(dy)).sum().backward()

    y, cache = net.forward(x, training=False)
    dx, grads = net.backward(dy, cache)
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-12)
    theirs = rnnkit.interop.to_torch(net.rnn, {k[4:]: v for k, v in grads.items() if k.startswith("rnn.")})
    for name, value in lstm.named_parameters():
        np.testing.assert_allclose(theirs[name], value.grad.numpy(), atol=1e-12, err_msg=name)
    np.testing.assert_allclose(grads["head.W"], head.weight.grad.numpy().T, atol=1e-12)
    np.testing.assert_allclose(grads["linear.W"], linear.weight.grad.numpy().T, atol=1e-12)


def test_task_batches_are_pure_and_members_train_apart():
    ens = ForecastEnsemble(2, seed=0, input_size=1, output_size=1, hidden_size=4, lookback=5, linear=True)
    x, y = windows(noisy_sine(60)[:, None].astype(np.float32), 5, 1)
    task = ForecastTask(ens, x, y, x[:5], y[:5], batch_size=16, seed=3)
    epoch = np.concatenate([task.batch(s, 0) for s in range(task.steps_per_epoch)])
    assert sorted(epoch) == list(range(len(x)))                       # every window once an epoch
    assert not np.array_equal(task.batch(0, 0), task.batch(0, 1))     # members read different orders
    np.testing.assert_array_equal(task.batch(7, 1), task.batch(7, 1))
    loss, grads, _ = task.train_step(0, np.random.default_rng(0))
    assert sorted(grads) == sorted(ens.params)
    # member 1's gradient is its own MSE's gradient alone
    idx = task.batch(0, 1)
    pred, cache = ens.members[1].forward(x[idx], training=False)
    _, own = ens.members[1].backward(mse(pred, y[idx])[1], cache)
    np.testing.assert_allclose(grads["members.1.head.W"], own["head.W"], rtol=1e-5)


def test_windows_never_leak_the_future():
    z = np.arange(10.0)[:, None]
    x, y = windows(z, 3, 2, first_target=6)
    assert x[:, :, 0].tolist() == [[3, 4, 5], [4, 5, 6], [5, 6, 7]] and y[:, :, 0].tolist() == [[6, 7], [7, 8], [8, 9]]


def test_choose_lookback_reads_the_period():
    assert choose_lookback([noisy_sine(400, period=20)[:, None]]) == 40
    trend = np.arange(600) * 0.1 + np.sin(2 * np.pi * np.arange(600) / 12)
    assert choose_lookback([trend[:, None]]) == 24                     # differences remove the trend
    assert choose_lookback([np.random.default_rng(0).normal(size=(500, 1))]) == 16   # no period: fallback
    assert choose_lookback([noisy_sine(40, period=20)[:, None]]) <= 10   # at most a quarter of the series


# -- learning --------------------------------------------------------------------------------
def test_learns_an_ar_process_well_below_naive():
    y = ar2()
    model = Forecaster(lookback=8, **SMALL).fit(y[:300])
    result = model.evaluate(y, start=300)
    assert result["forecasts"] == 100
    assert result["rmse"] < 0.8 * result["naive_rmse"], result
    assert result["rmse"] < 1.12 * 0.5, result                       # near the noise floor sigma = 0.5
    assert model.score(y, start=300) > 0.25                          # R^2 of the best forecast: 1 - 1/1.59


@pytest.mark.parametrize("strategy", ["direct", "recursive"])
def test_multi_step_strategies(strategy):
    y = noisy_sine()
    model = Forecaster(horizon=5, strategy=strategy, **SMALL).fit(y[:260])
    result = model.evaluate(y, start=260)
    assert result["horizon"] == 5 and result["rmse"] < 0.4 * result["naive_rmse"], result
    trained_steps = model.ensemble_.members[0].steps
    assert trained_steps == (5 if strategy == "direct" else 1)
    forecast = model.predict(y[:260])
    assert forecast.shape == (5,)
    longer = model.predict(y[:260], horizon=12)                      # beyond the trained horizon: in blocks
    np.testing.assert_allclose(longer[:5], forecast, rtol=1e-6)
    # feeding the forecast back reproduces the continuation exactly
    k = trained_steps
    np.testing.assert_allclose(model.predict(np.concatenate([y[:260], longer[:k]]), horizon=12 - k), longer[k:],
                               rtol=1e-5, atol=1e-6)


def test_many_multivariate_series():
    # channel 1 leads channel 0 by 3 steps; four series with different phases
    series = [np.stack([noisy_sine(200, seed=s)[3:], noisy_sine(200, seed=s)[:-3]], axis=1)[s * 5:] for s in range(4)]
    model = Forecaster(lookback=12, **SMALL).fit(series[:3])
    assert model.n_channels_ == model.n_features_in_ == 2 and model.predict(series[3]).shape == (1, 2)
    assert [p.shape for p in model.predict(series[:2], horizon=3)] == [(3, 2), (3, 2)]
    result = model.evaluate(series[3])
    assert result["rmse"] < 0.7 * result["naive_rmse"], result


def test_learns_many_real_series():
    """GunPoint hand positions (real, from ../shared): train on 20 series, forecast 10 others."""
    if not GUNPOINT.exists():
        pytest.skip("../shared/data/ucr_uea is absent")
    lines = [l for l in GUNPOINT.read_text().splitlines() if l and l[0] not in "#@"]
    series = [np.array(l.rsplit(":", 1)[0].split(","), dtype=float) for l in lines[:30]]
    model = Forecaster(lookback=16, **SMALL).fit(series[:20])
    for s in series[20:]:
        result = model.evaluate(s)
        assert result["rmse"] < 0.8 * result["naive_rmse"], result


def test_scaling_is_fitted_on_training_data_stored_and_applied():
    y = noisy_sine(240)
    a, b = 1000.0, 50.0
    small = Forecaster(lookback=10, **SMALL).fit(y)
    big = Forecaster(lookback=10, **SMALL).fit(a + b * y)
    n_train = 240 - round(0.2 * 240)
    np.testing.assert_allclose(big.scaler_.offset, [a + b * y[:n_train].mean()])
    np.testing.assert_allclose(big.scaler_.scale, [b * y[:n_train].std()])
    # standard scaling makes both problems the same, so forecasts map by the same affine map
    np.testing.assert_allclose(big.predict(a + b * y, 4), a + b * small.predict(y, 4), rtol=0, atol=b * 1e-3)
    assert Forecaster(scaling="minmax", lookback=10, **SMALL).fit(y).scaler_.scale[0] == pytest.approx(np.ptp(y[:n_train]))


def test_save_load_round_trip(tmp_path):
    y = noisy_sine(200)
    model = Forecaster(lookback=10, horizon=3, **SMALL).fit(y)
    path = tmp_path / "f.safetensors"
    model.save(path)
    loaded = rnnkit.load(path)
    assert isinstance(loaded, Forecaster) and loaded.get_params() == model.get_params()
    assert Forecaster().set_params(**model.get_params()).get_params() == model.get_params()
    np.testing.assert_array_equal(loaded.predict(y, 7), model.predict(y, 7))
    np.testing.assert_array_equal(loaded.scaler_.offset, model.scaler_.offset)
    arrays, metadata = load_model_file(path)
    arrays.pop(next(iter(arrays)))
    save_model_file(tmp_path / "broken.safetensors", arrays, metadata)
    with pytest.raises(ModelFileError, match="broken.safetensors: not a valid forecaster file"):
        rnnkit.load(tmp_path / "broken.safetensors")


def test_resume_continues_exactly(tmp_path):
    y = noisy_sine(160)
    options = dict(lookback=8, hidden_size=6, n_models=2, dropout=0.2, num_layers=2)
    straight = Forecaster(max_epochs=4, out=tmp_path / "a.safetensors", **options).fit(y)
    Forecaster(max_epochs=2, out=tmp_path / "b.safetensors", **options).fit(y)
    resumed = Forecaster(max_epochs=4, out=tmp_path / "b.safetensors", resume=True, **options).fit(y)
    assert [row["val_loss"] for row in resumed.history_] == [row["val_loss"] for row in straight.history_]
    np.testing.assert_array_equal(resumed.predict(y, 3), straight.predict(y, 3))


@pytest.mark.parametrize("call, message", [
    (lambda: Forecaster(strategy="magic").fit(noisy_sine()), "strategy must be one of ('direct', 'recursive'), got 'magic'"),
    (lambda: Forecaster(horizon=0).fit(noisy_sine()), "horizon must be a positive int, got 0"),
    (lambda: Forecaster(frame=1.5).fit(noisy_sine()), "frame must be a positive int or auto, got 1.5"),
    (lambda: Forecaster(val_fraction=0.7).fit(noisy_sine()), "val_fraction must lie in (0, 0.5), got 0.7"),
    (lambda: Forecaster(max_steps=0).fit(noisy_sine()), "max_steps must be a positive int, got 0"),
    (lambda: Forecaster().predict(np.ones(50)), "Forecaster.predict: this Forecaster is not fitted yet; call fit() first"),
    (lambda: Forecaster(lookback=10).fit(np.ones(12)), "series too short (the shortest has 12 steps)"),
    (lambda: Forecaster().fit(np.array([1.0, np.nan, 3.0] * 20)), "the series has a missing or infinite value at step 1"),
    (lambda: Forecaster().fit([np.ones((30, 2)), np.ones((30, 3))]), "series 1 has 3 channel(s), expected 2"),
    (lambda: Forecaster().fit(np.ones((2, 3, 4, 5))), "the series must be (T,) or (T, D) (many series: a list of "
                                                        "them or an (N, T, D) array), got shape (2, 3, 4, 5)"),
    (lambda: Forecaster(lookback=4).fit(np.ones((2, 3, 4))), "series too short (the shortest has 3 steps)"),  # 2 series
    (lambda: Forecaster().fit(["a", "b"]), "series 0 must hold numbers"),
    (lambda: Forecaster().set_params(hiden_size=3), "Forecaster.set_params: unknown parameter 'hiden_size'"),
    (lambda: Forecaster().set_params(scaling="log").fit(noisy_sine()), "scaling must be one of ('standard', 'minmax', 'none')"),
    (lambda: Forecaster().fit(noisy_sine(), noisy_sine()), "y must be None"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises((ValueError, TypeError)) as e:
        call()
    assert message in str(e.value)


def test_bad_history_for_a_fitted_model():
    model = Forecaster(lookback=10, **{**SMALL, "max_epochs": 1}).fit(noisy_sine(100))
    with pytest.raises(ValueError, match="history has 5 steps; the model reads the last lookback_ = 10"):
        model.predict(np.ones(5))
    with pytest.raises(ValueError, match="the series has 1 channel\\(s\\), expected 1|has 2 channel"):
        model.predict(np.ones((20, 2)))
    with pytest.raises(ValueError, match="horizon must be a positive int, got -1"):
        model.predict(np.ones(20), horizon=-1)


# -- the command line ------------------------------------------------------------------------
def test_cli_train_evaluate_predict(tmp_path, capsys):
    y = noisy_sine(260)
    (tmp_path / "train.csv").write_text("date,value\n" + "".join(f"2000-01-{1 + i % 28:02d},{v}\n" for i, v in enumerate(y[:200])))
    (tmp_path / "test.csv").write_text("date,value\n" + "".join(f"2001-01-{1 + i % 28:02d},{v}\n" for i, v in enumerate(y[150:])))
    out = tmp_path / "f.safetensors"
    assert main(["train-forecaster", str(tmp_path / "train.csv"), "--out", str(out), "--test", str(tmp_path / "test.csv"),
                 "--lookback", "10", "--horizon", "2", "--hidden-size", "8", "--n-models", "1", "--max-epochs", "15",
                 ]) == 0
    for suffix in ("", ".history.csv", ".loss.png", ".forecast.png", ".ckpt"):
        assert Path(f"{out}{suffix}").exists(), suffix
    capsys.readouterr()
    assert main(["evaluate", str(out), str(tmp_path / "test.csv"), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["forecasts"] == 110 - 10 - 2 + 1 and metrics["rmse"] < metrics["naive_rmse"]
    assert main(["predict", str(out), str(tmp_path / "test.csv")]) == 0
    lines = capsys.readouterr().out.split()
    assert lines[0] == "step,value" and [l.split(",")[0] for l in lines[1:]] == ["1", "2"]
    (tmp_path / "bad.csv").write_text("date,value\n2000-01-01,1\n2000-01-02,oops\n")
    assert main(["evaluate", str(out), str(tmp_path / "bad.csv")]) == 1
    assert "bad.csv:3: column 'value' (column 2): expected a number, got 'oops'" in capsys.readouterr().err
