"""Classification metrics: hand-worked values, label types, bad input."""
import numpy as np
import pytest

from rnnkit.metrics.classification import accuracy, confusion_matrix, macro_f1, per_class_f1


def test_hand_worked_example():
    y_true = ["cat", "cat", "dog", "dog", "dog", "eel"]
    y_pred = ["cat", "dog", "dog", "dog", "cat", "dog"]
    assert accuracy(y_true, y_pred) == pytest.approx(3 / 6)
    cm = confusion_matrix(y_true, y_pred)                   # rows true, columns predicted
    np.testing.assert_array_equal(cm, [[1, 1, 0], [1, 2, 0], [0, 1, 0]])
    # F1: cat 2*1/(2+2) = 0.5; dog 2*2/(3+4) = 4/7; eel 0 (never predicted, one missed)
    np.testing.assert_allclose(per_class_f1(cm), [0.5, 4 / 7, 0.0])
    assert macro_f1(y_true, y_pred) == pytest.approx((0.5 + 4 / 7) / 3)


def test_labels_order_and_unseen_classes():
    cm = confusion_matrix([2, 1, 1], [1, 1, 3], labels=[3, 2, 1, 0])
    np.testing.assert_array_equal(cm, [[0, 0, 0, 0], [0, 0, 1, 0], [1, 0, 1, 0], [0, 0, 0, 0]])
    # a class absent from both lists counts 0 in the macro mean, as scikit-learn's zero_division=0
    assert macro_f1([1, 1], [1, 1], labels=[1, 2]) == pytest.approx(0.5)
    assert macro_f1([1, 1], [1, 1]) == 1.0


def test_mixed_label_types_and_numpy_arrays():
    assert confusion_matrix([1, "1"], ["1", 1]).tolist() == [[0, 1], [1, 0]]
    assert accuracy(np.array([0, 1, 2]), np.array([0, 1, 1])) == pytest.approx(2 / 3)


def test_bad_input():
    with pytest.raises(ValueError, match="accuracy: y_true has 2 labels, y_pred has 1"):
        accuracy([1, 2], [1])
    with pytest.raises(ValueError, match="macro_f1|confusion_matrix: no labels"):
        macro_f1([], [])
    with pytest.raises(ValueError, match=r"confusion_matrix: label 'z' is not in labels \['a'\]"):
        confusion_matrix(["a"], ["z"], labels=["a"])
