"""``SequenceTagger``: one label per token (parts of speech, named entities) from a bidirectional
RNN over word and character features, as a scikit-learn estimator."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass

import numpy as np
from numpy import ndarray

from ..._types import Params, Seed
from ...data.conll import read_tagged_file, write_tagged_text
from ...data.conllu import TAG_COLUMNS
from ...data.vocab import Vocabulary
from ...cells import cell_type
from ...estimator import Estimator
from ...io import ModelFileError, save_model_file
from ...metrics.tagging import entity_scores, is_bio, token_accuracy
from ...train import TrainConfig
from .inputs import CharTable, Sentences, TaggerBatch, char_table, check_sentences, pad_batch
from .network import TaggerNetwork
from .task import fit_tagger, split_validation

PREDICT_BATCH = 256
"""Sentences per batch when predicting (sorted by length, so padding stays small)."""

NETWORK_FIELDS = ("word_dim", "char_dim", "char_hidden_size", "hidden_size", "num_layers", "cell", "dropout")
"""The :class:`TaggerConfig` fields that shape the :class:`TaggerNetwork`."""


def check_architecture(who: str, c) -> None:
    """The architecture and regularisation hyperparameters of ``c`` (a :class:`TaggerConfig` or a
    :class:`SequenceTagger`: anything with those attributes)."""
    cell_type(c.cell, who)
    for name in ("word_dim", "char_dim", "hidden_size", "num_layers", "min_count", "max_word_length"):
        value = getattr(c, name)
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
    if isinstance(c.char_hidden_size, bool) or not isinstance(c.char_hidden_size, (int, np.integer)) \
            or c.char_hidden_size < 0:
        raise ValueError(f"{who}: char_hidden_size must be an int >= 0, got {c.char_hidden_size!r}")
    if not 0.0 <= c.dropout < 1.0:
        raise ValueError(f"{who}: dropout must lie in [0, 1), got {c.dropout}")
    if not c.word_dropout >= 0.0:
        raise ValueError(f"{who}: word_dropout must be >= 0, got {c.word_dropout}")


@dataclass
class TaggerConfig:
    """The architecture and regularisation a :class:`SequenceTagger` was fitted with (its
    ``config_``, stored as ``"config"`` in the model file). The fields and their defaults are the
    estimator's parameters of the same names, documented there."""

    word_dim: int = 100
    char_dim: int = 32
    char_hidden_size: int = 50
    hidden_size: int = 128
    num_layers: int = 1
    cell: str = "lstm"
    dropout: float = 0.5
    word_dropout: float = 1.0
    min_count: int = 1
    lowercase: bool = True
    max_word_length: int = 30

    def __post_init__(self):
        check_architecture("TaggerConfig", self)


class SequenceTagger(Estimator):
    """A bidirectional RNN tagger (Graves, 2012; Plank et al., 2016; Lample et al., 2016)::

        w_t = E[word_t]                      word embedding, lowercased by default (<UNK> if unknown)
        c_t = CharEncoder(chars of word_t)   final states of a character BiLSTM, (2 H_c,)
        x_t = dropout([w_t ; c_t])
        h_t = BiRNN(x_1 .. x_T)_t            stacked, both directions concatenated, (2 H,)
        p(tag_t | sentence) = softmax(dropout(h_t) W + b)

    trained by the mean cross-entropy over a batch's tokens, with word dropout: a training word seen n
    times is replaced by ``<UNK>`` with probability ``alpha / (alpha + n)`` (Kiperwasser &
    Goldberg, 2016), so the ``<UNK>`` row is learned and rare words lean on their characters.

    Use::

        tagger = SequenceTagger().fit(sentences, tags)        # lists of token / tag lists
        tagger.predict([["I", "saw", "her"]])                 # -> [["PRON", "VERB", "PRON"]]
        tagger.score(sentences, tags)                         # token accuracy
        tagger.evaluate(sentences, tags)                      # + unknown words, entity P/R/F1 for BIO
        tagger.save("pos.safetensors"); rnnkit.load("pos.safetensors")

    The sizes follow Plank et al. (2016) and Lample et al. (2016): 100-d word embeddings learned
    from scratch, a character BiLSTM of 50 units per direction over 32-d character embeddings, one
    128-per-direction sentence BiLSTM. The regularisation was chosen on the UD English EWT dev set
    (benchmarks/results/tagging.md): dropout 0.5, word dropout alpha 1 and lowercased word
    embeddings beat 0.33, 0.25 and cased ones (dev 94.9 against 94.2 after six epochs), mostly
    through better tags for words unseen in training.

    Parameters (the network): word_dim; char_dim; char_hidden_size (per direction, 0 turns
    character features off); hidden_size (per direction); num_layers; cell (a registered cell
    name); dropout (on the word+char features, between layers, before the softmax);
    word_dropout (alpha above); min_count (rarer training words are ``<UNK>``; the characters
    still see them); lowercase (word embeddings of lowercased words; characters keep the case);
    max_word_length (longer words keep their first and last half of it in characters).

    Parameters (training): lr (Adam); batch_size (sentences per step); max_epochs, max_steps,
    max_minutes (budgets, None for none; ``clock`` ``"wall"`` or ``"cpu"`` says what a minute
    is); patience (evaluations without improvement before stopping); eval_every (steps between
    evaluations; None: once an epoch, at least 300 steps apart); average (the weights evaluated
    and kept are a moving average with this decay per step; 0.999 is about the last 1,000 steps,
    which smooths Adam's step-to-step noise); val_fraction (the share of the training sentences
    held out for early stopping and model selection when ``fit`` gets no ``validation``);
    word_vectors (a word2vec/GloVe text file whose vectors initialise the word embeddings; its
    dimension must equal word_dim); seed (split, initialisation, batches, dropout).

    Parameters (files and messages): column (the CoNLL-U column the tags belong to,
    ``"upos"`` or ``"xpos"``: stored in the model file, it is where :meth:`read_file`,
    :meth:`evaluate_file` and :meth:`tag_file` read and write tags; ``fit`` takes lists and
    reads no file); out (the model file: with it the best model is written there as training
    goes, with ``<out>.ckpt``, ``<out>.history.csv`` and ``<out>.loss.png``); resume (continue
    from ``<out>.ckpt``); verbose (messages and the progress bar on stderr).

    Fitted attributes: ``classes_`` (the tag names, an array), ``word_vocabulary_``,
    ``char_vocabulary_``, ``tag_vocabulary_`` (:class:`~rnnkit.data.vocab.Vocabulary`),
    ``config_`` (the :class:`TaggerConfig` fitted), ``network_`` (the :class:`TaggerNetwork`;
    ``params`` is its parameters: ``words.E``, ``chars.embedding.E``, ``chars.rnn.layers.*``,
    ``rnn.layers.*``, ``head.W``, ``head.b``), ``data_format_`` (``{"column": ...}``) and
    ``history_`` (one dict per evaluation; empty for a loaded model). There is no
    ``n_features_in_``: the inputs are token lists, not columns of features.
    """

    kind = "sequence_tagger"

    def __init__(self, *, word_dim: int = 100, char_dim: int = 32, char_hidden_size: int = 50,
                 hidden_size: int = 128, num_layers: int = 1, cell: str = "lstm", dropout: float = 0.5,
                 word_dropout: float = 1.0, min_count: int = 1, lowercase: bool = True, max_word_length: int = 30,
                 lr: float = 2e-3, batch_size: int = 32, max_epochs: int | None = None,
                 max_steps: int | None = None, max_minutes: float | None = None, clock: str = "wall",
                 patience: int = 3, eval_every: int | None = None, average: float = 0.999,
                 val_fraction: float = 0.1, word_vectors: str | os.PathLike | None = None,
                 column: str = "upos", out: str | os.PathLike | None = None, resume: bool = False,
                 seed: int = 0, verbose: bool = False):
        self.word_dim, self.char_dim, self.char_hidden_size = word_dim, char_dim, char_hidden_size
        self.hidden_size, self.num_layers, self.cell, self.dropout = hidden_size, num_layers, cell, dropout
        self.word_dropout, self.min_count, self.lowercase = word_dropout, min_count, lowercase
        self.max_word_length = max_word_length
        self.lr, self.batch_size, self.max_epochs, self.max_steps = lr, batch_size, max_epochs, max_steps
        self.max_minutes, self.clock, self.patience, self.eval_every = max_minutes, clock, patience, eval_every
        self.average, self.val_fraction, self.word_vectors = average, val_fraction, word_vectors
        self.column, self.out, self.resume, self.seed, self.verbose = column, out, resume, seed, verbose

    # -- fitting -----------------------------------------------------------------------------
    def fit(self, X: Sentences, y: Sentences, validation: tuple[Sentences, Sentences] | None = None) -> SequenceTagger:
        """Train on sentences ``X`` (token lists) and their tags ``y``; return self.

        ``validation``: ``(X_dev, y_dev)`` for early stopping and model selection; without it a
        random ``val_fraction`` of the training sentences is held out. The model kept is the best on
        the validation data (token accuracy, or entity F1 for BIO tags)."""
        who = "SequenceTagger.fit"
        config = self._check_params(who)
        check_sentences(who, X, y)
        if validation is None:
            keep, held = split_validation(len(X), self.val_fraction, self.seed)
            dev_sentences, dev_tags = [X[i] for i in held], [y[i] for i in held]
            X, y = [X[i] for i in keep], [y[i] for i in keep]
        else:
            if isinstance(validation, str) or not hasattr(validation, "__len__") or len(validation) != 2:
                raise ValueError(f"{who}: validation must be an (X_dev, y_dev) pair of sentences and tags, "
                                 f"or None; got {type(validation).__name__}")
            dev_sentences, dev_tags = validation
            if dev_tags is None:
                raise ValueError(f"{who}: validation needs the tags of its sentences: give (X_dev, y_dev), "
                                 "or None to hold out part of the training data")
            check_sentences(f"{who} (validation)", dev_sentences, dev_tags)
        self._forget_fit()
        self.config_ = config
        self.data_format_ = {"column": self.column}
        try:
            with self._logging() as log:
                if validation is None:
                    log(f"holding out {len(dev_sentences)} of the training sentences for validation")
                self.history_ = fit_tagger(self, X, y, dev_sentences, dev_tags, log)
        except BaseException:
            self._forget_fit()           # a half-built tagger must not look fitted
            raise
        return self

    def _forget_fit(self) -> None:
        for name in [k for k in vars(self) if k.endswith("_") and not k.startswith("_")]:
            delattr(self, name)

    def _check_params(self, who: str) -> TaggerConfig:
        """Every hyperparameter checked before any work starts; -> the architecture record."""
        check_architecture(who, self)
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (int, np.integer)) \
                or self.batch_size < 1:
            raise ValueError(f"{who}: batch_size must be a positive int, got {self.batch_size!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)):
            raise ValueError(f"{who}: seed must be an int, got {self.seed!r}")
        if self.column not in TAG_COLUMNS:
            raise ValueError(f"{who}: column must be one of {TAG_COLUMNS}, got {self.column!r}")
        self._train_config(self.eval_every, "accuracy")       # TrainConfig checks the training budgets
        if self.word_vectors is not None and not os.path.isfile(self.word_vectors):
            raise ValueError(f"{who}: word_vectors {os.fspath(self.word_vectors)!r} is not a file")
        if self.out is not None:
            path = os.fspath(self.out)
            if os.path.isdir(path):
                raise ValueError(f"{who}: out must be a model file path, got the directory {path!r}")
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                raise ValueError(f"{who}: the directory of out={path!r} does not exist ({folder})")
            if self.resume and not os.path.exists(path + ".ckpt"):
                raise FileNotFoundError(f"{who}: resume=True but there is no checkpoint at {path}.ckpt")
        elif self.resume:
            raise ValueError(f"{who}: resume=True needs out (the checkpoint is <out>.ckpt)")
        return TaggerConfig(**{name: getattr(self, name) for name in TaggerConfig.__dataclass_fields__})

    def _train_config(self, eval_every: int | None, monitor: str) -> TrainConfig:
        return TrainConfig(lr=self.lr, patience=self.patience, eval_every=eval_every, max_steps=self.max_steps,
                           max_epochs=self.max_epochs, max_minutes=self.max_minutes, clock=self.clock,
                           seed=self.seed, progress=bool(self.verbose), monitor=monitor, mode="max",
                           average=self.average)

    def _build(self, words: Vocabulary, chars: Vocabulary, tags: Vocabulary, config: TaggerConfig,
               seed: Seed = None, dtype=np.float32) -> None:
        """The fitted state for these vocabularies: a fresh network (fit, and loading, call this)."""
        self.config_ = config
        self.word_vocabulary_, self.char_vocabulary_, self.tag_vocabulary_ = words, chars, tags
        self.classes_ = np.asarray(tags.tokens)
        self.network_ = TaggerNetwork(len(words), len(chars), len(tags), dtype=dtype, seed=seed,
                                      **{name: getattr(config, name) for name in NETWORK_FIELDS})

    @property
    def params(self) -> Params:
        """The network's parameters (``network_.params``), updated in place by training."""
        self._check_fitted("params")
        return self.network_.params

    @property
    def history(self) -> list[dict]:
        """``history_`` under its name before the estimator API (``rnnkit train-tagger`` reads it)."""
        self._check_fitted("history")
        return self.history_

    # -- batches -----------------------------------------------------------------------------
    def _word_key(self, token: str) -> str:
        return token.lower() if self.config_.lowercase else token

    def make_batch(self, sentences: Sentences, tags: Sentences | None = None, char_table: CharTable | None = None,
                   word_ids: list[ndarray] | None = None, tag_ids: list[ndarray] | None = None) -> TaggerBatch:
        """Pad ``sentences`` into a :class:`TaggerBatch`. ``char_table`` (a form -> row dict and the
        rows' character ids and lengths, see :meth:`char_table`), ``word_ids`` and ``tag_ids`` (one
        array per sentence) may be precomputed by the caller."""
        self._check_fitted("make_batch")
        if word_ids is None:
            word_ids = [self.word_vocabulary_.encode([self._word_key(t) for t in s]) for s in sentences]
        if tag_ids is None and tags is not None:
            tag_ids = [self.tag_ids(t) for t in tags]
        char_index = self.char_vocabulary_._index if self.network_.char_encoder is not None else None
        return pad_batch(sentences, word_ids, tag_ids, char_index, self.config_.max_word_length, char_table)

    def tag_ids(self, tags: list[str]) -> ndarray:
        """Ids of ``tags``; -1 for a tag the tagger does not know (it can never predict it)."""
        self._check_fitted("tag_ids")
        index = self.tag_vocabulary_._index
        return np.fromiter((index.get(t, -1) for t in tags), np.int64, len(tags))

    def char_table(self, sentences: Sentences) -> CharTable:
        """Every distinct form of ``sentences`` encoded once: (form -> row, ids (N, L), lengths (N,))."""
        self._check_fitted("char_table")
        return char_table(sentences, self.char_vocabulary_._index, self.config_.max_word_length)

    # -- using a fitted tagger ---------------------------------------------------------------
    def _predict_ids(self, sentences: Sentences) -> list[ndarray]:
        """Most likely tag ids per sentence, batched by length for speed."""
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        out: list[ndarray | None] = [None] * len(sentences)
        for start in range(0, len(order), PREDICT_BATCH):
            chunk = order[start:start + PREDICT_BATCH]
            batch = self.make_batch([sentences[i] for i in chunk])
            logits, _ = self.network_.forward(batch, training=False)
            best = logits.argmax(-1)
            for b, i in enumerate(chunk):
                out[i] = best[b, :batch.lengths[b]]
        return out

    def predict(self, X: Sentences) -> Sentences:
        """The most likely tag of every token: one list of tag strings per sentence."""
        self._check_fitted("predict")
        check_sentences("SequenceTagger.predict", X)
        names = self.tag_vocabulary_.tokens
        return [[names[i] for i in ids.tolist()] for ids in self._predict_ids(X)]

    def score(self, X: Sentences, y: Sentences) -> float:
        """Token accuracy of :meth:`predict` on ``X`` against the tags ``y``."""
        self._check_fitted("score")
        check_sentences("SequenceTagger.score", X, y)
        return token_accuracy(y, self.predict(X))

    def evaluate(self, X: Sentences, y: Sentences) -> dict[str, float]:
        """Token accuracy, the accuracy on words the tagger never saw in training (``oov_accuracy``,
        with ``oov_tokens``), and for BIO tags entity-level precision, recall and F1."""
        self._check_fitted("evaluate")
        check_sentences("SequenceTagger.evaluate", X, y)
        pred = self.predict(X)
        result = {"accuracy": token_accuracy(y, pred), "sentences": len(X), "tokens": sum(map(len, X))}
        known = self.word_vocabulary_._index
        oov = [(g, p) for s, gs, ps in zip(X, y, pred) for w, g, p in zip(s, gs, ps)
               if self._word_key(w) not in known]
        result["oov_tokens"] = len(oov)
        result["oov_accuracy"] = sum(g == p for g, p in oov) / len(oov) if oov else None
        if is_bio(self.tag_vocabulary_.tokens) and is_bio(y):
            e = entity_scores(y, pred)
            result.update(precision=e["precision"], recall=e["recall"], f1=e["f1"])
        return result

    # -- model files -------------------------------------------------------------------------
    def _load_params(self, arrays: Params) -> None:
        params = self.network_.params
        missing, extra = set(params) - set(arrays), set(arrays) - set(params)
        if missing or extra:
            raise ValueError(f"parameters do not match; missing {sorted(missing)}, unexpected {sorted(extra)}")
        for k, v in arrays.items():
            if v.shape != params[k].shape:
                raise ValueError(f"{k} has shape {v.shape}, expected {params[k].shape}")
            params[k][...] = v

    def save(self, path) -> None:
        """One safetensors file: the parameters; config, vocabularies and tag column in its metadata."""
        self._check_fitted("save")
        metadata = {"kind": self.kind, "config": asdict(self.config_), "dtype": self.network_.dtype.name,
                    "words": self.word_vocabulary_.to_dict(), "chars": self.char_vocabulary_.to_dict(),
                    "tags": self.tag_vocabulary_.to_dict(), "data_format": self.data_format_}
        save_model_file(path, self.network_.params, metadata)

    @classmethod
    def from_file_contents(cls, arrays: Params, metadata: dict, path: str) -> SequenceTagger:
        """The tagger a model file holds (what :func:`rnnkit.load` calls): its architecture as the
        parameters, ``column`` from its data format, the other parameters at their defaults."""
        try:
            config = TaggerConfig(**metadata["config"])
            data_format = dict(metadata.get("data_format") or {})
            tagger = cls(**asdict(config), column=data_format.get("column", "upos"))
            tagger._build(*(Vocabulary.from_dict(metadata[k]) for k in ("words", "chars", "tags")), config,
                          seed=0, dtype=np.dtype(metadata.get("dtype", "float32")).type)
            tagger._load_params(arrays)
            tagger.data_format_ = data_format
            tagger.history_ = []
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{path}: not a valid sequence tagger file ({e})") from e
        return tagger

    # -- data files --------------------------------------------------------------------------
    def read_file(self, path, require_tags: bool = True):
        """(sentences, tags, format) of a CoNLL-U or CoNLL file (sniffed), CoNLL-U tags from the column
        the tagger was trained on."""
        self._check_fitted("read_file")
        return read_tagged_file(path, "auto", self.data_format_.get("column", "upos"), require_tags)

    def evaluate_file(self, path) -> dict[str, float]:
        """:meth:`evaluate` on a CoNLL-U file (the tag column used in training) or a CoNLL NER file."""
        self._check_fitted("evaluate_file")
        sentences, tags, _ = self.read_file(path)
        return self.evaluate(sentences, tags)

    def tag_file(self, path) -> str:
        """The text of ``path`` with every token's tag replaced by the predicted one (CoNLL-U: the
        tag column used in training; CoNLL: the last column, added if the file has only tokens)."""
        self._check_fitted("tag_file")
        sentences, _, fmt = self.read_file(path, require_tags=False)
        return write_tagged_text(path, self.predict(sentences), fmt, self.data_format_.get("column", "upos"))


__all__ = ["SequenceTagger", "TaggerConfig", "TaggerBatch", "check_architecture", "check_sentences"]
