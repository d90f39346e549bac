"""The shared training loop on a task small enough to reason about: least squares, w -> w*."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from rnnkit.io import load_model_file, save_model_file
from rnnkit.train import TrainConfig, Trainer


class LeastSquares:
    """loss = mean((x w - y)^2) over a batch drawn from the step number; evaluation: the same on a
    fixed validation set (or a scripted sequence of losses, to drive the plateau logic)."""

    steps_per_epoch = 5

    def __init__(self, params, val_losses=None):
        rng = np.random.default_rng(0)
        self.w_true = rng.normal(size=(3, 1))
        self.x = rng.normal(size=(50, 3))
        self.y = self.x @ self.w_true
        self.params, self.val_losses, self.evaluations = params, list(val_losses or []), 0

    def train_step(self, step, rng):
        idx = np.random.default_rng([step]).choice(50, 10, replace=False)
        x, y = self.x[idx], self.y[idx]
        r = x @ self.params["w"] - y
        return float((r ** 2).mean()), {"w": 2 * x.T @ r / len(r)}, len(r)

    def evaluate(self):
        self.evaluations += 1
        if self.val_losses:
            return {"loss": self.val_losses.pop(0)}
        return {"loss": float(((self.x @ self.params["w"] - self.y) ** 2).mean())}

    def state_arrays(self):
        return {}

    def load_state_arrays(self, arrays):
        pass


def trainer(config: TrainConfig, val_losses=None, out=None):
    params = {"w": np.zeros((3, 1))}
    task = LeastSquares(params, val_losses)

    def save(path):
        save_model_file(path, dict(params), {"kind": "toy"})

    return Trainer(params, task, config, save_model=save, out=out, log=lambda message: None), params, task


def test_it_learns_and_keeps_the_best_parameters():
    t, params, task = trainer(TrainConfig(lr=0.05, max_steps=300, eval_every=25, progress=False))
    history = t.fit()
    assert history[-1]["val_loss"] < 1e-3 * history[0]["val_loss"]
    np.testing.assert_allclose(params["w"], task.w_true, atol=0.02)
    assert [row["step"] for row in history] == list(range(25, 301, 25))
    assert t.state.stopped == "step budget"


def test_plateaus_decay_the_learning_rate_and_patience_stops():
    losses = [1.0, 0.5, 0.6, 0.7, 0.4, 0.45, 0.5, 0.55, 0.9]
    t, _, task = trainer(TrainConfig(lr=0.01, lr_decay=0.5, patience=3, eval_every=1, max_steps=100,
                                     progress=False), losses)
    history = t.fit()
    # improves at 1 and 2; bad at 3, 4 (lr halves each); improves at 5; bad at 6, 7, 8 -> stop
    assert [row["lr"] for row in history] == [0.01, 0.01, 0.01, 0.005, 0.0025, 0.0025, 0.00125, 0.000625]
    assert t.state.stopped == "no improvement" and len(history) == 8
    assert t.state.best_loss == 0.4


def test_monitor_in_max_mode_and_min_delta():
    t, _, _ = trainer(TrainConfig(lr=0.01, eval_every=1, max_steps=3, mode="max", min_delta=0.1,
                                  patience=10, progress=False), [0.5, 0.55, 0.7, 0.7])
    t.fit()
    assert t.state.best_loss == -0.7            # 0.55 is not 0.1 better than 0.5; 0.7 is


def test_resume_equals_an_uninterrupted_run(tmp_path):
    config = dict(lr=0.05, eval_every=10, progress=False)
    whole, p_whole, _ = trainer(TrainConfig(max_steps=40, **config), out=str(tmp_path / "a"))
    whole.fit()
    first, _, _ = trainer(TrainConfig(max_steps=20, **config), out=str(tmp_path / "b"))
    first.fit()
    second, p_second, _ = trainer(TrainConfig(max_steps=40, **config), out=str(tmp_path / "b"))
    second.fit(resume=True)
    np.testing.assert_array_equal(p_second["w"], p_whole["w"])
    same = [(r["step"], r["val_loss"], r["train_loss"], r["lr"]) for r in whole.state.history]
    assert [(r["step"], r["val_loss"], r["train_loss"], r["lr"]) for r in second.state.history] == same
    arrays, _ = load_model_file(tmp_path / "b")
    np.testing.assert_array_equal(arrays["w"], load_model_file(tmp_path / "a")[0]["w"])
    with open(tmp_path / "b.history.csv", newline="") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [10, 20, 30, 40]


def test_divergence_is_named_with_the_step_and_the_learning_rate():
    t, _, _ = trainer(TrainConfig(lr=10.0, optimizer="sgd", clip=0, lr_decay=1.0, patience=1000,
                                  max_steps=500, progress=False))
    with pytest.raises(FloatingPointError, match=r"diverged at step \d+.*lower --lr"):
        t.fit()


def test_no_progress_bar_when_stderr_is_not_a_terminal(capsys):
    t, _, _ = trainer(TrainConfig(lr=0.05, max_steps=10, progress=True))
    t.fit()
    assert capsys.readouterr().err == ""        # a redirected stderr gets no carriage-return updates


def test_a_missing_plot_extra_is_said_once(tmp_path, monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "rnnkit.plots", None)     # as without matplotlib: ImportError
    messages = []
    params = {"w": np.zeros((3, 1))}
    t = Trainer(params, LeastSquares(params), TrainConfig(lr=0.05, max_steps=30, eval_every=10, progress=False),
                save_model=lambda path: save_model_file(path, dict(params), {"kind": "toy"}),
                out=str(tmp_path / "m"), log=messages.append)
    t.fit()
    notes = [m for m in messages if "plots need matplotlib" in m]
    assert len(notes) == 1 and not (tmp_path / "m.loss.png").exists()
    assert (tmp_path / "m.history.csv").exists()


def test_bad_configuration_is_named():
    for options, match in [({"lr": 0}, "lr must be > 0"), ({"optimizer": "lbfgs"}, "optimizer"),
                           ({"mode": "up"}, "mode"), ({"max_minutes": -1}, "max_minutes"),
                           ({"lr_decay": 0}, "lr_decay"), ({"average": 1.0}, "average")]:
        with pytest.raises(ValueError, match=match):
            TrainConfig(**options)
