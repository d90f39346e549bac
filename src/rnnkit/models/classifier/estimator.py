"""``SequenceClassifier``: many-to-one classification, a scikit-learn estimator (without scikit-learn)."""
from __future__ import annotations

import os
import time

import numpy as np
from numpy import ndarray

from ..._types import Params, prefixed, unprefixed
from ...data.vocab import PAD, UNK, Vocabulary
from ...estimator import LOGGER, Estimator
from ...io import ModelFileError, save_model_file
from ...metrics.classification import accuracy, confusion_matrix, macro_f1
from .files import describe_data, read_labelled_data, remember_format, write_progress, write_reports
from .inputs import (Augmenter, as_labels, as_sequences, check_hyperparameters, class_array,
                     class_weights, derived_channels, fingerprint, first_difference, frames, pad, parse_augment,
                     scaled_channels, token_ids, validation_data)
from .network import ClassifierNetwork, load_params
from .task import EnsembleCheckpoint, EnsembleData, Validation, split_is_empty, train_network

TARGET_STEPS = 32   # frame="auto" cuts long series into about this many frames
BUDGETS = ("max_epochs", "max_minutes", "max_steps", "patience")   # a resumed fit may change these
RUN = ("out", "resume", "verbose")   # how a fit runs, not what it learns: not stored in model files


class SequenceClassifier(Estimator):
    """Many-to-one classifier: ``[embedding] -> (bi)RNN stack -> pooling -> dense -> softmax``,
    an ensemble of ``n_models`` such networks averaging their probabilities.

    ``X`` is a list of ``(T_i, D)`` (or ``(T_i,)``) float arrays, a padded ``(N, T, D)`` or
    ``(N, T)`` array with ``lengths: (N,)``, or token input: a list of token lists or of sentences
    (str, split into words). Labels ``y`` may be any JSON-able hashable (str, int, float, bool).

    Feature input is scaled (``normalize``: ``"channel"`` z-scores each channel with the training
    mean and deviation, stored with the model; ``"series"`` z-scores each sequence on its own;
    None leaves it), optionally widened by each channel's first difference (``derivatives``) and by
    a channel of each step's relative position in its series (``position``, for series aligned in
    time, where *when* something happens matters), and then cut into frames of ``frame``
    consecutive steps every ``frame_stride`` steps, each frame one input vector of ``frame * D``
    values, so a long series becomes a short sequence. ``"auto"`` fits the ensemble twice, on about
    32 frames of the median training length and on 5 wide overlapping ones (half that length every
    eighth step), and keeps the one whose networks reach the lower mean validation loss (each
    network's split is the same both times; ``framing_losses_`` has the figures; an int ``frame``
    fits once). ``augment`` (``"crop"``, ``"scale"``, ``"jitter"`` or a ``+`` mix, see
    :mod:`.inputs`) trains on a fresh random variant of each series every
    time it is drawn; ``average`` > 0 evaluates and keeps an exponential moving average of the
    weights with that decay per step.

    Each network trains with Adam on its own stratified ``val_fraction`` split of the training
    data (or on all of it, early-stopping on ``fit``'s ``validation``) and keeps the parameters
    with the lowest validation loss (early stopping after ``patience`` epochs without improvement,
    at most ``max_epochs`` epochs and ``max_steps`` steps); different seeds and splits make the
    ensemble. ``class_weight``: None, ``"balanced"`` (``n / (K n_c)``) or a dict label -> weight.
    ``max_minutes`` is the budget of the whole fit, shared evenly by its networks.

    With ``out`` (a file path), ``fit`` writes the model file there and beside it
    ``<out>.history.csv``, ``<out>.loss.png`` and ``<out>.ckpt``, a checkpoint rewritten after each
    network; ``resume=True`` continues from it, skipping the networks it holds (each network is
    seeded on its own, so the result is the uninterrupted fit's). A Ctrl-C stops the network being
    trained and the ensemble with it: the model holds the networks trained so far, the checkpoint
    the finished ones. ``verbose`` shows the progress bar and one line per network on stderr.

    Fitted attributes: ``classes_`` (an array, in the order of ``predict_proba``'s columns),
    ``networks_``, ``history_`` (one row per evaluation, ``"model"`` the network), ``input_kind_``
    (``"features"`` or ``"tokens"``), for feature input ``n_features_in_`` (channels; for token
    input it is not set, as scikit-learn's text vectorizers do not set it: a sentence has no fixed
    number of features), ``frame_``, ``frame_stride_``, ``framing_losses_``, the scaling
    ``mean_``/``std_``, and for token input ``vocab_``.
    """

    kind = "sequence_classifier"
    estimator_type = "classifier"

    def __init__(self, *, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = True, pooling: str = "mean+max", dropout: float = 0.2,
                 embedding_dim: int = 64, min_count: int = 1, lowercase: bool = True,
                 normalize: str | None = "channel", derivatives: bool = False, frame: int | str = "auto",
                 frame_stride: int | None = None, augment: str | None = None, position: bool | str = False,
                 class_weight: str | dict | None = None, n_models: int = 3, lr: float = 3e-3,
                 weight_decay: float = 0.0, batch_size: int | str = "auto", max_epochs: int = 300, patience: int = 20,
                 lr_decay: float = 1.0, average: float = 0.0, val_fraction: float = 0.2,
                 max_minutes: float | None = None, max_steps: int | None = None, out: str | os.PathLike | None = None,
                 resume: bool = False, seed: int = 0, verbose: bool = False):
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.bidirectional, self.pooling, self.dropout = bidirectional, pooling, dropout
        self.embedding_dim, self.min_count, self.lowercase = embedding_dim, min_count, lowercase
        self.normalize, self.derivatives, self.frame, self.frame_stride = normalize, derivatives, frame, frame_stride
        self.augment, self.position = augment, position
        self.class_weight, self.n_models, self.lr, self.weight_decay = class_weight, n_models, lr, weight_decay
        self.batch_size, self.max_epochs, self.patience = batch_size, max_epochs, patience
        self.lr_decay, self.average, self.val_fraction, self.max_minutes = lr_decay, average, val_fraction, max_minutes
        self.max_steps, self.out, self.resume = max_steps, out, resume
        self.seed, self.verbose = seed, verbose

    # -- inputs ------------------------------------------------------------------------------
    def _encode(self, kind: str, seqs: list, who: str) -> tuple[ndarray, ndarray]:
        """Padded network input ``(N, T, D')`` floats or ``(N, T)`` ids, and lengths ``(N,)``."""
        if kind != self.input_kind_:
            raise ValueError(f"{who}: the model was trained on {self.input_kind_}, got {kind}")
        if kind == "tokens":
            return token_ids(self.vocab_, seqs)
        D = seqs[0].shape[1]
        if D != self.n_channels_:
            raise ValueError(f"{who}: expected sequences with {self.n_channels_} channel(s), got {D}")
        return pad([frames(self._scaled(a), self.frame_, self.frame_stride_) for a in seqs])

    def _scaled(self, a: ndarray) -> ndarray:
        """(T, D) raw -> (T, D') as the network's frames are cut from it."""
        return self._finish(self._base(a))

    def _base(self, a: ndarray) -> ndarray:
        """(T, D) raw -> (T, D): the input channels scaled (what augmentation works on)."""
        return scaled_channels(a, self.normalize, self.mean_, self.std_)

    def _finish(self, b: ndarray) -> ndarray:
        """(T, D) from :meth:`_base` -> (T, D'): the derived channels appended (:func:`derived_channels`)."""
        return derived_channels(b, self.normalize, self.mean_, self.std_, self.derivatives, self.position_)

    def _with_derivatives(self, a: ndarray) -> ndarray:
        """(T, D) -> (T, 2 D) with each channel's first difference appended (0 at t = 0)."""
        return np.concatenate([a, first_difference(a)], axis=1) if self.derivatives else a

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X, y, lengths: ndarray | None = None, validation=None) -> SequenceClassifier:
        """Train on sequences ``X`` and labels ``y`` (see the class docstring); returns self.

        ``validation``: None (each network holds out its own ``val_fraction`` split), or
        ``(X_val, y_val)`` / ``(X_val, y_val, lengths_val)`` that every network early-stops on.
        """
        who = "SequenceClassifier.fit"
        check_hyperparameters(self.get_params())
        out = self._checked_out(who)
        kind, seqs = as_sequences(X, lengths, who, self.lowercase)
        labels, classes = as_labels(y, len(seqs), who)
        if len(classes) < 2:
            raise ValueError(f"{who}: y has a single class {classes}; need at least two")
        index = {c: i for i, c in enumerate(classes)}
        target = np.array([index[c] for c in labels], dtype=np.int64)
        weights = class_weights(self.class_weight, classes, target)
        val = None if validation is None else validation_data(validation, kind, seqs, index, self.lowercase)
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)   # a refit starts from nothing
        self.classes_ = class_array(classes)
        self.input_kind_ = kind
        if kind == "tokens":
            self.vocab_ = Vocabulary.build_words(seqs, min_count=self.min_count, specials=(PAD, UNK))
            framings = [(None, None)]
        else:
            self.n_channels_ = self.n_features_in_ = seqs[0].shape[1]
            steps = np.concatenate([self._with_derivatives(a) for a in seqs])
            self.mean_, self.std_ = steps.mean(0), np.maximum(steps.std(0), 1e-8)
            framings = self._framings(int(np.median([len(a) for a in seqs])))
            # "auto": series that all have one length were cut alike, so a step's place in its series means something
            self.position_ = bool(self.position if self.position != "auto" else len({len(a) for a in seqs}) == 1)
        describe = {"model": {k: v for k, v in self.get_params().items() if k not in BUDGETS + RUN},
                    "framings": framings, "classes": [repr(c) for c in classes], "data": fingerprint(seqs, target),
                    "validation": None if val is None else fingerprint(*val)}
        checkpoint = EnsembleCheckpoint(out + ".ckpt", describe) if out else None
        minutes = None if self.max_minutes is None else self.max_minutes / (self.n_models * len(framings))
        data = EnsembleData(kind, seqs, target, weights, val, minutes)
        with self._logging() as log:
            fitted = checkpoint.load() if self.resume else []
            if fitted:
                log(f"resuming from {checkpoint.path}: {sum(len(n) for n, _ in fitted)} network(s) trained")
            if val is None and split_is_empty(target, self.val_fraction):
                log("note: too few cases for a validation split; selecting on the training loss")
            losses, ensembles = {}, {}
            for f, framing in enumerate(framings):
                if kind == "features":
                    self.frame_, self.frame_stride_ = framing
                params, history = fitted[f] if f < len(fitted) else ([], [])
                networks = [self._network_from(p) for p in params]
                stopped = self._fit_ensemble(data, networks, history, self._saver(checkpoint, fitted, f))
                ensembles[framing] = networks, history
                # each network's own validation split, the same for every framing (seeded per network)
                losses[framing] = float(np.mean([min(r["val_loss"] for r in history if r["model"] == m)
                                                 for m in range(len(networks))]))
                if len(framings) > 1:
                    log(f"frames of {framing[0]} every {framing[1]} steps: mean validation loss {losses[framing]:.4f}")
                if stopped == "interrupted":
                    LOGGER.warning(f"interrupted: the model holds the {len(networks)} network(s) trained so far"
                                   + (f"; fit again with resume=True to finish from {checkpoint.path}" if out else ""))
                    break
            chosen = min(losses, key=losses.get)   # a tie keeps the first: the many-step framing
            if len(losses) > 1:
                log(f"kept frames of {chosen[0]} every {chosen[1]} steps")
            self.networks_, self.history_ = ensembles[chosen]
            if kind == "features":
                self.frame_, self.frame_stride_ = chosen
                self.framing_losses_ = losses
            if out:
                self.save(out)
                write_reports(self, out)
        return self

    def _saver(self, checkpoint: EnsembleCheckpoint | None, fitted: list, f: int):
        """``save(networks, history)`` of framing ``f``, called when one of its networks finished:
        rewrites the checkpoint and the history so far (every framing's) beside ``out``."""
        def save(networks: list[ClassifierNetwork], history: list[dict]) -> None:
            if checkpoint is not None:
                fitted[f:] = [([net.params for net in networks], history)]
                checkpoint.save(fitted)
                write_progress([row for _, rows in fitted for row in rows], checkpoint.path[:-len(".ckpt")])
        return save

    def _framings(self, median: int) -> list[tuple[int, int]]:
        """The ``(frame, stride)`` pairs to fit: the given one, or for ``frame="auto"`` both about
        :data:`TARGET_STEPS` frames and five wide overlapping ones (half the median length every
        eighth), the second only without an explicit ``frame_stride`` and where the two differ."""
        if self.frame != "auto":
            return [(self.frame, self.frame_stride or self.frame)]
        many = max(1, round(median / TARGET_STEPS))
        if self.frame_stride is not None:
            return [(many, self.frame_stride)]
        few = (max(1, median // 2), max(1, median // 8))
        return [(many, many)] if few == (many, many) else [(many, many), few]

    def _fit_ensemble(self, data: EnsembleData, networks: list[ClassifierNetwork], history: list[dict],
                      save) -> str:
        """Train networks ``len(networks) .. n_models - 1`` on the inputs as :attr:`frame_` cuts
        them, appending to ``networks`` and ``history`` and calling ``save(networks, history)``
        after each. Returns why the last trainer stopped (``"interrupted"``: the ensemble stops too)."""
        who = "SequenceClassifier.fit"
        x, lens = self._encode(data.kind, data.seqs, who)
        val = None if data.val is None else Validation(*self._encode(data.kind, data.val[0], who), data.val[1])
        kinds = parse_augment(self.augment) if data.kind == "features" else ()
        augment = (Augmenter([self._base(a) for a in data.seqs], kinds, self.frame_, self.frame_stride_,
                             self._finish) if kinds else None)
        options = dict(lr=self.lr, weight_decay=self.weight_decay, patience=self.patience, lr_decay=self.lr_decay,
                       average=self.average, max_epochs=self.max_epochs, max_steps=self.max_steps,
                       progress=bool(self.verbose))
        if data.minutes is not None:
            options["max_minutes"] = data.minutes
        framing = {"frame": self.frame_, "frame_stride": self.frame_stride_} if data.kind == "features" else {}
        where = f" (frames of {self.frame_} every {self.frame_stride_} steps)" if framing else ""
        stopped = ""
        for m in range(len(networks), self.n_models):
            seed = int(np.random.SeedSequence([self.seed, m]).generate_state(1)[0])
            net = self._network(seed)
            t0 = time.perf_counter()
            rows, stopped = train_network(net, x, lens, data.target, val_fraction=self.val_fraction,
                                          batch_size=self._batch_size(len(data.seqs)), class_weight=data.weights,
                                          seed=seed, train_options=options, log=LOGGER.debug, augment=augment,
                                          validation=val)
            offset = history[-1]["minutes"] if history else 0.0  # one time axis for the ensemble
            history.extend({"model": m, **framing, **row, "minutes": row["minutes"] + offset} for row in rows)
            networks.append(net)
            LOGGER.info(f"network {m + 1}/{self.n_models}{where}: {len(rows)} evaluations in "
                        f"{time.perf_counter() - t0:.1f} s, best validation loss "
                        f"{min(r['val_loss'] for r in rows):.4f}, stopped ({stopped})")
            if stopped == "interrupted":
                break
            save(networks, history)
        return stopped

    def _batch_size(self, n: int) -> int:
        """``"auto"``: a tenth of the cases, within [8, 64], so a small data set still gets several
        updates an epoch and a large one uses the matrix units well."""
        return self.batch_size if self.batch_size != "auto" else int(np.clip(n // 10, 8, 64))

    def _network(self, seed: int, dtype=np.float32) -> ClassifierNetwork:
        tokens = self.input_kind_ == "tokens"
        width = 0 if tokens else self.frame_ * (self.n_channels_ * (2 if self.derivatives else 1) + self.position_)
        return ClassifierNetwork(width, len(self.classes_),
                                 vocab_size=len(self.vocab_) if tokens else None, embedding_dim=self.embedding_dim,
                                 cell=self.cell, hidden_size=self.hidden_size, num_layers=self.num_layers,
                                 bidirectional=self.bidirectional, pooling=self.pooling, dropout=self.dropout,
                                 seed=seed, dtype=dtype)

    def _network_from(self, stored: Params, name: str = "network") -> ClassifierNetwork:
        """A network of this architecture holding the parameters ``stored`` (checked)."""
        return load_params(self._network(seed=0), stored, name)

    # -- predicting --------------------------------------------------------------------------
    def predict_proba(self, X, lengths: ndarray | None = None) -> ndarray:
        """(N, K) class probabilities, columns in the order of ``classes_``: the mean of the
        networks' softmax outputs."""
        who = "SequenceClassifier.predict_proba"
        self._check_fitted("predict_proba")
        x, lens = self._encode(*as_sequences(X, lengths, who, self.lowercase), who)
        proba = 0.0
        for net in self.networks_:
            logits = net.predict_logits(x, lens)
            p = np.exp(logits - logits.max(1, keepdims=True))
            proba = proba + p / p.sum(1, keepdims=True)
        return proba / len(self.networks_)

    def predict(self, X, lengths: ndarray | None = None) -> ndarray:
        """(N,) predicted labels, of ``classes_``' dtype."""
        proba = self.predict_proba(X, lengths)   # checks the model is fitted
        return self.classes_[proba.argmax(1)]

    def score(self, X, y, lengths: ndarray | None = None) -> float:
        """Accuracy on ``(X, y)``."""
        return accuracy(list(y), self.predict(X, lengths).tolist())

    def evaluate(self, X, y, lengths: ndarray | None = None) -> dict:
        """Accuracy, macro-F1, the confusion matrix (rows true, columns predicted, ``classes_``
        order; labels unseen in training count in their own row) and the number of cases."""
        pred = self.predict(X, lengths).tolist()
        y = list(y.tolist() if isinstance(y, np.ndarray) else y)
        known = self.classes_.tolist()
        labels = known + [c for c in dict.fromkeys(y) if c not in known]
        return {"accuracy": accuracy(y, pred), "macro_f1": macro_f1(y, pred, labels), "n": len(y),
                "labels": labels, "confusion_matrix": confusion_matrix(y, pred, labels).tolist()}

    def evaluate_file(self, path) -> dict:
        """:meth:`evaluate` on a labelled data file read as the training data was (see
        :func:`read_labelled_data` and :func:`fit_file`)."""
        X, y, _, _ = read_labelled_data(path, getattr(self, "data_format_", None), getattr(self, "data_options_", {}))
        return self.evaluate(X, y)

    def predict_file(self, path) -> list:
        """Predicted labels for the cases of a data file (labels in it are not needed)."""
        X, _, _, _ = read_labelled_data(path, getattr(self, "data_format_", None), getattr(self, "data_options_", {}),
                                        require_labels=False)
        return self.predict(X).tolist()

    # -- files -------------------------------------------------------------------------------
    def save(self, path) -> None:
        """One safetensors file: every network's parameters, the scaler, and in the metadata the
        hyperparameters (but ``out``, ``resume``), classes, vocabulary and how data files are read."""
        self._check_fitted("save")
        classes = self.classes_.tolist()
        bad = [c for c in classes if not isinstance(c, (str, int, float, bool))]
        if bad:
            raise ValueError(f"SequenceClassifier.save: label {bad[0]!r} ({type(bad[0]).__name__}) cannot be "
                             "stored; use str, int, float or bool labels")
        arrays: Params = {}
        for m, net in enumerate(self.networks_):
            arrays.update(prefixed(f"networks.{m}", net.params))
        fitted = {"classes": classes, "input_kind": self.input_kind_, "n_networks": len(self.networks_)}
        if self.input_kind_ == "tokens":
            fitted["vocab"] = self.vocab_.to_dict()
        else:
            fitted.update(n_channels=self.n_channels_, frame=self.frame_, frame_stride=self.frame_stride_,
                          position=self.position_)
            arrays["scaler.mean"], arrays["scaler.std"] = self.mean_, self.std_
        params = {k: v for k, v in self.get_params().items() if k not in ("out", "resume")}
        metadata = {"kind": self.kind, "params": params, "fitted": fitted,
                    "data_format": getattr(self, "data_format_", None),
                    "data_options": getattr(self, "data_options_", {})}
        save_model_file(path, arrays, metadata)

    @classmethod
    def from_file_contents(cls, arrays: Params, metadata: dict, path: str) -> SequenceClassifier:
        """The model in a file :meth:`save` wrote (today's or an earlier version's)."""
        try:
            model = cls(**metadata["params"])
            fitted = metadata["fitted"]
            model.classes_ = class_array(list(fitted["classes"]))
            model.input_kind_ = fitted["input_kind"]
            model.data_format_, model.data_options_ = metadata.get("data_format"), metadata.get("data_options") or {}
            if model.input_kind_ == "tokens":
                model.vocab_ = Vocabulary.from_dict(fitted["vocab"])
            else:
                model.n_channels_ = model.n_features_in_ = int(fitted["n_channels"])
                model.frame_, model.frame_stride_ = int(fitted["frame"]), int(fitted["frame_stride"])
                model.position_ = bool(fitted.get("position", False))   # files from before the option
                model.mean_, model.std_ = arrays["scaler.mean"], arrays["scaler.std"]
            model.networks_ = [model._network_from(unprefixed(f"networks.{m}", arrays), f"networks.{m}")
                               for m in range(int(fitted["n_networks"]))]
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{os.fspath(path)}: not a valid sequence classifier file ({e})") from e
        return model


def train_classifier_file(data: str | os.PathLike, out: str | os.PathLike | None = None, *,
                          test: str | os.PathLike | None = None, data_format: str | None = None,
                          data_options: dict | None = None, **params):
    """Fit a ``SequenceClassifier(out=out, **params)`` on a labelled data file, evaluate it on
    ``test`` (read as the training data was) and :func:`write_reports`; returns ``(model,
    test_metrics or None)``. What ``rnnkit train-classifier`` ran before it built the estimator
    from its flags itself (both files are read before training starts)."""
    X, y, data_format, data_options = read_labelled_data(data, data_format, data_options)
    test_data = None if test is None else read_labelled_data(test, data_format, data_options)
    model = SequenceClassifier(out=out, **params)
    with model._logging() as log:
        log(describe_data(data, X, y, data_format))
    remember_format(model.fit(X, y), data_format, data_options)
    metrics = None if test_data is None else model.evaluate(test_data[0], test_data[1])
    if out is not None:
        write_reports(model, out, metrics, test)
    return model, metrics


__all__ = ["SequenceClassifier", "train_classifier_file"]
