"""``SequenceClassifier``: many-to-one classification with a scikit-learn feel."""
from __future__ import annotations

import os
import time

import numpy as np
from numpy import ndarray

from ..._types import Params, prefixed, unprefixed
from ...data.vocab import PAD, UNK, Vocabulary
from ...io import ModelFileError, atomic_write_text, save_model_file
from ...metrics.classification import accuracy, confusion_matrix, macro_f1
from ...train import history_csv
from .files import read_labelled_data
from .inputs import Augmenter, as_sequences, class_weights, first_difference, frames, pad, parse_augment, series_scaled
from .network import ClassifierNetwork
from .task import train_network

NORMALIZE = ("channel", "series", None)
TARGET_STEPS = 32   # frame="auto" cuts long series into about this many frames


class SequenceClassifier:
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
    data and keeps the parameters with the lowest validation loss (early stopping after
    ``patience`` epochs without improvement); different seeds and splits make the ensemble.
    ``class_weight``: None, ``"balanced"`` (``n / (K n_c)``) or a dict label -> weight.
    """

    kind = "sequence_classifier"

    def __init__(self, *, cell: str = "lstm", hidden_size: int = 64, num_layers: int = 1,
                 bidirectional: bool = True, pooling: str = "mean+max", dropout: float = 0.2,
                 embedding_dim: int = 64, min_count: int = 1, lowercase: bool = True,
                 normalize: str | None = "channel", derivatives: bool = False, frame: int | str = "auto",
                 frame_stride: int | None = None, augment: str | None = None, position: bool | str = False,
                 class_weight: str | dict | None = None, n_models: int = 3, lr: float = 3e-3,
                 weight_decay: float = 0.0, batch_size: int | str = "auto", max_epochs: int = 300, patience: int = 20,
                 lr_decay: float = 1.0, average: float = 0.0, val_fraction: float = 0.2,
                 max_minutes: float | None = None, seed: int = 0, verbose: bool = False):
        self.cell, self.hidden_size, self.num_layers = cell, hidden_size, num_layers
        self.bidirectional, self.pooling, self.dropout = bidirectional, pooling, dropout
        self.embedding_dim, self.min_count, self.lowercase = embedding_dim, min_count, lowercase
        self.normalize, self.derivatives, self.frame, self.frame_stride = normalize, derivatives, frame, frame_stride
        self.augment, self.position = augment, position
        self.class_weight, self.n_models, self.lr, self.weight_decay = class_weight, n_models, lr, weight_decay
        self.batch_size, self.max_epochs, self.patience = batch_size, max_epochs, patience
        self.lr_decay, self.average, self.val_fraction, self.max_minutes = lr_decay, average, val_fraction, max_minutes
        self.seed, self.verbose = seed, verbose
        self.data_format = None     # set by the file loaders' callers (CLI): how evaluate_file reads data
        self.data_options: dict = {}

    def get_params(self) -> dict:
        """The hyperparameters given to ``__init__``."""
        return {name: getattr(self, name) for name in SequenceClassifier.__init__.__kwdefaults__}

    def __repr__(self) -> str:
        default = SequenceClassifier.__init__.__kwdefaults__
        changed = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items() if default[k] != v)
        return f"SequenceClassifier({changed})"

    # -- inputs ------------------------------------------------------------------------------
    def _encode(self, kind: str, seqs: list, who: str) -> tuple[ndarray, ndarray]:
        """Padded network input ``(N, T, D')`` floats or ``(N, T)`` ids, and lengths ``(N,)``."""
        if kind != self.input_kind_:
            raise ValueError(f"{who}: the model was trained on {self.input_kind_}, got {kind}")
        if kind == "tokens":
            ids = [self.vocab_.encode(s) if s else np.array([self.vocab_.unk_id]) for s in seqs]
            lengths = np.array([len(a) for a in ids])
            out = np.zeros((len(ids), lengths.max()), dtype=np.int64)  # <PAD> = 0
            for i, a in enumerate(ids):
                out[i, :len(a)] = a
            return out, lengths
        D = seqs[0].shape[1]
        if D != self.n_channels_:
            raise ValueError(f"{who}: expected sequences with {self.n_channels_} channel(s), got {D}")
        return pad([frames(self._scaled(a), self.frame_, self.frame_stride_) for a in seqs])

    def _scaled(self, a: ndarray) -> ndarray:
        """(T, D) raw -> (T, D') as the network's frames are cut from it."""
        return self._finish(self._base(a))

    def _base(self, a: ndarray) -> ndarray:
        """(T, D) raw -> (T, D): the input channels scaled (what augmentation works on)."""
        D = a.shape[1]
        if self.normalize == "channel":
            return (a - self.mean_[:D]) / self.std_[:D]
        if self.normalize == "series":
            return series_scaled(a)
        return a

    def _finish(self, b: ndarray) -> ndarray:
        """(T, D) from :meth:`_base` -> (T, D'): the scaled derivative channels and the position
        channel appended, both computed from b, so an augmented b gets its own."""
        if self.derivatives:
            db = first_difference(b)
            D = b.shape[1]
            if self.normalize == "channel":   # diff(b) = diff(a) / std: scale diff(a) with its own stats
                db = (db * self.std_[:D] - self.mean_[D:]) / self.std_[D:]
            elif self.normalize == "series":
                db = series_scaled(db)
            b = np.concatenate([b, db], axis=1)
        if not self.position_:
            return b
        T = len(b)   # relative position, uniform over [-sqrt 3, sqrt 3]: zero mean, unit variance
        where = np.sqrt(3) * (2 * np.arange(T) / (T - 1) - 1) if T > 1 else np.zeros(T)
        return np.concatenate([b, where[:, None]], axis=1)

    def _with_derivatives(self, a: ndarray) -> ndarray:
        """(T, D) -> (T, 2 D) with each channel's first difference appended (0 at t = 0)."""
        if not self.derivatives:
            return a
        return np.concatenate([a, first_difference(a)], axis=1)

    # -- fitting -----------------------------------------------------------------------------
    def _check_hyperparameters(self) -> None:
        who = "SequenceClassifier"
        if self.normalize not in NORMALIZE:
            raise ValueError(f"{who}: normalize must be one of {NORMALIZE}, got {self.normalize!r}")
        if not (self.frame == "auto" or (isinstance(self.frame, int) and self.frame >= 1)):
            raise ValueError(f"{who}: frame must be 'auto' or an int >= 1, got {self.frame!r}")
        if self.frame_stride is not None and not (isinstance(self.frame_stride, int) and self.frame_stride >= 1):
            raise ValueError(f"{who}: frame_stride must be None or an int >= 1, got {self.frame_stride!r}")
        if self.batch_size != "auto" and (isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int)
                                          or self.batch_size < 1):
            raise ValueError(f"{who}: batch_size must be 'auto' or a positive int, got {self.batch_size!r}")
        parse_augment(self.augment)
        if self.position not in (True, False, "auto"):
            raise ValueError(f"{who}: position must be True, False or 'auto', got {self.position!r}")
        for name in ("hidden_size", "num_layers", "n_models", "max_epochs", "patience",
                     "embedding_dim", "min_count"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"{who}: val_fraction must lie in [0, 1), got {self.val_fraction}")

    def fit(self, X, y, lengths: ndarray | None = None, log=None) -> SequenceClassifier:
        """Train on sequences ``X`` and labels ``y`` (see the class docstring); returns self."""
        who = "SequenceClassifier.fit"
        self._check_hyperparameters()
        log = log or (print if self.verbose else (lambda message: None))
        kind, seqs = as_sequences(X, lengths, who, self.lowercase)
        labels = list(y.tolist() if isinstance(y, np.ndarray) else y)
        if len(labels) != len(seqs):
            raise ValueError(f"{who}: X has {len(seqs)} sequences, y has {len(labels)} labels")
        try:
            classes = sorted(set(labels), key=lambda c: (type(c).__name__, c))
        except TypeError:
            raise ValueError(f"{who}: labels must be hashable and comparable within a type "
                             f"(str, int, float, bool), got {type(labels[0]).__name__}") from None
        if len(classes) < 2:
            raise ValueError(f"{who}: y has a single class {classes}; need at least two")
        self.classes_, self.input_kind_ = classes, kind
        index = {c: i for i, c in enumerate(classes)}
        target = np.array([index[c] for c in labels], dtype=np.int64)
        if kind == "tokens":
            self.vocab_ = Vocabulary.build_words(seqs, min_count=self.min_count, specials=(PAD, UNK))
            framings = [(None, None)]
        else:
            self.n_channels_ = seqs[0].shape[1]
            steps = np.concatenate([self._with_derivatives(a) for a in seqs])
            self.mean_, self.std_ = steps.mean(0), np.maximum(steps.std(0), 1e-8)
            framings = self._framings(int(np.median([len(a) for a in seqs])))
            # "auto": series that all have one length were cut alike, so a step's place in its series means something
            self.position_ = bool(self.position if self.position != "auto" else len({len(a) for a in seqs}) == 1)
        weights = class_weights(self.class_weight, self.classes_, target)
        budget = None if self.max_minutes is None else self.max_minutes / (self.n_models * len(framings))
        losses, fitted = {}, {}
        for framing in framings:
            if kind == "features":
                self.frame_, self.frame_stride_ = framing
            fitted[framing] = self._fit_ensemble(kind, seqs, target, weights, who, log, budget)
            history = fitted[framing][1]
            # each network's own validation split, the same for every framing (seeded per network)
            losses[framing] = float(np.mean([min(r["val_loss"] for r in history if r["model"] == m)
                                             for m in range(self.n_models)]))
            if len(framings) > 1:
                log(f"frames of {framing[0]} every {framing[1]} steps: mean validation loss {losses[framing]:.4f}")
        chosen = min(losses, key=losses.get)   # a tie keeps the first: the many-step framing
        if len(framings) > 1:
            log(f"kept frames of {chosen[0]} every {chosen[1]} steps")
        self.networks_, self.history_ = fitted[chosen]
        if kind == "features":
            self.frame_, self.frame_stride_ = chosen
            self.framing_losses_ = losses
        return self

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

    def _fit_ensemble(self, kind: str, seqs: list, target: ndarray, weights: ndarray | None, who: str, log,
                      minutes: float | None) -> tuple[list[ClassifierNetwork], list[dict]]:
        """``n_models`` networks on the inputs as :attr:`frame_` cuts them, and their history."""
        x, lens = self._encode(kind, seqs, who)
        kinds = parse_augment(self.augment) if kind == "features" else ()
        augment = (Augmenter([self._base(a) for a in seqs], kinds, self.frame_, self.frame_stride_, self._finish)
                   if kinds else None)
        options = dict(lr=self.lr, weight_decay=self.weight_decay, patience=self.patience, lr_decay=self.lr_decay,
                       average=self.average, max_epochs=self.max_epochs, progress=self.verbose)
        if minutes is not None:
            options["max_minutes"] = minutes
        networks, histories = [], []
        for m in range(self.n_models):
            seed = int(np.random.SeedSequence([self.seed, m]).generate_state(1)[0])
            net = self._network(seed)
            t0 = time.perf_counter()
            history = train_network(net, x, lens, target, val_fraction=self.val_fraction,
                                    batch_size=self._batch_size(len(target)), class_weight=weights, seed=seed,
                                    train_options=options, log=log, augment=augment)
            offset = histories[-1]["minutes"] if histories else 0.0  # one time axis for the ensemble
            histories.extend({"model": m, **row, "minutes": row["minutes"] + offset} for row in history)
            log(f"network {m + 1}/{self.n_models}: {len(history)} evaluations in {time.perf_counter() - t0:.1f} s")
            networks.append(net)
        return networks, histories

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

    # -- predicting --------------------------------------------------------------------------
    def _check_fitted(self, who: str) -> None:
        if not getattr(self, "networks_", None):
            raise ValueError(f"{who}: the classifier is not fitted; call fit(X, y) first")

    def predict_proba(self, X, lengths: ndarray | None = None) -> ndarray:
        """(N, K) class probabilities, columns in the order of ``classes_``: the mean of the
        networks' softmax outputs."""
        who = "SequenceClassifier.predict_proba"
        self._check_fitted(who)
        x, lens = self._encode(*as_sequences(X, lengths, who, self.lowercase), who)
        proba = 0.0
        for net in self.networks_:
            logits = net.predict_logits(x, lens)
            p = np.exp(logits - logits.max(1, keepdims=True))
            proba = proba + p / p.sum(1, keepdims=True)
        return proba / len(self.networks_)

    def predict(self, X, lengths: ndarray | None = None) -> ndarray:
        """(N,) predicted labels."""
        proba = self.predict_proba(X, lengths)
        return np.array([self.classes_[i] for i in proba.argmax(1)], dtype=object if
                        len({type(c) for c in self.classes_}) > 1 else None)

    def score(self, X, y, lengths: ndarray | None = None) -> float:
        """Accuracy on ``(X, y)``."""
        return accuracy(list(y), self.predict(X, lengths).tolist())

    def evaluate(self, X, y, lengths: ndarray | None = None) -> dict:
        """Accuracy, macro-F1, the confusion matrix (rows true, columns predicted, ``classes_``
        order; labels unseen in training count in their own row) and the number of cases."""
        pred = self.predict(X, lengths).tolist()
        y = list(y.tolist() if isinstance(y, np.ndarray) else y)
        labels = self.classes_ + [c for c in dict.fromkeys(y) if c not in self.classes_]
        return {"accuracy": accuracy(y, pred), "macro_f1": macro_f1(y, pred, labels), "n": len(y),
                "labels": labels, "confusion_matrix": confusion_matrix(y, pred, labels).tolist()}

    def evaluate_file(self, path) -> dict:
        """:meth:`evaluate` on a labelled data file read as the training data was (see
        :func:`read_labelled_data`)."""
        X, y, _, _ = read_labelled_data(path, self.data_format, self.data_options)
        return self.evaluate(X, y)

    def predict_file(self, path) -> list:
        """Predicted labels for the cases of a data file (labels in it are not needed)."""
        X, _, _, _ = read_labelled_data(path, self.data_format, self.data_options, require_labels=False)
        return self.predict(X).tolist()

    # -- files -------------------------------------------------------------------------------
    def save(self, path) -> None:
        """One safetensors file: every network's parameters, the scaler, and in the metadata the
        hyperparameters, classes, vocabulary and how data files are read."""
        self._check_fitted("SequenceClassifier.save")
        bad = [c for c in self.classes_ if not isinstance(c, (str, int, float, bool))]
        if bad:
            raise ValueError(f"SequenceClassifier.save: label {bad[0]!r} ({type(bad[0]).__name__}) cannot be "
                             "stored; use str, int, float or bool labels")
        arrays: Params = {}
        for m, net in enumerate(self.networks_):
            arrays.update(prefixed(f"networks.{m}", net.params))
        fitted = {"classes": list(self.classes_), "input_kind": self.input_kind_, "n_networks": len(self.networks_)}
        if self.input_kind_ == "tokens":
            fitted["vocab"] = self.vocab_.to_dict()
        else:
            fitted.update(n_channels=self.n_channels_, frame=self.frame_, frame_stride=self.frame_stride_,
                          position=self.position_)
            arrays["scaler.mean"], arrays["scaler.std"] = self.mean_, self.std_
        metadata = {"kind": self.kind, "params": self.get_params(), "fitted": fitted,
                    "data_format": self.data_format, "data_options": self.data_options}
        save_model_file(path, arrays, metadata)

    @classmethod
    def from_file_contents(cls, arrays: Params, metadata: dict, path: str) -> SequenceClassifier:
        try:
            model = cls(**metadata["params"])
            fitted = metadata["fitted"]
            model.classes_, model.input_kind_ = list(fitted["classes"]), fitted["input_kind"]
            model.data_format, model.data_options = metadata.get("data_format"), metadata.get("data_options") or {}
            if model.input_kind_ == "tokens":
                model.vocab_ = Vocabulary.from_dict(fitted["vocab"])
            else:
                model.n_channels_, model.frame_ = int(fitted["n_channels"]), int(fitted["frame"])
                model.frame_stride_ = int(fitted["frame_stride"])
                model.position_ = bool(fitted.get("position", False))   # files from before the option
                model.mean_, model.std_ = arrays["scaler.mean"], arrays["scaler.std"]
            model.networks_ = []
            for m in range(int(fitted["n_networks"])):
                net = model._network(seed=0)
                stored = unprefixed(f"networks.{m}", arrays)
                if set(stored) != set(net.params):
                    raise ValueError(f"network {m} parameters do not match the architecture")
                for k, v in stored.items():
                    if v.shape != net.params[k].shape:
                        raise ValueError(f"networks.{m}.{k} has shape {v.shape}, expected {net.params[k].shape}")
                    net.params[k][...] = v
                model.networks_.append(net)
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{os.fspath(path)}: not a valid sequence classifier file ({e})") from e
        return model


def train_classifier_file(data: str | os.PathLike, out: str | os.PathLike | None = None, *,
                          test: str | os.PathLike | None = None, data_format: str | None = None,
                          data_options: dict | None = None, log=print, **params):
    """Train a :class:`SequenceClassifier` (hyperparameters ``params``) on a labelled data file and
    return ``(model, test_metrics or None)``. With ``out``: the model file, ``<out>.history.csv``,
    ``<out>.loss.png`` and, with ``test``, ``<out>.confusion.png`` (the plots need matplotlib)."""
    X, y, data_format, data_options = read_labelled_data(data, data_format, data_options)
    test_data = read_labelled_data(test, data_format, data_options) if test is not None else None
    counts = {c: y.count(c) for c in dict.fromkeys(y)}
    log(f"{os.fspath(data)}: {len(X)} {data_format} cases, {len(counts)} classes "
        f"({', '.join(f'{c}: {n}' for c, n in list(counts.items())[:10])}{', ...' if len(counts) > 10 else ''})")
    model = SequenceClassifier(**params)
    model.data_format, model.data_options = data_format, data_options
    model.fit(X, y, log=log)
    metrics = None if test_data is None else model.evaluate(test_data[0], test_data[1])
    if out is not None:
        out = os.fspath(out)
        model.save(out)
        atomic_write_text(out + ".history.csv", history_csv(model.history_))
        try:
            from ...plots import plot_confusion_matrix, plot_history
        except ImportError:
            log("note: no plots written (pip install 'rnnkit[plot]')")
        else:
            plot_history(model.history_, out + ".loss.png")
            if metrics is not None:
                plot_confusion_matrix(metrics["confusion_matrix"], metrics["labels"], out + ".confusion.png",
                                      title=f"{os.path.basename(os.fspath(test))}: accuracy {metrics['accuracy']:.3f}")
    return model, metrics


__all__ = ["SequenceClassifier", "train_classifier_file"]
