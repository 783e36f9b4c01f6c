"""Target transforms and per-series scaling, end to end through train and predict."""

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import base_config, invoke, run_dir_of, write_config


def seasonal(n: int = 144, level: float = 100.0, seed: int = 0) -> pd.DataFrame:
    """A trending, multiplicatively seasonal monthly series (like airline passengers)."""
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    y = (
        level
        * np.exp(0.01 * t)
        * (1 + 0.2 * np.sin(2 * np.pi * t / 12))
        * rng.uniform(0.97, 1.03, n)
    )
    times = pd.date_range("1949-01", periods=n, freq="MS").strftime("%Y-%m")
    return pd.DataFrame({"month": times, "passengers": y})


def config_for(folder: Path, data: str, **changes) -> Path:
    raw = base_config(str(folder / data), output={"dir": str(folder / "runs")})
    raw["data"].update(time_column="month", target_columns=["passengers"], feature_columns=[])
    raw["window"] = {"input_width": 36, "horizon": 12}
    raw["training"]["epochs"] = 2
    raw["data"].update(changes)
    return write_config(folder, raw, f"{abs(hash(str(changes)))}.yaml")


def train(config: Path, *args) -> Path:
    result = invoke("train", config, "-q", *args)
    return run_dir_of(result)


def test_log_difference_is_inverted_before_metrics_and_predict(tmp_path):
    seasonal().to_csv(tmp_path / "air.csv", index=False)
    plain = train(config_for(tmp_path, "air.csv"))
    logged = train(
        config_for(tmp_path, "air.csv", transform=["log", "difference"], difference_lag=12)
    )
    metrics = {run: json.loads((run / "metrics.json").read_text()) for run in (plain, logged)}
    # the naive baseline is the same in original units whatever the model reads
    assert metrics[logged]["test"]["naive"]["mse"] == pytest.approx(
        metrics[plain]["test"]["naive"]["mse"]
    )
    scaler = json.loads((logged / "scaler.json").read_text())
    assert scaler["transforms"]["names"] == ["log"]
    forecast = pd.read_csv(io.StringIO(invoke("predict", logged).stdout))
    assert list(forecast["month"]) == [f"1961-{m:02d}" for m in range(1, 13)]
    assert (forecast["passengers"] > 0).all()
    boxed = train(config_for(tmp_path, "air.csv", transform="box_cox"))
    lam = json.loads((boxed / "scaler.json").read_text())["transforms"]["lambdas"]
    assert len(lam) == 1 and np.isfinite(lam[0])


def test_a_value_a_transform_cannot_take_is_named(tmp_path):
    frame = seasonal()
    frame.loc[30, "passengers"] = 0.0
    frame.to_csv(tmp_path / "zero.csv", index=False)
    result = invoke("train", config_for(tmp_path, "zero.csv", transform=["log"]), "-q")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: data.transform log needs values positive, but column 'passengers' at 1951-07 "
        "in the series holds 0."
    )
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_each_series_is_scaled_by_its_own_training_rows(tmp_path):
    frames = []
    for i, level in enumerate((10.0, 1000.0, 50000.0)):
        frame = seasonal(level=level, seed=i)
        frame.insert(0, "firm", f"f{i}")
        frames.append(frame)
    pd.concat(frames).to_csv(tmp_path / "panel.csv", index=False)
    config = config_for(tmp_path, "panel.csv", id_column="firm")
    run = train(config)
    scaler = json.loads((run / "scaler.json").read_text())
    assert scaler["scope"] == "series" and scaler["ids"] == ["f0", "f1", "f2"]
    train_rows = frames[2]["passengers"].to_numpy()[: 144 - 2 * round(0.2 * 144)]
    assert scaler["offset"][2][0] == pytest.approx(train_rows.mean())
    forecast = pd.read_csv(io.StringIO(invoke("predict", run).stdout))
    levels = forecast.groupby("firm")["passengers"].mean()
    assert levels["f0"] < 100 < levels["f1"] < 10_000 < levels["f2"]
    frames[0].assign(firm="new").to_csv(tmp_path / "new.csv", index=False)
    result = invoke("predict", run, "--input", tmp_path / "new.csv")
    assert result.exit_code == 1
    assert "Series 'new' was not in the training data" in result.stderr
    shared = train(config_for(tmp_path, "panel.csv", id_column="firm", scaler_scope="global"))
    assert json.loads((shared / "scaler.json").read_text())["scope"] == "global"
    assert invoke("predict", shared, "--input", tmp_path / "new.csv").exit_code == 0
