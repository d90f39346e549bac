"""``SequenceTagger``: one label per token (parts of speech, named entities) from a bidirectional
RNN over word and character features."""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy import ndarray

from ..._types import Grads, Params, Seed, as_rng, prefixed
from ...cells import cell_type
from ...data.conll import read_tagged_file, write_tagged_text
from ...data.vocab import Vocabulary
from ...io import ModelFileError, save_model_file
from ...layers.char_encoder import CharEncoder
from ...layers.dense import Dense
from ...layers.dropout import Dropout
from ...layers.embedding import Embedding, accumulate_rows
from ...layers.networks import make_network
from ...metrics.tagging import entity_scores, is_bio, token_accuracy
from .inputs import CharTable, Sentences, TaggerBatch, char_table, check_sentences, pad_batch
from .task import fit_tagger


@dataclass
class TaggerConfig:
    """Architecture and regularisation of a :class:`SequenceTagger` (stored in the model file).

    The sizes follow Plank et al. (2016) and Lample et al. (2016): 100-d word embeddings learned
    from scratch, a character BiLSTM of 50 units per direction over 32-d character embeddings, one
    128-per-direction sentence BiLSTM. The regularisation was chosen on the UD English EWT dev set
    (benchmarks/results/tagging.md): dropout 0.5, word dropout alpha 1 and lowercased word
    embeddings beat 0.33, 0.25 and cased ones (dev 94.9 against 94.2 after six epochs), mostly
    through better tags for words unseen in training.
    """

    word_dim: int = 100
    char_dim: int = 32
    char_hidden_size: int = 50         # per direction; 0 turns character features off
    hidden_size: int = 128             # per direction
    num_layers: int = 1
    cell: str = "lstm"
    dropout: float = 0.5               # on the word+char features, between layers, before the softmax
    word_dropout: float = 1.0          # alpha: a word seen n times becomes <UNK> w.p. alpha / (alpha + n)
    min_count: int = 1                 # rarer training words are <UNK> (the characters still see them)
    lowercase: bool = True             # word embeddings of lowercased words (characters keep the case)
    max_word_length: int = 30          # longer words keep their first and last 15 characters

    def __post_init__(self):
        who = "TaggerConfig"
        cell_type(self.cell, who)
        for name in ("word_dim", "char_dim", "hidden_size", "num_layers", "min_count", "max_word_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{who}: {name} must be a positive int, got {value!r}")
        if isinstance(self.char_hidden_size, bool) or not isinstance(self.char_hidden_size, (int, np.integer)) \
                or self.char_hidden_size < 0:
            raise ValueError(f"{who}: char_hidden_size must be an int >= 0, got {self.char_hidden_size!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"{who}: dropout must lie in [0, 1), got {self.dropout}")
        if not self.word_dropout >= 0.0:
            raise ValueError(f"{who}: word_dropout must be >= 0, got {self.word_dropout}")


class SequenceTagger:
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
        tagger.score(sentences, tags)                         # accuracy (+ entity P/R/F1 for BIO)
        tagger.save("pos.safetensors"); rnnkit.load("pos.safetensors")

    Parameters: ``words.E``, ``chars.embedding.E``, ``chars.rnn.layers.*``, ``rnn.layers.*``,
    ``head.W``, ``head.b``. Keyword arguments of the constructor are :class:`TaggerConfig` fields.
    """

    kind = "sequence_tagger"

    def __init__(self, config: TaggerConfig | None = None, **options):
        if config is not None and options:
            raise TypeError("SequenceTagger: give a TaggerConfig or keyword options, not both")
        self.config = config if config is not None else TaggerConfig(**options)
        self.words: Vocabulary | None = None
        self.chars: Vocabulary | None = None
        self.tags: Vocabulary | None = None
        self.params: Params = {}
        self.data_format: dict = {}      # how files were read for training: {"format", "column"}
        self.history: list[dict] = []

    def __repr__(self) -> str:
        size = "unfitted" if self.tags is None else f"{len(self.words)} words, {len(self.tags)} tags"
        return f"SequenceTagger({size}, {asdict(self.config)})"

    # -- building ----------------------------------------------------------------------------
    def build(self, words: Vocabulary, chars: Vocabulary, tags: Vocabulary, seed: Seed = None,
              dtype=np.float32) -> SequenceTagger:
        """Create the layers for these vocabularies (``fit`` does this; so does loading)."""
        c, rng = self.config, as_rng(seed)
        self.words, self.chars, self.tags, self.dtype = words, chars, tags, np.dtype(dtype)
        self.word_embedding = Embedding(len(words), c.word_dim, padding_idx=0, dtype=dtype, seed=rng)
        # unit-variance rows like PyTorch's default would make the words shout over the characters:
        # scale so a row has norm ~1 (the variance Glorot init gives a 1 -> D map)
        self.word_embedding.params["E"] *= self.dtype.type(1.0 / math.sqrt(c.word_dim))
        width = c.word_dim
        self.char_encoder = None
        if c.char_hidden_size:
            self.char_encoder = CharEncoder(len(chars), c.char_dim, c.char_hidden_size, dtype=dtype, seed=rng)
            width += self.char_encoder.output_size
        self.rnn = make_network(c.cell, width, c.hidden_size, c.num_layers, bidirectional=True, dropout=c.dropout,
                                dtype=dtype, seed=rng)
        self.dropout = Dropout(c.dropout)
        self.head = Dense(2 * c.hidden_size, len(tags), dtype=dtype, seed=rng)
        self._rng = np.random.default_rng(rng.integers(2**63))
        self.params = {**prefixed("words", self.word_embedding.params), **prefixed("rnn", self.rnn.params),
                       **prefixed("head", self.head.params)}
        if self.char_encoder is not None:
            self.params.update(prefixed("chars", self.char_encoder.params))
        return self

    @property
    def fitted(self) -> bool:
        return self.tags is not None

    def _require_fitted(self, who: str) -> None:
        if not self.fitted:
            raise ValueError(f"SequenceTagger.{who}: the tagger is not trained yet; call fit() or rnnkit.load()")

    # -- batches -----------------------------------------------------------------------------
    def word_key(self, token: str) -> str:
        return token.lower() if self.config.lowercase else token

    def make_batch(self, sentences: Sentences, tags: Sentences | None = None, char_table: CharTable | None = None,
                   word_ids: list[ndarray] | None = None, tag_ids: list[ndarray] | None = None) -> TaggerBatch:
        """Pad ``sentences`` into a :class:`TaggerBatch`. ``char_table`` (a form -> row dict and the
        rows' character ids and lengths, see :meth:`char_table`), ``word_ids`` and ``tag_ids`` (one
        array per sentence) may be precomputed by the caller."""
        if word_ids is None:
            word_ids = [self.words.encode([self.word_key(t) for t in s]) for s in sentences]
        if tag_ids is None and tags is not None:
            tag_ids = [self.tag_ids(t) for t in tags]
        char_index = self.chars._index if self.char_encoder is not None else None
        return pad_batch(sentences, word_ids, tag_ids, char_index, self.config.max_word_length, char_table)

    def tag_ids(self, tags: list[str]) -> ndarray:
        """Ids of ``tags``; -1 for a tag the tagger does not know (it can never predict it)."""
        index = self.tags._index
        return np.fromiter((index.get(t, -1) for t in tags), np.int64, len(tags))

    def char_table(self, sentences: Sentences) -> CharTable:
        """Every distinct form of ``sentences`` encoded once: (form -> row, ids (N, L), lengths (N,))."""
        return char_table(sentences, self.chars._index, self.config.max_word_length)

    # -- the network -------------------------------------------------------------------------
    def forward(self, batch: TaggerBatch, training: bool = True, rng: np.random.Generator | None = None):
        """-> logits (B, T, K) (zero rows at padding), cache."""
        rng = self._rng if rng is None else rng
        x, word_cache = self.word_embedding.forward(batch.words)
        char_cache = None
        if self.char_encoder is not None:
            c, enc_cache = self.char_encoder.forward(batch.chars, batch.char_lengths)   # (U, 2Hc)
            c = c[batch.types] * batch.mask[..., None]                                 # (B, T, 2Hc)
            x = np.concatenate([x, c], axis=-1)
            char_cache = enc_cache
        x, in_cache = self.dropout.forward(x, training=training, rng=rng)
        h, _, rnn_cache = self.rnn.forward(x, None, batch.lengths, training=training, rng=rng)
        h, out_cache = self.dropout.forward(h, training=training, rng=rng)
        logits, head_cache = self.head.forward(h)
        return logits, (word_cache, char_cache, in_cache, rnn_cache, out_cache, head_cache)

    def backward(self, dlogits: ndarray, batch: TaggerBatch, cache) -> Grads:
        """dlogits: (B, T, K) -> grads with the keys of ``params``."""
        word_cache, char_cache, in_cache, rnn_cache, out_cache, head_cache = cache
        dh, head_grads = self.head.backward(dlogits, head_cache)
        dh = self.dropout.backward(dh, out_cache)
        dx, _, rnn_grads = self.rnn.backward(dh, None, rnn_cache)
        dx = self.dropout.backward(dx, in_cache)
        D = self.config.word_dim
        _, word_grads = self.word_embedding.backward(np.ascontiguousarray(dx[..., :D]), word_cache)
        grads = {**prefixed("words", word_grads), **prefixed("rnn", rnn_grads), **prefixed("head", head_grads)}
        if self.char_encoder is not None:
            # c[b, t] = enc[types[b, t]] at real tokens: sum each form's gradients over its tokens
            dc = accumulate_rows(batch.types[batch.mask], dx[..., D:][batch.mask], len(batch.char_lengths))
            _, char_grads = self.char_encoder.backward(dc, char_cache)
            grads.update(prefixed("chars", char_grads))
        return {k: grads[k] for k in self.params}

    # -- using a trained tagger --------------------------------------------------------------
    def predict_ids(self, sentences: Sentences, batch_size: int = 256) -> list[ndarray]:
        """Most likely tag ids per sentence, batched by length for speed."""
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        out: list[ndarray | None] = [None] * len(sentences)
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = self.make_batch([sentences[i] for i in chunk])
            logits, _ = self.forward(batch, training=False)
            best = logits.argmax(-1)
            for b, i in enumerate(chunk):
                out[i] = best[b, :batch.lengths[b]]
        return out

    def predict(self, sentences: Sentences, batch_size: int = 256) -> Sentences:
        """The most likely tag of every token: one list of tag strings per sentence."""
        self._require_fitted("predict")
        check_sentences("SequenceTagger.predict", sentences)
        names = self.tags.tokens
        return [[names[i] for i in ids.tolist()] for ids in self.predict_ids(sentences, batch_size)]

    def score(self, sentences: Sentences, tags: Sentences) -> dict[str, float]:
        """Token accuracy, the accuracy on words the tagger never saw in training (``oov_accuracy``,
        with ``oov_tokens``), and for BIO tags entity-level precision, recall and F1."""
        self._require_fitted("score")
        check_sentences("SequenceTagger.score", sentences, tags)
        pred = self.predict(sentences)
        result = {"accuracy": token_accuracy(tags, pred), "sentences": len(sentences),
                  "tokens": sum(map(len, sentences))}
        known = self.words._index
        oov = [(g, p) for s, gs, ps in zip(sentences, tags, pred) for w, g, p in zip(s, gs, ps)
               if self.word_key(w) not in known]
        result["oov_tokens"] = len(oov)
        result["oov_accuracy"] = sum(g == p for g, p in oov) / len(oov) if oov else None
        if is_bio(self.tags.tokens) and is_bio(tags):
            e = entity_scores(tags, pred)
            result.update(precision=e["precision"], recall=e["recall"], f1=e["f1"])
        return result

    def fit(self, sentences: Sentences, tags: Sentences, dev_sentences: Sentences | None = None,
            dev_tags: Sentences | None = None, **options) -> SequenceTagger:
        """Train on ``sentences`` and ``tags``; see :func:`rnnkit.models.tagger.task.fit_tagger`
        for the options (budgets, learning rate, batch size, word vectors, output file ...)."""
        return fit_tagger(self, sentences, tags, dev_sentences, dev_tags, **options)

    # -- files -------------------------------------------------------------------------------
    def load_params(self, arrays: Params) -> None:
        missing, extra = set(self.params) - set(arrays), set(arrays) - set(self.params)
        if missing or extra:
            raise ValueError(f"parameters do not match; missing {sorted(missing)}, unexpected {sorted(extra)}")
        for k, v in arrays.items():
            if v.shape != self.params[k].shape:
                raise ValueError(f"{k} has shape {v.shape}, expected {self.params[k].shape}")
            self.params[k][...] = v

    def save(self, path) -> None:
        """One safetensors file: the parameters; config, vocabularies and file format in its metadata."""
        self._require_fitted("save")
        metadata = {"kind": self.kind, "config": asdict(self.config), "dtype": self.dtype.name,
                    "words": self.words.to_dict(), "chars": self.chars.to_dict(), "tags": self.tags.to_dict(),
                    "data_format": self.data_format}
        save_model_file(path, self.params, metadata)

    @classmethod
    def from_file_contents(cls, arrays: Params, metadata: dict, path: str) -> SequenceTagger:
        try:
            tagger = cls(TaggerConfig(**metadata["config"]))
            tagger.build(*(Vocabulary.from_dict(metadata[k]) for k in ("words", "chars", "tags")), seed=0,
                         dtype=np.dtype(metadata.get("dtype", "float32")).type)
            tagger.load_params(arrays)
            tagger.data_format = dict(metadata.get("data_format") or {})
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{path}: not a valid sequence tagger file ({e})") from e
        return tagger

    def read_file(self, path, require_tags: bool = True):
        """(sentences, tags, format) of a CoNLL-U or CoNLL file (sniffed), CoNLL-U tags from the column
        the tagger was trained on."""
        return read_tagged_file(path, "auto", self.data_format.get("column", "upos"), require_tags)

    def evaluate_file(self, path) -> dict[str, float]:
        """:meth:`score` on a CoNLL-U file (the tag column used in training) or a CoNLL NER file."""
        self._require_fitted("evaluate_file")
        sentences, tags, _ = self.read_file(path)
        return self.score(sentences, tags)

    def tag_file(self, path) -> str:
        """The text of ``path`` with every token's tag replaced by the predicted one (CoNLL-U: the
        tag column used in training; CoNLL: the last column, added if the file has only tokens)."""
        self._require_fitted("tag_file")
        sentences, _, fmt = self.read_file(path, require_tags=False)
        return write_tagged_text(path, self.predict(sentences), fmt, self.data_format.get("column", "upos"))


__all__ = ["SequenceTagger", "TaggerConfig", "TaggerBatch", "check_sentences"]
