"""Training a :class:`SequenceTagger` with the shared :class:`~rnnkit.train.Trainer`: length-bucketed
batches, word dropout, selection on validation accuracy (or entity F1 for BIO tags)."""
from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from numpy import ndarray

from ..._types import Grads
from ...data.vocab import PAD, UNK, Vocabulary
from ...losses import softmax_cross_entropy
from ...metrics.tagging import entity_scores, is_bio
from ...train import Trainer
from .inputs import Sentences

if TYPE_CHECKING:
    from .estimator import SequenceTagger

POOL = 50
"""Batches per sorting pool: sentences are shuffled, sorted by length within pools of this many
batches, and the batches shuffled, so padding stays small while batches still vary by epoch."""


MIN_EVAL_STEPS = 300
"""The fewest steps between two evaluations (small data sets evaluate every few epochs)."""


def bucket_batches(lengths: ndarray, batch_size: int, rng: np.random.Generator) -> list[ndarray]:
    """Sentence indices in batches of similar length (a bucket iterator): (N,) lengths -> batches."""
    order = rng.permutation(len(lengths))
    pool = POOL * batch_size
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start:start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def split_validation(n: int, fraction: float, seed: int) -> tuple[ndarray, ndarray]:
    """A random ``fraction`` of ``range(n)`` held out for validation: (train indices, validation indices)."""
    if not 0 < fraction < 1:
        raise ValueError(f"val_fraction must lie in (0, 1), got {fraction}")
    order = np.random.default_rng([seed, 7]).permutation(n)
    cut = max(1, int(round(n * fraction)))
    if cut >= n:
        raise ValueError(f"too few sentences ({n}) to hold out a validation part; pass dev data")
    return np.sort(order[cut:]), np.sort(order[:cut])


def build_vocabularies(tagger: SequenceTagger, sentences: Sentences, tags: Sentences):
    """Words (by count, ``<PAD>`` 0 and ``<UNK>`` 1), characters (``<PAD>`` 0, ``<UNK>`` 1) and tags
    (sorted) of the training data, and the word counts for word dropout."""
    c = tagger.config_
    counts = Counter(tagger._word_key(t) for s in sentences for t in s)
    words = Vocabulary.build_words([list(counts.elements())], min_count=c.min_count, specials=(PAD, UNK))
    chars = Vocabulary.build_chars("".join(t for s in sentences for t in s), specials=(PAD, UNK))
    labels = Vocabulary(sorted({t for s in tags for t in s}), level="word")
    return words, chars, labels, counts


class TaggerTask:
    """One step = one batch of ``batch_size`` sentences of similar length; the batches of epoch e
    come from a Generator seeded with ``(seed, e)``, so step k is a pure function of k (exact resume).
    The loss is the mean cross-entropy over the batch's tokens."""

    def __init__(self, tagger: SequenceTagger, sentences: Sentences, tags: Sentences,
                 dev_sentences: Sentences, dev_tags: Sentences, counts: Counter, batch_size: int, seed: int,
                 eval_batch_size: int = 256):
        self.tagger, self.sentences, self.batch_size, self.seed = tagger, sentences, batch_size, seed
        words = tagger.word_vocabulary_
        self.word_ids = [words.encode([tagger._word_key(t) for t in s]) for s in sentences]
        self.tag_ids = [tagger.tag_ids(t) for t in tags]
        self.char_table = tagger.char_table(sentences) if tagger.network_.char_encoder is not None else None
        self.lengths = np.fromiter((len(s) for s in sentences), np.int64, len(sentences))
        # word dropout: p(<UNK>) = alpha / (alpha + count); never for <PAD>, <UNK> itself
        alpha = tagger.config_.word_dropout
        n = np.array([counts.get(w, 0) for w in words.tokens], np.float64)
        self.p_unk = np.where(n > 0, alpha / np.maximum(alpha + n, 1e-12), 0.0)
        self.steps_per_epoch = math.ceil(len(sentences) / batch_size)
        self._plan: tuple[int, list] | None = None
        self.dev_tags = dev_tags
        self.bio = is_bio(tagger.tag_vocabulary_.tokens) and is_bio(dev_tags)
        order = sorted(range(len(dev_sentences)), key=lambda i: len(dev_sentences[i]))
        self.dev_order = order
        self.dev_batches = [tagger.make_batch([dev_sentences[i] for i in order[k:k + eval_batch_size]],
                                              [dev_tags[i] for i in order[k:k + eval_batch_size]])
                            for k in range(0, len(order), eval_batch_size)]

    def batches_of_epoch(self, epoch: int) -> list[ndarray]:
        if self._plan is None or self._plan[0] != epoch:
            self._plan = (epoch, bucket_batches(self.lengths, self.batch_size,
                                                np.random.default_rng([self.seed, epoch])))
        return self._plan[1]

    def train_step(self, step: int, rng: np.random.Generator) -> tuple[float, Grads, int]:
        epoch, k = divmod(step, self.steps_per_epoch)
        index = self.batches_of_epoch(epoch)[k]
        tagger = self.tagger
        batch = tagger.make_batch([self.sentences[i] for i in index], char_table=self.char_table,
                                  word_ids=[self.word_ids[i] for i in index],
                                  tag_ids=[self.tag_ids[i] for i in index])
        drop = rng.random(batch.words.shape) < self.p_unk[batch.words]
        batch = batch._replace(words=np.where(drop, tagger.word_vocabulary_.unk_id, batch.words))
        logits, cache = tagger.network_.forward(batch, training=True, rng=rng)
        loss, dlogits = softmax_cross_entropy(logits, batch.tags, mask=batch.tags >= 0)
        return loss, tagger.network_.backward(dlogits, batch, cache), int(batch.mask.sum())

    def evaluate(self) -> dict[str, float]:
        """Validation cross-entropy per token (over tags the model knows), accuracy, and entity
        precision/recall/F1 when the tags are BIO."""
        network, names = self.tagger.network_, self.tagger.tag_vocabulary_.tokens
        total, count, right, tokens = 0.0, 0, 0, 0
        pred: list[list[str] | None] = [None] * len(self.dev_order)
        position = 0
        for batch in self.dev_batches:
            logits, _ = network.forward(batch, training=False)
            known = batch.tags >= 0
            loss, _ = softmax_cross_entropy(logits, batch.tags, mask=known, reduction="sum")
            total, count = total + loss, count + int(known.sum())
            best = logits.argmax(-1)
            right += int(((best == batch.tags) & known).sum())
            tokens += int(batch.mask.sum())
            for b in range(len(batch.lengths)):
                pred[self.dev_order[position]] = [names[i] for i in best[b, :batch.lengths[b]].tolist()]
                position += 1
        metrics = {"loss": total / max(count, 1), "accuracy": right / max(tokens, 1)}
        if self.bio:
            e = entity_scores(self.dev_tags, pred)
            metrics.update(precision=e["precision"], recall=e["recall"], f1=e["f1"])
        return metrics

    def state_arrays(self) -> dict[str, ndarray]:
        return {}

    def load_state_arrays(self, arrays: dict[str, ndarray]) -> None:
        pass


def fit_tagger(tagger: SequenceTagger, sentences: Sentences, tags: Sentences, dev_sentences: Sentences,
               dev_tags: Sentences, log: Callable[[str], None]) -> list[dict]:
    """Build ``tagger``'s vocabularies and network afresh from the data (checked, and its
    hyperparameters checked, by :meth:`SequenceTagger.fit`) and train it with the shared
    :class:`~rnnkit.train.Trainer`; returns the history.

    The tagger's training defaults differ from the language model's: one evaluation per epoch
    (at least ``MIN_EVAL_STEPS`` steps apart), patience 3, selection on validation accuracy (entity
    F1 for BIO tags), and a moving average of the weights (``average=0.999``)."""
    words, chars, labels, counts = build_vocabularies(tagger, sentences, tags)
    tagger._build(words, chars, labels, tagger.config_, seed=tagger.seed)
    if tagger.word_vectors is not None:
        from ...data.word_vectors import embedding_matrix, read_word_vectors
        vectors = read_word_vectors(tagger.word_vectors, words.tokens[2:])
        found = embedding_matrix(list(words.tokens), vectors, tagger.params["words.E"])
        tagger.params["words.E"][0] = 0.0
        log(f"word vectors from {os.fspath(tagger.word_vectors)} for {found:,} of {len(words) - 2:,} words")
    bio = is_bio(labels.tokens) and is_bio(dev_tags)
    batch_size, seed = tagger.batch_size, tagger.seed
    task = TaggerTask(tagger, sentences, tags, dev_sentences, dev_tags, counts, batch_size, seed)
    # once an epoch, but at least MIN_EVAL_STEPS apart: on small NER sets entity F1 stays 0 for the
    # first epochs while the model learns that most tokens are O, and patience counted in such short
    # epochs stopped training there (WNUT17: 107 steps an epoch)
    eval_every = tagger.eval_every if tagger.eval_every is not None else max(task.steps_per_epoch, MIN_EVAL_STEPS)
    config = tagger._train_config(eval_every, "f1" if bio else "accuracy")
    n_tokens = int(task.lengths.sum())
    # the same record as before the estimator API, so checkpoints written then still resume
    describe = {"model": vars(tagger.config_), "sentences": len(sentences), "tokens": n_tokens,
                "dev_sentences": len(dev_sentences), "batch_size": batch_size}
    log(f"tagger: {len(sentences):,} sentences ({n_tokens:,} tokens), {len(words):,} words, "
        f"{len(chars):,} characters, {len(labels)} tags; {sum(p.size for p in tagger.params.values()):,} "
        f"parameters; {task.steps_per_epoch} steps per epoch, evaluation every {config.eval_every}")
    trainer = Trainer(tagger.params, task, config, save_model=tagger.save, out=tagger.out, describe=describe, log=log)
    return trainer.fit(resume=tagger.resume)


__all__ = ["TaggerTask", "bucket_batches", "build_vocabularies", "fit_tagger", "split_validation"]
