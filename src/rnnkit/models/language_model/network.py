"""``LanguageModel``: embedding -> stacked RNN/GRU/LSTM -> dropout -> softmax over the vocabulary."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy import ndarray

from ..._types import Grads, Params, Seed, State, as_rng, prefixed
from ...cells import cell_type
from ...data.files import read_text
from ...data.vocab import Vocabulary
from ...io import ModelFileError, save_model_file
from ...layers.dense import Dense
from ...layers.dropout import Dropout
from ...layers.embedding import Embedding
from ...layers.networks import make_network
from ...sampling import sample
from .task import evaluate_text


@dataclass
class LanguageModelConfig:
    """Architecture of a :class:`LanguageModel` (stored in the model file)."""

    vocab_size: int
    embedding_dim: int = 64
    hidden_size: int = 512
    num_layers: int = 2
    cell: str = "lstm"
    dropout: float = 0.25

    def __post_init__(self):
        cell_type(self.cell, "LanguageModelConfig")
        for name in ("vocab_size", "embedding_dim", "hidden_size", "num_layers"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"LanguageModelConfig: {name} must be a positive int, got {value!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"LanguageModelConfig: dropout must lie in [0, 1), got {self.dropout}")


class LanguageModel:
    """A language model is a product of next-token softmaxes (Bengio et al., 2003; Mikolov, 2010):

        e_t = E[w_t]                       embedding of the token read at step t
        h_t = RNN(e_1 .. e_t)              a stack of recurrent layers, dropout between them
        p(w_{t+1} | w_1 .. w_t) = softmax(dropout(h_t) W + b)

    Dropout acts between recurrent layers and before the softmax (Zaremba et al., 2014).
    Parameters: ``embedding.E``, ``rnn.layers.<l>.*``, ``head.W``, ``head.b``.
    """

    kind = "language_model"

    def __init__(self, config: LanguageModelConfig, vocab: Vocabulary | None = None, seed: Seed = None,
                 dtype=np.float32):
        if vocab is not None and len(vocab) != config.vocab_size:
            raise ValueError(f"LanguageModel: vocabulary has {len(vocab)} tokens, config says {config.vocab_size}")
        self.config, self.vocab = config, vocab
        rng = as_rng(seed)
        c = config
        self.embedding = Embedding(c.vocab_size, c.embedding_dim, dtype=dtype, seed=rng)
        self.rnn = make_network(c.cell, c.embedding_dim, c.hidden_size, c.num_layers, dropout=c.dropout,
                                dtype=dtype, seed=rng)
        self.dropout = Dropout(c.dropout)
        self.head = Dense(c.hidden_size, c.vocab_size, dtype=dtype, seed=rng)
        self.dtype = np.dtype(dtype)
        self._rng = np.random.default_rng(rng.integers(2**63))  # default stream for dropout masks
        self.params: Params = {**prefixed("embedding", self.embedding.params), **prefixed("rnn", self.rnn.params),
                               **prefixed("head", self.head.params)}

    def __repr__(self) -> str:
        return f"LanguageModel({asdict(self.config)})"

    def zero_state(self, batch_size: int) -> State:
        return self.rnn.zero_state(batch_size)

    def forward(self, ids: ndarray, state: State | None = None, training: bool = True,
                rng: np.random.Generator | None = None):
        """ids: (B, T) token ids -> logits: (B, T, V), final state, cache."""
        ids = np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"{self!r}: expected ids of shape (B, T), got {ids.shape}")
        rng = self._rng if rng is None else rng
        e, emb_cache = self.embedding.forward(ids)
        h, state, rnn_cache = self.rnn.forward(e, state, training=training, rng=rng)
        h, drop_cache = self.dropout.forward(h, training=training, rng=rng)
        logits, head_cache = self.head.forward(h)
        return logits, state, (emb_cache, rnn_cache, drop_cache, head_cache)

    def backward(self, dlogits: ndarray, dstate: State | None, cache) -> Grads:
        """dlogits: (B, T, V) -> grads with the keys of ``params`` (token ids have no gradient)."""
        emb_cache, rnn_cache, drop_cache, head_cache = cache
        dh, head_grads = self.head.backward(dlogits, head_cache)
        dh = self.dropout.backward(dh, drop_cache)
        de, _, rnn_grads = self.rnn.backward(dh, dstate, rnn_cache)
        _, emb_grads = self.embedding.backward(de, emb_cache)
        grads = {**prefixed("embedding", emb_grads), **prefixed("rnn", rnn_grads), **prefixed("head", head_grads)}
        return {k: grads[k] for k in self.params}

    def step(self, ids: ndarray, state: State | None = None) -> tuple[ndarray, State]:
        """One token per sequence, for generation: ids: (B,) -> logits: (B, V), new state."""
        e = self.embedding.weight[ids]
        h, state = self.rnn.step(e, state)
        return h @ self.head.params["W"] + self.head.params["b"], state

    def load_params(self, arrays: Params) -> None:
        """Copy ``arrays`` (the keys of ``params``) into the parameters, in place."""
        missing, extra = set(self.params) - set(arrays), set(arrays) - set(self.params)
        if missing or extra:
            raise ValueError(f"{self!r}: parameters do not match; missing {sorted(missing)}, "
                             f"unexpected {sorted(extra)}")
        for k, v in arrays.items():
            if v.shape != self.params[k].shape:
                raise ValueError(f"{self!r}: {k} has shape {v.shape}, expected {self.params[k].shape}")
            self.params[k][...] = v


    def save(self, path) -> None:
        """One safetensors file: the parameters, and the config and vocabulary in its metadata."""
        metadata = {"kind": self.kind, "config": asdict(self.config), "dtype": self.dtype.name,
                    "vocab": None if self.vocab is None else self.vocab.to_dict()}
        save_model_file(path, self.params, metadata)

    @classmethod
    def from_file_contents(cls, arrays: Params, metadata: dict, path: str) -> LanguageModel:
        try:
            config = LanguageModelConfig(**metadata["config"])
            vocab = None if metadata.get("vocab") is None else Vocabulary.from_dict(metadata["vocab"])
            model = cls(config, vocab, seed=0, dtype=np.dtype(metadata.get("dtype", "float32")))
            model.load_params(arrays)
        except (KeyError, TypeError, ValueError) as e:
            raise ModelFileError(f"{path}: not a valid language model file ({e})") from e
        return model

    def evaluate_file(self, path) -> dict[str, float]:
        """Loss on a UTF-8 text file: nats per token, bits per character, perplexity."""
        return evaluate_text(self, read_text(path))

    def sample(self, length: int = 500, prime: str = "", temperature: float = 1.0, top_k: int | None = None,
               seed: Seed = None, stop_at_eos: bool = False) -> str:
        """Generate text; see :func:`rnnkit.sampling.sample`."""
        return sample(self, length=length, prime=prime, temperature=temperature, top_k=top_k, seed=seed,
                      stop_at_eos=stop_at_eos)


__all__ = ["LanguageModel", "LanguageModelConfig"]
