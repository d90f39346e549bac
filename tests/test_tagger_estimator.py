"""SequenceTagger as a scikit-learn estimator: its parameters, clone, scikit-learn's own checks,
fitted state, cross-validation."""
import inspect
import warnings

import numpy as np
import pytest

from rnnkit.estimator import NotFittedError
from rnnkit.models.tagger import SequenceTagger, TaggerConfig

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.utils.estimator_checks import (check_get_params_invariance, check_no_attributes_set_in_init,  # noqa: E402
                                            check_set_params)

PARAMS = ["word_dim", "char_dim", "char_hidden_size", "hidden_size", "num_layers", "cell", "dropout",
          "word_dropout", "min_count", "lowercase", "max_word_length", "lr", "batch_size", "max_epochs",
          "max_steps", "max_minutes", "clock", "patience", "eval_every", "average", "val_fraction",
          "word_vectors", "column", "out", "resume", "seed", "verbose"]
"""What the command line maps its flags onto, by name."""

X = [["the", "dog", "runs"], ["Ann", "sings"], ["a", "cat"], ["Bob", "runs", "!"], ["the", "fish"],
     ["Eve", "jumps"], ["a", "dog", "sings", "!"], ["Cid", "swims"]]
Y = [["DET", "NOUN", "VERB"], ["NAME", "VERB"], ["DET", "NOUN"], ["NAME", "VERB", "PUNCT"], ["DET", "NOUN"],
     ["NAME", "VERB"], ["DET", "NOUN", "VERB", "PUNCT"], ["NAME", "VERB"]]
TINY = dict(word_dim=5, char_dim=3, char_hidden_size=4, hidden_size=6, batch_size=4, max_steps=3, eval_every=3)


def test_the_parameters_are_the_init_arguments():
    assert list(inspect.signature(SequenceTagger).parameters) == PARAMS
    assert sorted(SequenceTagger().get_params()) == sorted(PARAMS)
    tagger = SequenceTagger(seed=0)
    assert tagger.seed == 0 and tagger.verbose is False and tagger.out is None and tagger.resume is False
    defaults = TaggerConfig()
    for name in TaggerConfig.__dataclass_fields__:         # the architecture's defaults are the record's
        assert getattr(tagger, name) == getattr(defaults, name), name


def test_init_stores_arguments_unchanged_and_checks_nothing():
    sentinel = object()
    tagger = SequenceTagger(word_dim=sentinel, cell="transformer", dropout=5.0, batch_size=-1,
                            out="/no/such/folder/m.safetensors", resume=True, lr=np.inf)
    assert tagger.word_dim is sentinel and tagger.cell == "transformer" and tagger.dropout == 5.0
    assert sorted(vars(tagger)) == sorted(PARAMS)              # no fitted state, nothing derived
    assert not tagger.__sklearn_is_fitted__()
    with pytest.raises(ValueError, match="cell must be one of"):  # fit is where they are checked
        tagger.fit(X, Y)


@pytest.mark.parametrize("check", [check_get_params_invariance, check_set_params, check_no_attributes_set_in_init])
def test_scikit_learn_checks(check):
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # check_set_params only warns when set_params validates
        check("SequenceTagger", SequenceTagger(hidden_size=7, out="m.safetensors"))


def test_clone_gives_an_unfitted_tagger_with_equal_parameters():
    unfitted = SequenceTagger(**TINY, cell="gru", seed=3)
    copy = clone(unfitted)
    assert type(copy) is SequenceTagger and copy is not unfitted
    assert copy.get_params() == unfitted.get_params()
    fitted = SequenceTagger(**TINY, seed=3).fit(X, Y, (X[:2], Y[:2]))
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not copy.__sklearn_is_fitted__() and not any(k.endswith("_") for k in vars(copy))
    with pytest.raises(NotFittedError):
        copy.predict(X)
    assert fitted.predict(X)                                    # the original keeps its fitted state
    # same parameters, same seed: the clone fits to the same tagger
    refit = copy.fit(X, Y, (X[:2], Y[:2]))
    for k, v in fitted.params.items():
        np.testing.assert_array_equal(refit.params[k], v, err_msg=k)


def test_fitted_state_ends_in_an_underscore():
    tagger = SequenceTagger(**TINY).fit(X, Y, (X[:2], Y[:2]))
    state = {k for k in vars(tagger) if k not in PARAMS}
    assert state == {"classes_", "config_", "word_vocabulary_", "char_vocabulary_", "tag_vocabulary_",
                     "network_", "data_format_", "history_"}
    assert isinstance(tagger.classes_, np.ndarray) and tagger.classes_.tolist() == ["DET", "NAME", "NOUN",
                                                                                    "PUNCT", "VERB"]
    assert tagger.tag_vocabulary_.tokens == tuple(tagger.classes_)
    assert tagger.params is tagger.network_.params
    assert [row["step"] for row in tagger.history_] == [3]
    assert not hasattr(tagger, "n_features_in_")               # token lists have no feature columns
    # set_params after fit changes the parameters, not what was fitted
    tagger.set_params(lowercase=False, column="xpos")
    assert tagger.config_.lowercase is True and tagger.data_format_ == {"column": "upos"}
    with pytest.raises(ValueError, match="unknown parameter 'hidden'"):
        tagger.set_params(hidden=3)


def test_a_failed_refit_leaves_no_state_that_looks_fitted(tmp_path):
    tagger = SequenceTagger(**TINY).fit(X, Y, (X[:2], Y[:2]))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        tagger.set_params(batch_size=0).fit(X, Y)               # fails before anything is touched
    assert tagger.predict(X[:1])
    with pytest.raises(ValueError, match="word_vectors .* is not a file"):
        tagger.set_params(batch_size=4, word_vectors=tmp_path / "missing.txt").fit(X, Y)
    assert tagger.predict(X[:1])
    (tmp_path / "three.txt").write_text("the 1 2 3\n", encoding="utf-8")
    with pytest.raises(ValueError, match="set word_dim=3"):      # found once the vocabulary is built
        tagger.set_params(word_vectors=tmp_path / "three.txt").fit(X, Y)
    assert not tagger.__sklearn_is_fitted__()
    with pytest.raises(NotFittedError):
        tagger.predict(X[:1])


def test_cross_validation_scores_token_accuracy():
    scores = cross_val_score(SequenceTagger(**TINY, val_fraction=0.25), X, Y, cv=2)
    assert scores.shape == (2,) and all(0.0 <= s <= 1.0 for s in scores)
    assert SequenceTagger().__sklearn_tags__().estimator_type is None    # no stratified folds over tag lists


def test_repr_shows_the_parameters_that_differ_from_the_defaults():
    assert repr(SequenceTagger()) == "SequenceTagger()"
    assert repr(SequenceTagger(hidden_size=7, cell="gru")) == "SequenceTagger(hidden_size=7, cell='gru')"
