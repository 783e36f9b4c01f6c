"""Classical baselines (statsforecast's AutoETS, AutoTheta, AutoARIMA): fitted on train rows
only, forecasting every window from its own history, scored beside the model and gated on."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import invoke, run_dir_of, write_config

from tsforecast.config import config_from_dict
from tsforecast.errors import ConfigError

pytest.importorskip("statsforecast", reason="the classical extra is not installed")


def daily_frame(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """A daily series with a weekly season and a slow trend."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 50 + 0.05 * t + 8 * np.sin(2 * np.pi * t / 7) + rng.normal(0, 1, n)
    dates = pd.date_range("2021-01-01", periods=n, freq="D").strftime("%Y-%m-%d")
    return pd.DataFrame({"date": dates, "y": values.round(3)})


def daily_config(**evaluation) -> dict:
    return {
        "data": {
            "path": "daily.csv",
            "time_column": "date",
            "target_columns": ["y"],
            "split": {"val": 0.2, "test": 0.2},
        },
        "window": {"input_width": 14, "horizon": 7},
        "model": {"type": "linear"},
        "training": {"epochs": 1},
        "evaluation": evaluation,
    }


def test_classical_baselines_are_scored_beside_the_model_and_gate_it(workdir: Path):
    daily_frame().to_csv("daily.csv", index=False)
    config = write_config(workdir, daily_config(baselines=["ets", "theta", "arima"]))
    result = invoke("train", config, "-q")
    assert result.exit_code == 0, result.output
    header = result.output.splitlines()[0].split()
    assert header == ["metric", "model", "naive", "seasonal", "naive", "ets", "theta", "arima"]
    metrics = json.loads((run_dir_of(result) / "metrics.json").read_text())
    test = metrics["test"]
    assert set(test["beats"]) == {"naive", "seasonal_naive", "ets", "theta", "arima"}
    for name in ("ets", "theta", "arima"):
        assert len(test[name]["mae_by_step"]) == 7 and test[name]["mase"] > 0
    # A weekly-seasonal series: the classical models beat naive by far.
    assert test["ets"]["mae"] < 0.6 * test["naive"]["mae"]
    # One epoch of a linear model does not beat AutoETS: the gate on it fails (exit 3).
    gated = invoke("train", config, "-q", "--fail-if-worse-than", "ets")
    assert gated.exit_code == 3, gated.output
    assert "worse than the ets baseline" in gated.output
    ranked = invoke("compare", "runs/*", "--format", "csv")
    assert {"ets baseline", "theta baseline", "arima baseline"} <= set(
        pd.read_csv(io.StringIO(ranked.output))["run"]
    )


def test_classical_baselines_see_no_row_after_the_origin_and_fit_on_train_rows(workdir: Path):
    from tsforecast.classical import ClassicalBaseline
    from tsforecast.data.prepared import prepare_data
    from tsforecast.data.windows import origins

    frame = daily_frame()
    frame.to_csv("daily.csv", index=False)
    config = config_from_dict(daily_config(), workdir)
    prepared = prepare_data(config)
    starts = prepared.starts["test"]
    width, horizon = 14, 7
    first = origins(starts[:1], width)[0]

    def forecasts(values: np.ndarray, name: str) -> tuple[np.ndarray, dict]:
        table = prepared.table.__class__(**{**prepared.table.__dict__, "values": values})
        changed = prepared.__class__(**{**prepared.__dict__, "table": table})
        baseline = ClassicalBaseline(name, 7)
        scaled = baseline(changed, starts[:1], width, horizon)
        return prepared.inverse(scaled, starts[:1]), baseline._fitted[(0, 0, None)].model_

    for name in ("ets", "arima"):
        base, fitted = forecasts(prepared.table.values, name)
        later = prepared.table.values.copy()
        later[first:] += 1000.0  # the rows being forecast, and everything after them
        same, _ = forecasts(later, name)
        np.testing.assert_allclose(same, base)
        between = prepared.table.values.copy()
        train_end = int(prepared.bounds.train_end[0])
        between[train_end:first] += 5.0  # validation rows: history, not fitting data
        moved, refitted = forecasts(between, name)
        assert not np.allclose(moved, base)
        assert str(refitted) == str(fitted)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"evaluation": {"baselines": ["prophet"]}}, "evaluation.baselines"),
        (
            {"data": {"split": {"by": "series", "val": 1, "test": 1}}},
            "data.split.by: series holds whole series out",
        ),
    ],
)
def test_classical_baselines_config_errors(workdir: Path, change, message):
    raw = daily_config(baselines=["ets"])
    for section, values in change.items():
        if section == "data":
            raw["data"] = {**raw["data"], **values}
        else:
            raw[section] = values
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw, workdir)


def test_refit_baselines_refit_as_the_origin_rolls_and_run_forward_between(workdir: Path):
    from statsforecast.models import AutoTheta

    frame = daily_frame()
    frame.to_csv("daily.csv", index=False)
    once = run_dir_of(invoke("train", write_config(workdir, daily_config(baselines=["theta"]))))
    config = daily_config(baselines=["theta"], refit_baselines=True)
    refit = run_dir_of(invoke("train", write_config(workdir, config, "refit.yaml")))
    scores = json.loads((refit / "metrics.json").read_text())["test"]["theta"]
    # by hand: AutoTheta fitted on the rows before the last multiple of the horizon (7) at or
    # before each test window's first target, then run forward over the rows up to it
    y = frame["y"].to_numpy()
    test_rows = round(0.2 * len(y))
    errors = []
    for origin in range(len(y) - test_rows, len(y) - 7 + 1):
        model = AutoTheta(season_length=7).fit(y[: origin // 7 * 7])
        errors.append(np.abs(model.forward(y=y[:origin], h=7)["mean"] - y[origin : origin + 7]))
    assert scores["mae"] == pytest.approx(float(np.mean(errors)), rel=1e-9)
    fitted_once = json.loads((once / "metrics.json").read_text())["test"]["theta"]
    assert scores["mae"] != fitted_once["mae"]
