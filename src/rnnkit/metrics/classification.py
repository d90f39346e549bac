"""Classification metrics on labels of any hashable type: accuracy, macro-F1, confusion matrix."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy import ndarray


def _pair(who: str, y_true, y_pred) -> tuple[list, list]:
    y_true, y_pred = list(y_true), list(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"{who}: y_true has {len(y_true)} labels, y_pred has {len(y_pred)}")
    if not y_true:
        raise ValueError(f"{who}: no labels to score")
    return y_true, y_pred


def accuracy(y_true: Sequence, y_pred: Sequence) -> float:
    """The fraction of positions where ``y_pred`` equals ``y_true``."""
    y_true, y_pred = _pair("accuracy", y_true, y_pred)
    return sum(t == p for t, p in zip(y_true, y_pred)) / len(y_true)


def confusion_matrix(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> ndarray:
    """(K, K) counts: row = true class, column = predicted class, in the order of ``labels``
    (default: the sorted union of both label sets, as scikit-learn does).

    Raises:
        ValueError: lengths differ, no labels, or a label is missing from ``labels``.
    """
    y_true, y_pred = _pair("confusion_matrix", y_true, y_pred)
    if labels is None:
        labels = sorted(set(y_true) | set(y_pred), key=_sort_key)
    index = {label: i for i, label in enumerate(labels)}
    if len(index) != len(labels):
        raise ValueError("confusion_matrix: labels contains duplicates")
    unknown = [v for v in (*y_true, *y_pred) if v not in index]
    if unknown:
        raise ValueError(f"confusion_matrix: label {unknown[0]!r} is not in labels {list(labels)}")
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(cm, ([index[t] for t in y_true], [index[p] for p in y_pred]), 1)
    return cm


def per_class_f1(cm: ndarray) -> ndarray:
    """F1 of each class from a confusion matrix: 2 TP / (2 TP + FP + FN); 0 for a class that is
    neither present nor predicted (scikit-learn's ``zero_division=0``)."""
    tp = np.diag(cm).astype(np.float64)
    denominator = cm.sum(axis=0) + cm.sum(axis=1)          # (TP + FP) + (TP + FN)
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def macro_f1(y_true: Sequence, y_pred: Sequence, labels: Sequence | None = None) -> float:
    """The unweighted mean of per-class F1 over ``labels`` (default: every class seen in either),
    equal to ``sklearn.metrics.f1_score(..., average="macro")``."""
    return float(per_class_f1(confusion_matrix(y_true, y_pred, labels)).mean())


def _sort_key(label):
    # mixed types (1 and "1") cannot be compared: order by type name first
    return (type(label).__name__, label)


__all__ = ["accuracy", "confusion_matrix", "macro_f1", "per_class_f1"]
