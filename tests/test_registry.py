"""A new cell is one class plus one registry line: defined here, it runs in every model.

The cell below is not part of rnnkit: a leaky Elman unit, ``h' = (1 - a) h + a tanh(x Wx + bx +
h Wh + bh)`` with a fixed leak ``a`` (Jaeger's leaky integrator). Registering it must be all it
takes for the networks, the character encoder, every task model, their model files and the
``--cell`` flag to accept it.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest

import rnnkit
from rnnkit.cells import Cell, register_cell, unregister_cell
from rnnkit.gradcheck import gradcheck
from rnnkit.io import ModelFileError
from rnnkit.layers.char_encoder import CharEncoder
from rnnkit.layers.networks import make_network

LEAK = 0.5


class LeakyStep(NamedTuple):
    h: np.ndarray          # (B, H) the state before the step
    n: np.ndarray          # (B, H) tanh of the pre-activation


class LeakyCell(Cell):
    """h' = (1 - a) h + a n,  n = tanh(xp + h Wh + bh),  a = LEAK."""

    num_gates = 1
    state_names = ("h",)

    def step(self, xp, state):
        (h,) = state
        n = np.tanh(xp + h @ self.params["Wh"] + self.params["bh"])
        return ((1 - LEAK) * h + LEAK * n,), LeakyStep(h, n)

    def step_backward(self, dstate, cache):
        (dh,) = dstate
        da = LEAK * dh * (1 - cache.n * cache.n)           # h' = ... + a tanh(s)
        dh_prev = (1 - LEAK) * dh + da @ self.params["Wh"].T   # h' = (1 - a) h + ..., s = ... + h Wh
        return da, da, (dh_prev,)

    def recurrent_inputs(self, caches):
        return np.concatenate([c.h for c in caches])


@pytest.fixture(autouse=True)
def leaky_cell():
    register_cell("leaky", LeakyCell, description="a leaky Elman unit (test)")
    yield
    unregister_cell("leaky")


def test_registered_name_builds_a_network_whose_gradients_check():
    rng = np.random.default_rng(0)
    net = make_network("leaky", 4, 3, num_layers=2, bidirectional=True, dtype=np.float64, seed=0)
    assert all(type(layer.fwd.cell) is LeakyCell for layer in net.layers)
    x, lengths = rng.normal(size=(3, 5, 4)), np.array([5, 2, 4])
    y, state, cache = net.forward(x, None, lengths)
    gy, gs = rng.normal(size=y.shape), tuple(rng.normal(size=s.shape) for s in state)

    def loss():
        y, s, _ = net.forward(x, None, lengths)
        return (y * gy).sum() + sum((a * b).sum() for a, b in zip(s, gs))

    dx, _, grads = net.backward(gy, gs, cache)
    errors = gradcheck(loss, {**net.params, "x": x}, {**grads, "x": dx})
    assert max(errors.values()) < 1e-6, errors


def test_the_cell_is_a_cli_choice():
    from rnnkit.cli import build_parser
    args = build_parser().parse_args(["train-lm", "t.txt", "--out", "m", "--cell", "leaky"])
    assert args.cell == "leaky"


def test_the_character_encoder_takes_it():
    enc = CharEncoder(10, 4, 3, cell="leaky", seed=0)
    ids = np.array([[1, 2, 3], [4, 5, 0]])
    y, cache = enc.forward(ids, np.array([3, 2]))
    assert y.shape == (2, 6) and np.isfinite(y).all()
    _, grads = enc.backward(np.ones_like(y), cache)
    assert np.abs(grads["rnn.layers.0.fwd.Wh"]).sum() > 0


def _round_trip(model, tmp_path):
    path = tmp_path / "m.safetensors"
    model.save(path)
    return rnnkit.load(path)


def test_every_task_model_trains_saves_and_loads_with_it(tmp_path):
    rng = np.random.default_rng(1)
    text = "the cat sat on the mat. the dog sat on the log.\n" * 20
    lm = rnnkit.LanguageModel(cell="leaky", hidden_size=8, num_layers=1, embedding_dim=4, seq_len=10,
                              batch_size=4, max_steps=5, seed=0).fit(text)
    assert lm.network_.rnn.layers[0].cell.__class__ is LeakyCell
    assert _round_trip(lm, tmp_path).sample(length=20, seed=3) == lm.sample(length=20, seed=3)

    X, y = rng.normal(size=(16, 6, 2)), [0, 1] * 8
    clf = rnnkit.SequenceClassifier(cell="leaky", hidden_size=4, n_models=1, max_epochs=2, frame=1, seed=0).fit(X, y)
    np.testing.assert_allclose(_round_trip(clf, tmp_path).predict_proba(X), clf.predict_proba(X), rtol=1e-6)

    series = np.sin(np.arange(120) / 4.0)
    fc = rnnkit.Forecaster(cell="leaky", lookback=8, hidden_size=4, n_models=1, max_epochs=2, seed=0).fit(series)
    np.testing.assert_allclose(_round_trip(fc, tmp_path).predict(series), fc.predict(series), rtol=1e-6)

    sentences = [["a", "cat", "sat"], ["the", "dog", "ran"]] * 10
    tags = [["DET", "NOUN", "VERB"]] * 20
    tagger = rnnkit.SequenceTagger(cell="leaky", word_dim=4, char_hidden_size=3, hidden_size=4, max_epochs=1,
                                   seed=0).fit(sentences, tags)
    assert _round_trip(tagger, tmp_path).predict(sentences[:2]) == tagger.predict(sentences[:2])


def test_a_model_file_naming_an_unregistered_cell_is_refused(tmp_path):
    series = np.sin(np.arange(120) / 4.0)
    fc = rnnkit.Forecaster(cell="leaky", lookback=8, hidden_size=4, n_models=1, max_epochs=1, seed=0).fit(series)
    path = tmp_path / "m.safetensors"
    fc.save(path)
    unregister_cell("leaky")
    with pytest.raises(ModelFileError, match="leaky"):
        rnnkit.load(path)
