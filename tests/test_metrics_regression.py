"""RMSE, MAE and MASE against values worked out by hand, and their input checks."""
import math

import numpy as np
import pytest

from rnnkit.metrics.regression import mae, mase, naive_scale, rmse


def test_rmse_and_mae_by_hand():
    y_true, y_pred = [3.0, -0.5, 2.0, 7.0], [2.5, 0.0, 2.0, 8.0]   # errors 0.5, -0.5, 0, -1
    assert mae(y_true, y_pred) == pytest.approx((0.5 + 0.5 + 0 + 1) / 4)
    assert rmse(y_true, y_pred) == pytest.approx(math.sqrt((0.25 + 0.25 + 0 + 1) / 4))
    assert rmse(y_true, y_true) == 0.0


def test_mase_by_hand():
    # naive in sample: |3-1|, |2-3|, |5-2|, |4-5| = 2, 1, 3, 1 -> scale 7/4
    y_train = [1, 3, 2, 5, 4]
    assert naive_scale(y_train) == pytest.approx(1.75)
    # forecast errors |6-5|, |5-7| = 1, 2 -> MAE 1.5 -> MASE 1.5 / 1.75 = 6/7
    assert mase([6, 5], [5, 7], y_train) == pytest.approx(6 / 7)
    # season 2: |2-1|, |5-3|, |4-2|, |6-5| = 1, 2, 2, 1 -> scale 1.5, so MAE 1.5 gives MASE 1
    assert mase([6, 5], [5, 7], [1, 3, 2, 5, 4, 6], season=2) == pytest.approx(1.0)


def test_mase_scales_each_channel_by_its_own_naive_error():
    y_train = np.array([[1, 10], [3, 30], [2, 20]])       # scales 1.5 and 15
    y_true, y_pred = np.array([[4, 40]]), np.array([[1, 10]])   # errors 3 and 30: 2 scaled units each
    assert mase(y_true, y_pred, y_train) == pytest.approx(2.0)
    # so a channel in other units does not dominate: the same as each channel alone
    assert mase(y_true, y_pred, y_train) == pytest.approx(mase([4], [1], [1, 3, 2]))


def test_mase_of_the_naive_forecast_on_its_training_series_is_one():
    y = np.random.default_rng(0).normal(size=50).cumsum()
    assert mase(y[1:], y[:-1], y) == pytest.approx(1.0)


@pytest.mark.parametrize("call, message", [
    (lambda: rmse([1, 2], [1, 2, 3]), "y_true has shape (2,) but y_pred has (3,)"),
    (lambda: mae([1, np.nan], [1, 2]), "y_true contains nan at position (1,)"),
    (lambda: rmse([], []), "y_true is empty"),
    (lambda: mae(["a"], ["b"]), "expected numbers in y_true"),
    (lambda: mase([1], [1], [5, 5, 5]), "the seasonal naive forecast (season 1) is exact"),
    (lambda: mase([1], [1], [1, 2], season=2), "y_train needs more than season = 2 values, got 2"),
    (lambda: mase([1], [1], [1, 2, 3], season=0), "season must be a positive int, got 0"),
    (lambda: mase([1, 2], [1, 2], [[1, 2], [2, 4]]), "y_train has 2 channels, so y_true must be (N, 2)"),
    (lambda: mase([[1, 2]], [[1, 2]], [1, 2, 4]), "y_train is univariate (T,), so y_true must be (N,)"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises((ValueError, TypeError)) as e:
        call()
    assert message in str(e.value)
