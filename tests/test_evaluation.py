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


def test_chunked_evaluation_matches_one_pass(workdir):
    """Metrics are running sums over chunks of windows: the chunk size changes nothing."""
    from conftest import base_config

    from tsforecast.config import config_from_dict
    from tsforecast.data.prepared import prepare_data
    from tsforecast.evaluation import compare_with_baselines
    from tsforecast.models.heads import Forecast

    config = config_from_dict(base_config(str(workdir / "series.csv")))
    prepared = prepare_data(config)
    n = len(prepared.starts["test"])
    rng = np.random.default_rng(0)
    point = rng.normal(size=(n, 4, 1))
    quantiles = np.sort(rng.normal(size=(n, 4, 1, 3)), axis=-1)
    forecast = Forecast(point, quantiles, (0.1, 0.5, 0.9))
    whole = compare_with_baselines(prepared, "test", forecast, 12, 4, chunk=n)
    chunked = compare_with_baselines(prepared, "test", forecast, 12, 4, chunk=7)
    by_starts = compare_with_baselines(
        prepared,
        "test",
        lambda starts: Forecast(
            point[np.searchsorted(prepared.starts["test"], starts)],
            quantiles[np.searchsorted(prepared.starts["test"], starts)],
            (0.1, 0.5, 0.9),
        ),
        12,
        4,
        chunk=5,
    )
    for other in (chunked, by_starts):
        assert other["n_windows"] == whole["n_windows"] == n
        for who in ("model", "naive"):
            for key in ("mae", "mse", "rmse", "mape", "smape", "mase", "scaled_mse"):
                assert other[who][key] == pytest.approx(whole[who][key], rel=1e-12)
        for key in ("coverage", "mean_width", "pinball", "crossing"):
            assert other["model"]["interval"][key] == pytest.approx(whole["model"]["interval"][key])
    manual = point_metrics(
        np.stack([prepared.table.values[s + 12 : s + 16, :1] for s in prepared.starts["test"]]),
        prepared.scaler.inverse_targets(point),
        prepared.mase_scale,
        np.stack([prepared.scaled[s + 12 : s + 16, :1] for s in prepared.starts["test"]]),
        point,
        ("y",),
    )
    assert whole["model"]["mse"] == pytest.approx(manual["mse"])


def test_mase_is_scored_per_series_so_scales_do_not_mix():
    from tsforecast.evaluation import ErrorSums

    rng = np.random.default_rng(0)
    actual = rng.normal(size=(6, 3, 1))
    forecast = actual + rng.normal(size=(6, 3, 1))
    one = ErrorSums(3, 1)
    one.add(actual, forecast, actual, forecast)
    single = one.metrics(np.array([2.0]), ("y",))["mase"]
    # the same series twice, the second 1000 times larger, with its scale 1000 times larger
    both = ErrorSums(3, 1, n_series=2)
    both.add(actual, forecast, actual, forecast, np.zeros(6, dtype=int))
    both.add(1000 * actual, 1000 * forecast, actual, forecast, np.ones(6, dtype=int))
    assert both.metrics(np.array([[2.0], [2000.0]]), ("y",))["mase"] == pytest.approx(single)


@pytest.mark.parametrize("season", [1, 5, 12])
def test_numpy_baselines_forecast_what_the_naive_models_do(workdir, season):
    """Every run is scored beside numpy baselines, and the ``naive`` and ``seasonal_naive``
    models are Keras layers: on every window whose season fits in the input, they agree."""
    from conftest import base_config

    from tsforecast.config import config_from_dict
    from tsforecast.data.prepared import prepare_data
    from tsforecast.evaluation import naive_forecast, seasonal_naive_forecast
    from tsforecast.models.layers import LastValue, SeasonalNaive

    config = base_config(str(workdir / "panel.csv"))
    config["data"]["id_column"] = "id"
    config["window"] = {"input_width": 12, "horizon": 7}
    prepared = prepare_data(config_from_dict(config))
    starts = np.concatenate([prepared.starts["val"], prepared.starts["test"]])
    inputs = np.stack([prepared.scaled[s : s + 12] for s in starts])  # (windows, 12, 2)
    assert len(np.unique(np.searchsorted(prepared.table.offsets, starts, "right"))) == 3

    seasonal = SeasonalNaive(7, 1, season)(inputs)
    np.testing.assert_array_equal(
        np.asarray(seasonal), seasonal_naive_forecast(prepared, starts, 12, 7, season)
    )
    if season == 1:
        naive = naive_forecast(prepared.scaled, starts, 12, 7, 1)
        np.testing.assert_array_equal(np.asarray(LastValue(7, 1)(inputs)), naive)
        np.testing.assert_array_equal(np.asarray(seasonal), naive)


def test_seasonal_lags_repeat_the_last_season():
    from tsforecast.models.common import seasonal_lags

    assert seasonal_lags(7, 3).tolist() == [3, 2, 1, 3, 2, 1, 3]
    assert seasonal_lags(4, 1).tolist() == [1, 1, 1, 1]
    assert seasonal_lags(2, 24).tolist() == [24, 23]
