import numpy as np
import pytest

from tsforecast.evaluation import point_metrics


def test_point_metrics_against_hand_computed_values():
    actual = np.array([[[1.0], [2.0]], [[4.0], [-2.0]]])  # (2 windows, 2 steps, 1 target)
    forecast = np.array([[[2.0], [2.0]], [[3.0], [0.0]]])
    errors = np.array([1.0, 0.0, -1.0, 2.0])
    metrics = point_metrics(actual, forecast, np.array([0.5]), actual / 2, forecast / 2, ("y",))
    assert metrics["mae"] == pytest.approx(1.0)
    assert metrics["mse"] == pytest.approx(np.mean(errors**2))
    assert metrics["rmse"] == pytest.approx(np.sqrt(1.5))
    assert metrics["mape"] == pytest.approx(100 * np.mean([1 / 1, 0 / 2, 1 / 4, 2 / 2]))
    assert metrics["smape"] == pytest.approx(100 * np.mean([2 / 3, 0, 2 / 7, 4 / 2]))
    assert metrics["mase"] == pytest.approx(1.0 / 0.5)
    assert metrics["scaled_mse"] == pytest.approx(1.5 / 4)
    assert metrics["scaled_mae"] == pytest.approx(0.5)
    assert metrics["mae_by_step"] == pytest.approx([1.0, 1.0])


def test_mape_skips_zero_actuals_and_per_target_is_reported():
    actual = np.zeros((1, 1, 2))
    actual[0, 0, 1] = 2.0
    forecast = np.ones((1, 1, 2))
    metrics = point_metrics(actual, forecast, np.ones(2), actual, forecast, ("a", "b"))
    assert metrics["mape"] == pytest.approx(50.0)
    assert metrics["per_target"]["a"]["mae"] == pytest.approx(1.0)
    assert metrics["per_target"]["b"]["mae"] == pytest.approx(1.0)
