import json

import numpy as np
import pandas as pd
import pytest
from conftest import base_config

from tsforecast.commands.predict import predict
from tsforecast.commands.train import train
from tsforecast.config import config_from_dict, load_config
from tsforecast.runs import load_run


def make_config(workdir, **model):
    raw = base_config(str(workdir / "series.csv"))
    raw["model"] = {"type": "linear", **model}
    return config_from_dict(raw)


def test_run_directory_is_complete(workdir):
    result = train(make_config(workdir))
    run = result.run_dir
    for name in ("config.yaml", "model.keras", "scaler.json", "history.csv", "metrics.json"):
        assert (run / name).is_file(), name
    assert (run / "plots" / "learning_curve.png").stat().st_size > 1000
    assert (run / "plots" / "forecast.png").stat().st_size > 1000
    report = (run / "report.html").read_text()
    assert report.startswith("<!DOCTYPE html>") and report.count("data:image/png;base64,") == 2
    assert "Test metrics" in report and "seasonal naive" in report and "Periods" in report
    assert not any(p.name.startswith(".") for p in run.iterdir())
    metrics = json.loads((run / "metrics.json").read_text())
    for part in ("val", "test"):
        for who in ("model", "naive"):
            for key in ("mae", "rmse", "mse", "mape", "smape", "mase", "scaled_mse", "scaled_mae"):
                assert np.isfinite(metrics[part][who][key]), (part, who, key)
            assert len(metrics[part][who]["mae_by_step"]) == 4
    assert metrics["run"]["versions"]["keras"].startswith("3.")
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == [0, 1]
    # The resolved config reproduces the run by itself.
    assert load_config(run / "config.yaml") == make_config(workdir)


def test_metrics_are_computed_from_the_saved_model(workdir):
    """Recompute the test MSE from the saved model, scaler and data by hand."""
    result = train(make_config(workdir))
    run = load_run(result.run_dir)
    frame = pd.read_csv(workdir / "series.csv")
    values = frame[["y", "x"]].to_numpy()
    n = len(values)
    test_start = n - round(0.2 * n)
    scaled = run.scaler.transform(values).astype("float32")
    inputs = np.stack([scaled[t - 12 : t] for t in range(test_start, n - 4 + 1)])
    actual = np.stack([values[t : t + 4, :1] for t in range(test_start, n - 4 + 1)])
    forecast = run.scaler.inverse_targets(run.model.predict(inputs, verbose=0))
    assert result.metrics["test"]["n_windows"] == len(inputs)
    assert result.metrics["test"]["model"]["mse"] == pytest.approx(
        np.mean((forecast - actual) ** 2), rel=1e-4
    )
    naive = np.repeat(values[test_start - 1 : n - 4, None, :1], 4, axis=1)
    assert result.metrics["test"]["naive"]["mse"] == pytest.approx(np.mean((naive - actual) ** 2))


def test_changing_test_values_leaves_scaler_and_weights_unchanged(workdir):
    config = make_config(workdir, l2=0.0)
    first = load_run(train(config).run_dir)
    frame = pd.read_csv(workdir / "series.csv")
    n = len(frame)
    frame.loc[n - round(0.2 * n) :, ["y", "x"]] += 1000.0  # test rows only
    frame.to_csv(workdir / "series.csv", index=False)
    second_result = train(config)
    second = load_run(second_result.run_dir)
    assert first.scaler.to_dict() == second.scaler.to_dict()
    for a, b in zip(first.model.get_weights(), second.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert second_result.metrics["test"]["model"]["mse"] > first.metrics["test"]["model"]["mse"]


def test_same_seed_gives_identical_metrics(workdir):
    config = make_config(workdir)
    first = train(config).run_dir
    second = train(config).run_dir
    assert (first / "metrics.json").read_text() == (second / "metrics.json").read_text()


def test_naive_model_needs_no_training(workdir):
    raw = base_config(str(workdir / "series.csv"))
    raw["model"] = {"type": "naive"}
    result = train(config_from_dict(raw))
    metrics = result.metrics
    assert metrics["training"]["epochs_trained"] == 0
    assert metrics["test"]["model"]["mse"] == pytest.approx(metrics["test"]["naive"]["mse"])


def test_predict_panel_continues_timestamps_per_series(workdir):
    raw = base_config(str(workdir / "panel.csv"))
    raw["data"]["id_column"] = "id"
    raw["model"] = {"type": "naive"}
    result = train(config_from_dict(raw))
    forecast = predict(result.run_dir).frame
    assert list(forecast.columns) == ["id", "time", "y"]
    assert len(forecast) == 3 * 4
    first = forecast[forecast["id"] == "s0"]
    assert list(pd.to_datetime(first["time"]).dt.strftime("%H:%M")) == [
        "00:00",
        "01:00",
        "02:00",
        "03:00",
    ]
    # The last-value model makes each forecast repeat the end of its own series.
    panel = pd.read_csv(workdir / "panel.csv")
    last = panel.groupby("id")["y"].last()
    for name, rows in forecast.groupby("id"):
        np.testing.assert_allclose(rows["y"], last[name], rtol=1e-5)


def noisy_sine(workdir, n=600, noise=2.0, seed=3):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
            "y": 10 * np.sin(2 * np.pi * t / 24) + 20 + rng.normal(0, noise, n),
        }
    )
    frame.to_csv(workdir / "noisy.csv", index=False)
    raw = base_config(str(workdir / "noisy.csv"))
    raw["data"]["feature_columns"] = []
    raw["window"] = {"input_width": 24, "horizon": 4}
    return raw


def test_quantile_head_orders_its_quantiles_and_covers_the_data(workdir):
    raw = noisy_sine(workdir)
    raw["model"] = {"type": "linear", "head": "quantile"}
    raw["training"] = {
        "epochs": 40,
        "batch_size": 32,
        "optimizer": {"learning_rate": 0.01},
        "early_stopping": {"patience": 5},
    }
    result = train(config_from_dict(raw))
    interval = result.metrics["test"]["model"]["interval"]
    assert interval["levels"] == [0.1, 0.5, 0.9]
    assert interval["nominal_coverage"] == pytest.approx(0.8)
    assert interval["crossing"] == 0.0
    assert 0.65 <= interval["coverage"] <= 0.95, interval
    assert result.metrics["test"]["beats_naive"]

    from tsforecast.reports import summary_table

    assert "quantile interval (nominal 80%) covers" in summary_table(result.metrics)
    forecast = predict(result.run_dir).frame
    assert list(forecast.columns) == ["time", "y_lower", "y_median", "y_upper"]
    assert (forecast["y_lower"] <= forecast["y_median"]).all()
    assert (forecast["y_median"] <= forecast["y_upper"]).all()
    # The point metrics are those of the median.
    run = load_run(result.run_dir)
    scaled = run.scaler.transform(pd.read_csv(workdir / "noisy.csv")[["y"]].to_numpy())
    n = len(scaled)
    starts = np.arange(n - round(0.2 * n) - 24, n - 24 - 4 + 1)
    inputs = np.stack([scaled[s : s + 24] for s in starts]).astype("float32")
    median = run.scaler.inverse_targets(run.model.predict(inputs, verbose=0)[..., 1])
    actual = np.stack([scaled[s + 24 : s + 28] for s in starts])
    actual = run.scaler.inverse_targets(actual)
    assert result.metrics["test"]["model"]["mse"] == pytest.approx(
        np.mean((median - actual) ** 2), rel=1e-4
    )


def test_sequence_head_is_scored_on_its_last_step(workdir):
    raw = base_config(str(workdir / "series.csv"))
    raw["model"] = {
        "type": "conv1d",
        "filters": [8],
        "kernel_size": 4,
        "strides": 2,
        "recurrent": "gru",
        "recurrent_units": [8],
        "head": "sequence",
    }
    result = train(config_from_dict(raw))
    run = load_run(result.run_dir)
    frame = pd.read_csv(workdir / "series.csv")
    values = frame[["y", "x"]].to_numpy()
    n = len(values)
    scaled = run.scaler.transform(values).astype("float32")
    starts = np.arange(n - round(0.2 * n) - 12, n - 12 - 4 + 1)
    raw_out = run.model.predict(np.stack([scaled[s : s + 12] for s in starts]), verbose=0)
    assert raw_out.shape == (len(starts), 6, 4, 1)  # 12 steps, stride 2: 6 forecasts
    last = run.scaler.inverse_targets(raw_out[:, -1])
    actual = np.stack([values[s + 12 : s + 16, :1] for s in starts])
    assert result.metrics["test"]["model"]["mse"] == pytest.approx(
        np.mean((last - actual) ** 2), rel=1e-4
    )
    assert result.metrics["architecture"] == {
        "head": "sequence",
        "input_width": 12,
        "receptive_field": None,
    }


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ({"name": "exponential", "decay_rate": 0.5}, [0.01, 0.005, 0.0025]),
        ({"name": "cosine"}, [0.01 * (1 + np.cos(np.pi * e / 3)) / 2 for e in (0, 1, 2)]),
        ({"name": "plateau", "patience": 0, "factor": 0.5}, [1e-9, 1e-9, 5e-10]),
    ],
)
def test_learning_rate_schedules(workdir, schedule, expected):
    raw = base_config(str(workdir / "series.csv"))
    rate = 1e-9 if schedule["name"] == "plateau" else 0.01  # a plateau from the first epoch
    raw["training"] = {
        "epochs": 3,
        "batch_size": 32,
        "optimizer": {"learning_rate": rate},
        "lr_schedule": schedule,
        "early_stopping": {"enabled": False},
    }
    result = train(config_from_dict(raw))
    history = pd.read_csv(result.run_dir / "history.csv")
    # The rate each epoch started with; a plateau reduces it after the second epoch.
    np.testing.assert_allclose(history["learning_rate"], expected, rtol=1e-5)
