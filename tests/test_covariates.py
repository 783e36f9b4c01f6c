"""Known-future, static and calendar covariates: every family that reads them, no leakage,
and end to end through train and predict with --future."""

import dataclasses
import io
import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from conftest import assert_one_error_line, base_config, invoke, run_dir_of, write_config

from tsforecast.config import config_from_dict
from tsforecast.data.pipeline import WindowSource, window_dataset
from tsforecast.errors import ConfigError
from tsforecast.models import registry
from tsforecast.models.covariates import Covariates, encode_categories
from tsforecast.schema import parse_section

WIDTH, HORIZON = 8, 3
#: One target, one past-only feature, two known-future columns, one numeric static and a
#: category of three series.
SHAPE = registry.ModelShape(
    WIDTH, HORIZON, n_inputs=2, n_targets=1, covariates=Covariates(2, 1, (("a", "b", "c"),))
)
FAMILIES = [
    ("linear", {}),
    ("mlp", {"units": [8]}),
    ("gru", {"units": [4]}),
    ("gru", {"units": [4], "head": "recursive"}),
    ("lstm", {"units": [4], "encoder_decoder": True}),
    ("conv1d", {"filters": [4]}),
    ("wavenet", {"filters": 4, "n_layers": 2}),
    ("tide", {"units": 8, "temporal_decoder_units": 4}),
    ("tsmixer", {"ff_dim": 8, "n_blocks": 1}),
]


def source(n_past: int, seed: int = 0) -> WindowSource:
    """Three series of 20 rows: the target (and a past-only feature), two future columns."""
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(60, n_past + 2)).astype("float32")
    row_series = np.repeat([0, 1, 2], 20)
    static = rng.normal(size=(3, 1)).astype("float32")
    categories = encode_categories(
        np.array([["a"], ["b"], ["c"]], dtype=object), (("a", "b", "c"),)
    )
    return WindowSource(values, n_past, row_series, static, categories)


def forecast(model, src: WindowSource, start: int, horizon: int = HORIZON) -> np.ndarray:
    dataset = window_dataset(src, np.array([start]), WIDTH, 1, horizon=horizon, with_targets=False)
    return np.asarray(model.predict(dataset, verbose=0))


def changed(src: WindowSource, rows, column: int) -> WindowSource:
    values = src.values.copy()
    values[rows, column] += 5.0
    return dataclasses.replace(src, values=values)


@pytest.mark.parametrize(("name", "params"), FAMILIES, ids=[f"{n}-{p}" for n, p in FAMILIES])
def test_covariates_reach_the_forecast_and_the_future_does_not(name, params, tmp_path):
    keras.utils.set_random_seed(0)
    spec = registry.get(name)
    # the recursive head feeds its forecasts back, so its window holds the target only
    shape = dataclasses.replace(SHAPE, n_inputs=1) if params.get("head") == "recursive" else SHAPE
    model = registry.build_model(name, parse_section(spec.params, params, "model"), shape)
    path = tmp_path / "model.keras"
    model.save(path)
    model = keras.models.load_model(path, safe_mode=True, compile=False)
    src, start = source(shape.n_inputs), 22  # series 1: inputs rows 22..29, forecast 30..32
    origin = start + WIDTH
    base = forecast(model, src, start)
    assert base.shape == (1, HORIZON, 1)
    # targets and past-only features at or after the origin never change the forecast
    for column in range(shape.n_inputs):
        later = changed(src, range(origin, 40), column)
        np.testing.assert_allclose(forecast(model, later, start), base)
    # a known-future covariate inside the horizon does
    for column in (shape.n_inputs, shape.n_inputs + 1):
        moved = forecast(model, changed(src, [origin + 1], column), start)
        assert np.abs(moved - base).max() > 1e-6, f"future column {column} unused"
    # so do the series' statics and category
    statics = dataclasses.replace(src, static=src.static + 3.0)
    assert np.abs(forecast(model, statics, start) - base).max() > 1e-6
    other = dataclasses.replace(src, categories=src.categories[[0, 2, 1]])
    assert np.abs(forecast(model, other, start) - base).max() > 1e-6


def covariate_config(folder: Path, **model) -> dict:
    raw = base_config(str(folder / "shop.csv"), output={"dir": str(folder / "runs")})
    raw["data"].update(
        id_column="store",
        feature_columns=[],
        future_columns=["promo"],
        static_columns=["region", "size"],
        calendar=["day_of_week", "is_weekend"],
        id_embedding=2,
        time_column="time",
    )
    raw["window"] = {"input_width": 14, "horizon": 7}
    raw["model"] = {"type": "mlp", "units": [16], **model}
    return raw


def shop(n: int = 120) -> pd.DataFrame:
    frames = []
    rng = np.random.default_rng(0)
    for i, (region, size) in enumerate((("north", 1.0), ("south", 2.0), ("north", 3.0))):
        t = np.arange(n)
        promo = (rng.uniform(size=n) < 0.2).astype(float)
        weekend = (pd.date_range("2024-01-01", periods=n, freq="D").dayofweek >= 5).astype(float)
        y = 10 * size + 5 * promo + 3 * weekend + rng.normal(0, 0.3, n)
        frames.append(
            pd.DataFrame(
                {
                    "store": f"s{i}",
                    "time": pd.date_range("2024-01-01", periods=n, freq="D").strftime("%Y-%m-%d"),
                    "y": y,
                    "promo": promo,
                    "region": region,
                    "size": size,
                }
            )
        )
        del t
    return pd.concat(frames, ignore_index=True)


def days(first: str) -> np.ndarray:
    return pd.date_range(first, periods=7).strftime("%Y-%m-%d").to_numpy()


def test_train_and_predict_with_future_static_and_calendar_covariates(tmp_path):
    shop().to_csv(tmp_path / "shop.csv", index=False)
    config = write_config(tmp_path, covariate_config(tmp_path))
    result = invoke("train", config, "-q")
    run = run_dir_of(result)
    missing = invoke("predict", run)
    assert missing.exit_code == 1
    assert "reads the known-future columns promo: pass their values for the 7 steps" in (
        missing.stderr
    )
    future = pd.DataFrame(
        {
            "store": np.repeat(["s0", "s1", "s2"], 7),
            "time": np.tile(pd.date_range("2024-04-30", periods=7).strftime("%Y-%m-%d"), 3),
            "promo": 0.0,
        }
    )
    future.to_csv(tmp_path / "future.csv", index=False)
    result = invoke("predict", run, "--future", tmp_path / "future.csv")
    assert result.exit_code == 0, result.output
    forecast = pd.read_csv(io.StringIO(result.stdout))
    assert len(forecast) == 21 and list(forecast["time"][:2]) == ["2024-04-30", "2024-05-01"]
    promoted = future.assign(promo=1.0)
    promoted.to_csv(tmp_path / "promo.csv", index=False)
    with_promo = pd.read_csv(
        io.StringIO(invoke("predict", run, "--future", tmp_path / "promo.csv").stdout)
    )
    assert (with_promo["y"] - forecast["y"]).abs().max() > 1e-4

    for frame, message in (
        (future.iloc[:-1], "has 6 rows for series 's2'; the run forecasts 7 steps"),
        (future.assign(time=np.tile(days("2024-05-01"), 3)),
         "is 2024-05-01 for series 's0', where 2024-04-30 follows the input"),
        (pd.concat([future, future.iloc[:1].assign(store="zz")]),
         "has rows for series 'zz', which the input does not hold"),
    ):  # fmt: skip
        frame.to_csv(tmp_path / "bad.csv", index=False)
        bad = invoke("predict", run, "--future", tmp_path / "bad.csv")
        assert bad.exit_code == 1 and message in bad.stderr, bad.stderr


def test_static_columns_must_be_constant_within_a_series(tmp_path):
    frame = shop()
    frame.loc[5, "region"] = "east"
    frame.to_csv(tmp_path / "shop.csv", index=False)
    result = invoke("train", write_config(tmp_path, covariate_config(tmp_path)), "-q")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: Static column 'region' changes within series 's0' at row 6 ('east' after "
        "'north'); static columns must be constant within each series."
    )


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        ({"type": "patchtst"}, {}, "model.type patchtst reads no covariates"),
        ({"type": "nhits"}, {}, "model.type nhits reads no covariates"),
        ({"type": "gru", "head": "sequence"}, {}, "model.head sequence reads no covariates"),
        ({"type": "linear"}, {"channel_independent": True, "static_columns": [], "id_embedding": 0},
         "data.channel_independent forecasts each column alone"),
        ({"type": "linear"}, {"calendar": ["holiday"]}, "data.holidays_country goes with"),
        ({"type": "linear"}, {"holidays_country": "XX", "calendar": ["holiday"]},
         "must be a country code the holidays package knows"),
    ],
)  # fmt: skip
def test_combinations_that_cannot_read_covariates_are_config_errors(tmp_path, model, data, message):
    raw = covariate_config(tmp_path)
    raw["model"] = model
    raw["data"].update(data)
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_naive_baselines_ignore_covariates(tmp_path):
    shop().to_csv(tmp_path / "shop.csv", index=False)
    raw = covariate_config(tmp_path)
    raw["model"] = {"type": "naive"}
    result = invoke("train", write_config(tmp_path, raw), "-q")
    assert result.exit_code == 0, result.output


def test_backtest_and_compare_read_covariates_too(tmp_path):
    shop().to_csv(tmp_path / "shop.csv", index=False)
    config = write_config(tmp_path, covariate_config(tmp_path))
    result = invoke("backtest", config, "--folds", "2", "-q", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["folds"]) == 2
    run = run_dir_of(invoke("train", config, "-q"))
    result = invoke("compare", run, "--plot", tmp_path / "plot.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "plot.png").stat().st_size > 1000


def test_predict_refuses_series_ids_an_id_embedding_never_trained_on(workdir):
    config = base_config("panel.csv")
    config["data"].update(id_column="id", id_embedding=2, scaler_scope="global")
    config["model"] = {"type": "mlp", "units": [8]}
    config["training"]["epochs"] = 1
    run = run_dir_of(invoke("train", write_config(workdir, config), "-q"))
    frame = pd.read_csv("panel.csv")
    frame["id"] = frame["id"].replace({"s2": "s9"})
    frame.to_csv("renamed.csv", index=False)
    result = invoke("predict", run, "--input", "renamed.csv")
    assert_one_error_line(result, 1, "The input holds 1 series ids the run never trained on ('s9')")
    assert invoke("predict", run).exit_code == 0
