"""What every task model shares with scikit-learn's estimators, without importing scikit-learn.

scikit-learn's contract (https://scikit-learn.org/stable/developers/develop.html), as
:class:`Estimator` implements it:

* ``__init__`` stores each hyperparameter under its own name and does nothing else (no
  validation, no derived state), so ``clone(est)`` is ``type(est)(**est.get_params())``;
* :meth:`~Estimator.get_params` reads those names from the ``__init__`` signature and
  :meth:`~Estimator.set_params` writes them back (``deep`` has nothing to recurse into: no
  hyperparameter here is itself an estimator);
* ``fit`` validates, learns, sets fitted state in attributes ending in ``_`` and returns self;
  before it, :meth:`~Estimator._check_fitted` raises :class:`NotFittedError`, a ``ValueError``
  and an ``AttributeError`` as scikit-learn's own is;
* ``__sklearn_tags__`` (scikit-learn >= 1.6) and ``_estimator_type`` (older versions) say
  whether the model is a classifier or a regressor, so ``cross_val_score`` picks stratified
  folds and the right default score.

Messages go through :mod:`logging` (logger ``"rnnkit"``); ``verbose=True`` shows them on stderr
for the duration of ``fit`` when the application has not configured logging itself.
"""
from __future__ import annotations

import contextlib
import inspect
import logging
import os
import sys
from typing import Any

LOGGER = logging.getLogger("rnnkit")


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit`` (or ``rnnkit.load``)."""


class Estimator:
    """Base class of the task models; see the module docstring. Subclasses set
    ``estimator_type`` to ``"classifier"``, ``"regressor"`` or None."""

    estimator_type: str | None = None

    # -- hyperparameters ---------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        names = []
        for name, p in signature.parameters.items():
            if name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}: an estimator's __init__ names every hyperparameter "
                                f"(no *args or **kwargs), got {p}")
            names.append(name)
        return names

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters, as given to ``__init__`` (or :meth:`set_params`)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> Estimator:
        """Set hyperparameters by name; they take effect at the next ``fit``. Returns self."""
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"{type(self).__name__}.set_params: unknown parameter {name!r}; "
                                 f"valid ones are {sorted(valid)}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()}
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            try:
                same = value is default or bool(value == default)
            except (TypeError, ValueError):      # arrays and such compare element-wise
                same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    # -- scikit-learn's tags -----------------------------------------------------------------
    @property
    def _estimator_type(self) -> str | None:
        return self.estimator_type

    def __sklearn_tags__(self):
        """scikit-learn's Tags for this estimator (only called by scikit-learn, which is then
        importable)."""
        from sklearn.utils import ClassifierTags, RegressorTags, Tags, TargetTags
        tags = Tags(estimator_type=self.estimator_type, target_tags=TargetTags(required=True))
        if self.estimator_type == "classifier":
            tags.classifier_tags = ClassifierTags()
        elif self.estimator_type == "regressor":
            tags.regressor_tags = RegressorTags()
        tags.non_deterministic = False
        return tags

    # -- fitted state ------------------------------------------------------------------------
    def __sklearn_is_fitted__(self) -> bool:
        return any(name.endswith("_") and not name.startswith("_") for name in vars(self))

    def _check_fitted(self, who: str) -> None:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"{type(self).__name__}.{who}: this {type(self).__name__} is not fitted yet; "
                                 "call fit() first, or rnnkit.load() a saved model")

    # -- the model file a fit writes --------------------------------------------------------
    def _checked_out(self, who: str) -> str | None:
        """``self.out`` as a str path, checked before any training: its directory must exist and
        it must not be a directory itself; ``resume`` needs it (the checkpoint is ``<out>.ckpt``)."""
        out, resume = getattr(self, "out", None), getattr(self, "resume", False)
        if out is None:
            if resume:
                raise ValueError(f"{who}: resume=True continues the checkpoint <out>.ckpt, but out is None; "
                                 "give out, the model file path of the run to continue")
            return None
        try:
            path = os.fspath(out)
        except TypeError:
            raise ValueError(f"{who}: out must be None or a file path, got {type(out).__name__}") from None
        if os.path.isdir(path):
            raise ValueError(f"{who}: out {path!r} is a directory; expected the model file to write, "
                             f"such as {os.path.join(path, 'model.safetensors')!r}")
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise ValueError(f"{who}: out {path!r}: the directory {parent!r} does not exist; create it first")
        return path

    # -- messages ----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _logging(self):
        """Inside: ``LOGGER.info`` messages reach stderr when ``verbose`` and nobody configured a
        handler for ``"rnnkit"`` (or the root logger); otherwise logging decides as usual."""
        handler = None
        if getattr(self, "verbose", False) and not LOGGER.handlers and not logging.getLogger().handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(message)s"))
            LOGGER.addHandler(handler)
            previous = LOGGER.level
            LOGGER.setLevel(logging.INFO)
        try:
            yield LOGGER.info
        finally:
            if handler is not None:
                LOGGER.removeHandler(handler)
                LOGGER.setLevel(previous)


__all__ = ["Estimator", "LOGGER", "NotFittedError"]
