"""Sequence-labelling metrics: token accuracy, and entity-level precision, recall and F1 for BIO
tags with conlleval's semantics.

An entity is a maximal span ``B-X I-X ... I-X``; it counts as correct only if the predicted
entity has the same start, the same end and the same type. How conlleval reads the irregular
cases, which :func:`entity_spans` follows:

- ``I-X`` after ``O``, at the start of a sentence, or after an entity of another type starts a
  new entity of type X (so IOB1 files and sloppy predictions are read the way conlleval does);
- ``B-X`` always starts a new entity, even right after another ``X`` entity;
- an entity never crosses a sentence boundary.

Precision = correct / predicted entities, recall = correct / gold entities, F1 their harmonic
mean; each is 0.0 when its denominator is 0 (conlleval prints 0.00 there too).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

Span = tuple[int, int, int, str]
"""``(sentence, start, end, type)`` of an entity, ``end`` exclusive."""


def _check_pair(who: str, gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> None:
    if isinstance(gold, str) or isinstance(pred, str):
        raise TypeError(f"{who}: expected lists of tag lists (one per sentence), got a str")
    if len(gold) != len(pred):
        raise ValueError(f"{who}: gold has {len(gold)} sentences, predictions have {len(pred)}")
    for s, (g, p) in enumerate(zip(gold, pred)):
        if isinstance(g, str) or isinstance(p, str):
            raise TypeError(f"{who}: sentence {s} is a str; expected a list of tags")
        if len(g) != len(p):
            raise ValueError(f"{who}: sentence {s} has {len(g)} gold tags and {len(p)} predicted")


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Fraction of tokens whose predicted tag equals the gold tag, over all sentences."""
    who = "token_accuracy"
    _check_pair(who, gold, pred)
    total = sum(len(g) for g in gold)
    if total == 0:
        raise ValueError(f"{who}: no tokens to score")
    right = sum(a == b for g, p in zip(gold, pred) for a, b in zip(g, p))
    return right / total


def _split_tag(tag: str, who: str, where: str) -> tuple[str, str]:
    """``"B-PER"`` -> ``("B", "PER")``, ``"O"`` -> ``("O", "")``; a ValueError for anything else."""
    if tag == "O":
        return "O", ""
    if isinstance(tag, str) and len(tag) > 2 and tag[0] in "BI" and tag[1] == "-":
        return tag[0], tag[2:]
    raise ValueError(f"{who}: tag {tag!r} at {where} is not BIO (O, B-TYPE or I-TYPE)")


def entity_spans(tags: Sequence[Sequence[str]], who: str = "entity_spans") -> set[Span]:
    """The entities of BIO-tagged sentences as ``(sentence, start, end, type)`` (see the module
    docstring for how irregular ``I-`` tags are read)."""
    spans: set[Span] = set()
    for s, sentence in enumerate(tags):
        start, kind = None, ""
        for k, tag in enumerate(list(sentence) + ["O"]):          # "O" closes the last entity
            prefix, typ = _split_tag(tag, who, f"sentence {s}, token {k}")
            continues = prefix == "I" and start is not None and typ == kind
            if start is not None and not continues:
                spans.add((s, start, k, kind))
                start = None
            if prefix == "B" or (prefix == "I" and not continues):
                start, kind = k, typ
    return spans


def _prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f}


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Entity-level scores: ``{"precision", "recall", "f1", "correct", "predicted", "gold",
    "per_type": {type: {"precision", "recall", "f1", "gold"}}}`` (fractions in [0, 1])."""
    who = "entity_scores"
    _check_pair(who, gold, pred)
    g, p = entity_spans(gold, who), entity_spans(pred, who)
    correct = g & p
    out = {**_prf(len(correct), len(p), len(g)), "correct": len(correct), "predicted": len(p),
           "gold": len(g)}
    counts = [Counter(span[3] for span in spans) for spans in (correct, p, g)]
    out["per_type"] = {t: {**_prf(counts[0][t], counts[1][t], counts[2][t]), "gold": counts[2][t]}
                       for t in sorted(set(counts[1]) | set(counts[2]))}
    return out


def entity_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """Entity-level F1 (see :func:`entity_scores`)."""
    return entity_scores(gold, pred)["f1"]


def is_bio(tags: Sequence[Sequence[str]] | Sequence[str]) -> bool:
    """True when every tag is ``O``, ``B-TYPE`` or ``I-TYPE`` (accepts sentences or a tag set)."""
    flat = [t for item in tags for t in ([item] if isinstance(item, str) else item)]
    return bool(flat) and all(t == "O" or (len(t) > 2 and t[0] in "BI" and t[1] == "-") for t in flat)


__all__ = ["Span", "entity_f1", "entity_scores", "entity_spans", "is_bio", "token_accuracy"]
