"""``tsforecast init`` drafts configs that train as written; ``tsforecast export`` writes a
SavedModel or TFLite file that forecasts what ``predict`` does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import (
    assert_cli_without_tensorflow,
    base_config,
    invoke,
    panel_frame,
    run_dir_of,
    write_config,
)

from tsforecast.config import load_config


def monthly_frame(n: int = 144, seed: int = 0) -> pd.DataFrame:
    """A monthly series with trend and yearly season, values with many decimals."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 100 + t + 20 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 2, n)
    return pd.DataFrame(
        {"month": pd.date_range("1990-01-01", periods=n, freq="MS"), "passengers": values}
    )


def last_line(result) -> str:
    return result.output.strip().splitlines()[-1]


def test_init_drafts_a_commented_config_that_validates(workdir: Path):
    monthly_frame().to_csv("air.csv", index=False)
    result = invoke("init", "air.csv", "-o", "air.yaml")
    assert result.exit_code == 0, result.output
    assert "monthly, 1 series of 144-144 rows" in result.output
    assert last_line(result) == "Wrote air.yaml; train it with: tsforecast train air.yaml"
    text = Path("air.yaml").read_text()
    assert "# 'month' holds the timestamps: monthly (MS)." in text
    assert "# 12 steps ahead (the usual horizon for monthly data) from the last 36." in text
    config = load_config("air.yaml")
    assert config.data.time_column == "month"
    assert config.data.target_columns == ("passengers",)
    assert (config.window.horizon, config.window.input_width) == (12, 36)
    assert config.model.type == "auto"
    assert config.data.split.val == config.data.split.test == 0.15  # 22 rows: 11 windows
    # Never overwrites; without -o the draft goes to standard output.
    again = invoke("init", "air.csv", "-o", "air.yaml")
    assert again.exit_code == 2 and "Error: air.yaml exists" in again.output
    assert invoke("init", "air.csv").output == text


@pytest.mark.parametrize(
    ("frame", "args", "expected"),
    [
        (panel_frame(), (), ("time", "id", ("y",), ("x",))),
        (panel_frame(), ("--target", "x"), ("time", "id", ("x",), ("y",))),
        (
            pd.DataFrame({"YEAR": np.arange(1700.0, 1800.0), "SUNACTIVITY": np.arange(100.0)}),
            (),
            ("YEAR", None, ("SUNACTIVITY",), ()),
        ),
    ],
    ids=["panel", "chosen-target", "float-years"],
)
def test_init_finds_time_id_and_targets(workdir: Path, frame, args, expected):
    frame.to_csv("data.csv", index=False)
    result = invoke("init", "data.csv", "-o", "draft.yaml", *args)
    assert result.exit_code == 0, result.output
    data = load_config("draft.yaml").data
    assert (data.time_column, data.id_column, data.target_columns, data.feature_columns) == (
        expected
    )


def test_init_asks_for_what_the_file_does_not_settle(workdir: Path):
    frame = panel_frame().rename(columns={"y": "load"})  # no column named y or target
    frame["z"] = frame["x"] * 2
    frame.to_csv("many.csv", index=False)
    many = invoke("init", "many.csv")
    assert many.exit_code == 2
    assert (
        "has 3 numeric columns (load, x, z); name the one to forecast with --target" in many.output
    )
    pd.DataFrame({"when": ["a", "b", "c"], "y": [1.0, 2.0, 3.0]}).to_csv("no_time.csv", index=False)
    no_time = invoke("init", "no_time.csv")
    assert no_time.exit_code == 2
    assert "No column of no_time.csv reads as timestamps" in no_time.output
    assert "--time-column" in no_time.output
    missing = invoke("init", "many.csv", "--target", "nope")
    assert missing.exit_code == 2 and "--target 'nope' is not a column" in missing.output
    assert "Traceback" not in many.output + no_time.output + missing.output


def test_init_fits_short_series_and_fills_gaps(workdir: Path):
    # 20 yearly rows, one year missing: the horizon shrinks to fit, the gap is filled.
    years = [y for y in range(1935, 1956) if y != 1940]
    frame = pd.DataFrame({"year": years, "invest": np.linspace(1.0, 9.0, len(years))})
    frame.to_csv("short.csv", index=False)
    result = invoke("init", "short.csv", "-o", "short.yaml")
    assert result.exit_code == 0, result.output
    text = Path("short.yaml").read_text()
    assert "shortened from 6 to fit the shortest series" in text
    assert "Gaps are filled by linear interpolation. The time column skips 1 timestamps" in text
    config = load_config("short.yaml")
    assert config.data.missing == "interpolate"
    assert isinstance(config.data.split.test, int)
    assert config.window.horizon < 6
    fixed = invoke("init", "short.csv", "--horizon", "15")
    assert fixed.exit_code == 2 and "too few for a horizon of 15" in fixed.output


def test_init_does_not_import_tensorflow(workdir: Path):
    monthly_frame().to_csv("air.csv", index=False)
    assert_cli_without_tensorflow("init", "air.csv")


def exported_forecast(path: Path, inputs: dict) -> np.ndarray:
    """The forecast of an exported SavedModel, loaded by plain TensorFlow."""
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    return serve(**{k: tf.constant(v) for k, v in inputs.items()})["forecast"].numpy()


def test_round_trip_init_train_predict_export_load(workdir: Path):
    from tsforecast.commands.export import serving_inputs
    from tsforecast.runs import load_run

    monthly_frame().to_csv("air.csv", index=False)
    assert invoke("init", "air.csv", "-o", "air.yaml").exit_code == 0
    overrides = ["--set", "model.preset=fast", "--set", "model.statistical=false"]
    overrides += ["--set", "training.epochs=1"]
    trained = invoke("train", "air.yaml", "-q", *overrides)
    run = run_dir_of(trained)
    predicted = invoke("predict", run, "--output", "forecast.csv")
    assert predicted.exit_code == 0, predicted.output
    exported = invoke("export", run, "--output", "served")
    assert exported.exit_code == 0, exported.output
    assert last_line(exported) == "Wrote served: its 'serve' signature takes window."
    described = json.loads(Path("served/tsforecast.json").read_text())
    assert described["inputs"] == {"window": ["passengers"]} and described["horizon"] == 12
    forecast = exported_forecast(Path("served"), serving_inputs(load_run(run)))
    expected = pd.read_csv("forecast.csv")["passengers"].to_numpy()
    np.testing.assert_allclose(forecast.reshape(-1), expected, atol=1e-4)
    again = invoke("export", run, "--output", "served")
    assert again.exit_code == 2 and "--output served exists" in again.output


def covariate_frame() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Daily sales of three stores with a price known ahead, a region and a size; and the
    prices of the week after."""
    rng = np.random.default_rng(1)
    rows, future = [], []
    for k, (store, region, size) in enumerate([("a", "north", 1.5), ("b", "south", 3.0)]):
        dates = pd.date_range("2020-01-01", periods=90, freq="D")
        price = rng.uniform(1, 2, 90)
        sales = 30 + 10 * k + 5 * np.sin(np.arange(90) * 2 * np.pi / 7) - 3 * price
        for i, day in enumerate(dates):
            rows.append((store, day.date(), sales[i] + rng.normal(), rng.normal(), price[i]))
            rows[-1] += (region, size)
        for day in pd.date_range(dates[-1], periods=8, freq="D")[1:]:
            future.append((store, day.date(), rng.uniform(1, 2)))
    columns = ["store", "date", "sales", "temp", "price", "region", "size"]
    return pd.DataFrame(rows, columns=columns), pd.DataFrame(
        future, columns=["store", "date", "price"]
    )


def test_export_reproduces_predict_with_covariates_transforms_and_quantiles(workdir: Path):
    from tsforecast.commands.export import serving_inputs
    from tsforecast.runs import load_run

    frame, future = covariate_frame()
    frame.to_csv("sales.csv", index=False)
    future.to_csv("future.csv", index=False)
    data = {
        "path": "sales.csv",
        "time_column": "date",
        "id_column": "store",
        "target_columns": ["sales"],
        "feature_columns": ["temp"],
        "future_columns": ["price"],
        "static_columns": ["region", "size"],
        "calendar": ["day_of_week"],
        "transform": ["log"],
        "id_embedding": 2,
    }
    config = {
        "data": data,
        "window": {"input_width": 14, "horizon": 7},
        "model": {"type": "mlp", "head": "quantile"},
        "training": {"epochs": 1},
    }
    trained = invoke("train", write_config(workdir, config), "-q")
    run = run_dir_of(trained)
    predicted = invoke("predict", run, "--future", "future.csv", "--output", "forecast.csv")
    assert predicted.exit_code == 0, predicted.output
    exported = invoke("export", run, "--output", "served")
    assert exported.exit_code == 0, exported.output
    described = json.loads(Path("served/tsforecast.json").read_text())
    assert described["inputs"] == {
        "window": ["sales", "temp"],
        "future": ["price", "day_of_week_sin", "day_of_week_cos"],
        "static": ["size"],
        "categories": ["region"],
        "series_id": "one per window",
    }
    assert described["series_ids"] == ["a", "b"] and described["quantile_levels"] == [0.1, 0.5, 0.9]
    inputs = serving_inputs(load_run(run), future_path="future.csv")
    forecast = exported_forecast(Path("served"), inputs)
    expected = pd.read_csv("forecast.csv")["sales_median"].to_numpy()
    np.testing.assert_allclose(forecast.reshape(-1), expected, atol=1e-4)
    # TFLite has no string lookups: refused with the way out.
    refused = invoke("export", run, "--format", "tflite", "--output", "model.tflite")
    assert refused.exit_code == 2
    assert "TFLite has no string lookups for the run's categorical static columns" in (
        refused.output
    )
    assert not Path("model.tflite").exists()


def test_tflite_export_of_a_recurrent_model_reproduces_predict(workdir: Path):
    import tensorflow as tf

    from tsforecast.commands.export import serving_inputs
    from tsforecast.runs import load_run

    config = {
        "data": {
            "path": "panel.csv",
            "time_column": "time",
            "id_column": "id",
            "target_columns": ["y"],
            "transform": ["box_cox"],
        },
        "window": {"input_width": 12, "horizon": 4},
        "model": {"type": "gru", "units": [8]},
        "training": {"epochs": 1},
    }
    run = run_dir_of(invoke("train", write_config(workdir, config), "-q"))
    assert invoke("predict", run, "--output", "forecast.csv").exit_code == 0
    exported = invoke("export", run, "--format", "tflite", "--output", "model.tflite")
    assert exported.exit_code == 0, exported.output
    described = json.loads(Path("model.tflite.json").read_text())
    assert described["inputs"] == {"window": ["y"], "series_index": "one per window"}
    serve = tf.lite.Interpreter(model_path="model.tflite").get_signature_runner("serve")
    inputs = serving_inputs(load_run(run))
    index = np.array([described["series_ids"].index(s) for s in inputs["series_id"]], np.int32)
    forecast = np.concatenate(
        [
            serve(window=inputs["window"][i : i + 1], series_index=index[i : i + 1])["forecast"]
            for i in range(len(index))
        ]
    )
    expected = pd.read_csv("forecast.csv")["y"].to_numpy()
    np.testing.assert_allclose(forecast.reshape(-1), expected, atol=1e-4)


def test_export_refuses_bad_arguments(workdir: Path):
    unknown = invoke("export", "runs/nothing", "--format", "onnx", "--output", "x")
    assert unknown.exit_code == 2
    assert "Error: --format must be one of saved_model, tflite; got 'onnx'." in unknown.output
    missing = invoke("export", "runs/nothing", "--output", "x")
    assert missing.exit_code == 1 and missing.output.startswith("Error: ")
    assert not Path("x").exists()


def test_export_of_a_globally_scaled_run_with_an_id_embedding_serves_every_trained_series(
    workdir: Path,
):
    from tsforecast.commands.export import serving_inputs
    from tsforecast.runs import load_run

    config = base_config("panel.csv")
    config["data"].update(id_column="id", id_embedding=2, scaler_scope="global")
    config["model"] = {"type": "mlp", "units": [8]}
    config["training"]["epochs"] = 1
    run = run_dir_of(invoke("train", write_config(workdir, config), "-q"))
    assert invoke("predict", run, "--output", "forecast.csv").exit_code == 0
    exported = invoke("export", run, "--output", "served")
    assert exported.exit_code == 0, exported.output
    described = json.loads(Path("served/tsforecast.json").read_text())
    assert described["series_ids"] == ["s0", "s1", "s2"]
    forecast = exported_forecast(Path("served"), serving_inputs(load_run(run)))
    expected = pd.read_csv("forecast.csv")["y"].to_numpy()
    np.testing.assert_allclose(forecast.reshape(-1), expected, atol=1e-4)
