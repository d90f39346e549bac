"""Token-by-token generation: the compiled loop (rnnkit.kernels.generation) draws the same tokens
as the Python loop in rnnkit.sampling for the same seed, for every cell it covers, and the Python
loop draws what a hand-written decode with the same uniforms draws."""
import numpy as np
import pytest

from rnnkit import kernels
from rnnkit.functional import softmax
from rnnkit.models.language_model import LanguageModelConfig, LanguageModelNetwork
from rnnkit.sampling import _compiled_generation, generate_ids

needs_numba = pytest.mark.skipif(kernels.compiled_loops() is None, reason="the compiled loops need numba")


def model_for(cell: str, layers: int, dtype=np.float64, **network_options) -> LanguageModelNetwork:
    model = LanguageModelNetwork(LanguageModelConfig(11, 5, 7, layers, cell, 0.0), seed=3, dtype=dtype)
    if network_options:
        model.rnn = type(model.rnn)(5, 7, layers, dtype=dtype, seed=4, **network_options)
    # larger weights than the initialiser's so the distribution is far from uniform
    for part in (model.embedding, model.rnn, model.head):
        for p in part.params.values():
            p *= 3.0
    return model


def python_loop(*args, **kwargs) -> np.ndarray:
    previous = kernels.set_backend("numpy")
    try:
        return generate_ids(*args, **kwargs)
    finally:
        kernels.set_backend(previous)


@needs_numba
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("options", [{}, {"temperature": 0.7, "top_k": 4}, {"temperature": 0.0},
                                     {"banned": [0, 5], "stop_id": 2}])
def test_compiled_loop_draws_what_the_python_loop_draws(cell, layers, options):
    model = model_for(cell, layers)
    assert _compiled_generation(model) is not None
    context = np.array([1, 4, 2])
    fast = generate_ids(model, context, 300, seed=11, **options)
    slow = python_loop(model, context, 300, seed=11, **options)
    np.testing.assert_array_equal(fast, slow)
    if "stop_id" in options:
        assert fast[-1] == 2 and 2 not in fast[:-1]
    else:
        assert len(fast) == 300
    if "banned" in options:
        assert not np.isin(fast, options["banned"]).any()
    if not options:
        assert len(np.unique(fast)) > 5      # really sampling, not stuck on one token


@needs_numba
def test_compiled_loop_in_float32_tracks_the_python_loop():
    model = model_for("lstm", 2, np.float32)
    context = np.array([3])
    fast = generate_ids(model, context, 200, seed=5)
    slow = python_loop(model, context, 200, seed=5)
    # float32 kernels differ in the last bits (tanh approximation), which can flip a draw that
    # lands within ~1e-7 of a boundary; that is rare, so the sequences agree for a long prefix
    assert (fast[:100] == slow[:100]).all()


@needs_numba
@pytest.mark.parametrize("cell, variant", [("lstm", {"peephole": True}), ("gru", {"reset_after": False})])
def test_variants_the_compiled_loop_does_not_cover_take_the_python_loop(cell, variant):
    model = model_for(cell, 1, **variant)
    assert _compiled_generation(model) is None
    np.testing.assert_array_equal(generate_ids(model, np.array([1]), 50, seed=2),
                                  python_loop(model, np.array([1]), 50, seed=2))


def test_python_loop_is_inverse_cdf_sampling_of_the_model():
    model = model_for("gru", 2)
    context, length = np.array([6, 1]), 40
    tokens = python_loop(model, context, length, seed=9, temperature=0.8)
    uniforms = np.random.default_rng(9).random(length)
    logits, state, _ = model.forward(context[None], training=False)
    logits = logits[0, -1]
    for i in range(length):
        p = softmax(logits / 0.8)
        expected = int(np.argmax(np.cumsum(p) > uniforms[i]))
        assert tokens[i] == expected
        step, state = model.step(np.array([expected]), state)
        logits = step[0]


def test_zero_length_and_the_tokens_dtype():
    model = model_for("rnn", 1)
    assert generate_ids(model, np.array([1]), 0, seed=0).shape == (0,)
    out = generate_ids(model, np.array([1]), 5, seed=0)
    assert out.dtype == np.int64 and out.shape == (5,) and ((0 <= out) & (out < 11)).all()


@needs_numba
def test_a_cell_subclass_with_other_equations_takes_the_python_loop():
    """The compiled loop runs a cell's declared kernel; a subclass that changes the step declares
    none (``Cell.fast_kernel``), so generation steps through the subclass's own equations."""
    from rnnkit.cells import LSTMCell

    class DampedLSTMCell(LSTMCell):
        def step(self, xp, state):
            (h, c), cache = super().step(xp, state)
            return (0.5 * h, c), cache

    model = model_for("lstm", 1)
    plain = generate_ids(model, np.array([1]), 50, seed=2)
    model.rnn.layers[0].cell.__class__ = DampedLSTMCell
    assert _compiled_generation(model) is None
    damped = generate_ids(model, np.array([1]), 50, seed=2)
    np.testing.assert_array_equal(damped, python_loop(model, np.array([1]), 50, seed=2))
    assert not np.array_equal(damped, plain)
