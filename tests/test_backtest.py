import json

import numpy as np
import pandas as pd
import pytest
from conftest import base_config, invoke, run_dir_of, write_config

from tsforecast.commands.backtest import backtest, plan_folds
from tsforecast.commands.train import train
from tsforecast.config import config_from_dict
from tsforecast.data.loading import load_table
from tsforecast.errors import ConfigError, DataError


def make_config(workdir, data="series.csv", **training):
    raw = base_config(str(workdir / data))
    raw["training"].update(training)
    if data == "panel.csv":
        raw["data"]["id_column"] = "id"
    return config_from_dict(raw)


def test_folds_tile_the_test_windows_of_every_series(workdir):
    # 240 rows, val/test 48 each, window 12 -> 4: the test split holds 45 forecast origins.
    config = make_config(workdir)
    table = load_table(config.data)
    plans = plan_folds(table, config, 3)
    assert [int(p.origin[0]) for p in plans] == [192, 207, 222]  # 192 = start of test split
    assert [int(p.train_end[0]) for p in plans] == [144, 159, 174]  # 48 validation rows each
    assert [int(p.end[0]) for p in plans] == [192 + 15 + 3, 207 + 18, 240]
    stepped = plan_folds(table, config, 4, step=5)
    assert [int(p.origin[0]) for p in stepped] == [217, 222, 227, 232]
    assert int(stepped[-1].end[0]) == 240

    panel = make_config(workdir, "panel.csv")  # 3 series of 120 rows, stacked
    panel_table = load_table(panel.data)
    (plan,) = plan_folds(panel_table, panel, 1)
    np.testing.assert_array_equal(plan.origin, [96, 216, 336])
    np.testing.assert_array_equal(plan.end, [120, 240, 360])


def test_impossible_folds_are_refused_with_the_series_named(workdir):
    config = make_config(workdir)
    table = load_table(config.data)
    with pytest.raises(ConfigError, match="--folds must be a positive integer; got 0"):
        plan_folds(table, config, 0)
    with pytest.raises(ConfigError, match="--step must be a positive integer"):
        plan_folds(table, config, 2, step=-1)
    with pytest.raises(DataError, match="its test split holds 45 windows, fewer than --folds 50"):
        plan_folds(table, config, 50)
    with pytest.raises(DataError, match="4 folds of 44 origins leave the first fold 13 train"):
        plan_folds(table, config, 4, step=44)


def test_backtest_without_refit_reproduces_train_test_metrics(workdir):
    """One model fitted before the first origin, scored over the test split's windows."""
    config = make_config(workdir)
    trained = train(config).metrics["test"]
    result = backtest(config, 3)
    mean = result.summary["aggregate"]["test"]
    assert mean["n_windows"] == trained["n_windows"] == 45
    for who in ("model", "naive"):
        for name in ("mse", "mae", "rmse"):
            assert mean[who][name] == pytest.approx(trained[who][name], rel=1e-9), (who, name)
    folds = result.summary["folds"]
    assert [f["fitted"] for f in folds] == [True, False, False]
    assert [f["origin"] for f in folds] == [
        "2024-01-09 00:00:00",
        "2024-01-09 15:00:00",
        "2024-01-10 06:00:00",
    ]
    out = result.path
    assert out.name.startswith("linear-backtest-")
    assert json.loads((out / "backtest.json").read_text()) == result.summary
    assert (out / "plots" / "error_by_fold.png").stat().st_size > 1000
    assert len(pd.read_csv(out / "folds.csv")) == 3
    assert (out / "fold-1" / "history.csv").is_file() and not (out / "fold-2").exists()


def test_refit_fits_each_fold_only_on_rows_before_its_origin(workdir):
    config = make_config(workdir, epochs=1)
    first = backtest(config, 2, refit=True)
    assert [f["fitted"] for f in first.summary["folds"]] == [True, True]
    fold2_origin = int(plan_folds(load_table(config.data), config, 2)[1].origin[0])
    assert fold2_origin == 215  # 2 folds of 22 origins end with the last one, 236
    frame = pd.read_csv(workdir / "series.csv")
    frame.loc[fold2_origin:, ["y", "x"]] += 1000.0
    frame.to_csv(workdir / "series.csv", index=False)
    second = backtest(config, 2, refit=True)
    for fold in ("fold-1", "fold-2"):  # same train and validation rows: same fits
        assert (first.path / fold / "history.csv").read_text() == (
            second.path / fold / "history.csv"
        ).read_text()
    before = first.summary["folds"][1]["test"]["model"]["mse"]
    assert second.summary["folds"][1]["test"]["model"]["mse"] > 100 * before

    frame.loc[fold2_origin - 1, "y"] += 1000.0  # a validation row of fold 2 only
    frame.to_csv(workdir / "series.csv", index=False)
    third = backtest(config, 2, refit=True)
    assert (third.path / "fold-1" / "history.csv").read_text() == (
        second.path / "fold-1" / "history.csv"
    ).read_text()
    assert (third.path / "fold-2" / "history.csv").read_text() != (
        second.path / "fold-2" / "history.csv"
    ).read_text()


def test_backtest_command(workdir):
    path = write_config(workdir, base_config("series.csv"))
    result = invoke("backtest", path, "--folds", 3, "-q", "--set", "model.type=naive")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["fold", "origin", "windows", "mse"]
    assert lines[4].startswith("mean")
    out = run_dir_of(result)
    assert (out / "backtest.json").is_file()
    assert (out / "plots" / "error_by_fold.png").is_file()
    plain = invoke(
        "backtest",
        path,
        "--folds",
        2,
        "-q",
        "--set",
        "model.type=naive",
        "--set",
        "output.plots=false",
    )
    assert not any((run_dir_of(plain) / "plots").glob("*"))

    gated = invoke("backtest", path, "--folds", 2, "-q", "--json", "--max-metric", "test.mae=0.01")
    assert gated.exit_code == 3, gated.output
    report = json.loads(gated.stdout)
    assert report["gates_failed"] and report["gates_failed"][0].startswith("test.mae ")
    assert len(report["folds"]) == 2 and report["settings"]["refit"] is False
    assert "Gate failed: test.mae" not in gated.stdout

    bad = invoke("backtest", path, "--folds", 0)
    assert bad.exit_code == 2 and bad.stderr.strip() == (
        "Error: --folds must be a positive integer; got 0."
    )
    too_many = invoke("backtest", path, "--folds", 100)
    assert too_many.exit_code == 1 and "fewer than --folds 100" in too_many.stderr
    mw = invoke("backtest", path, "--set", "training.distribute=multi_worker")
    assert mw.exit_code == 2 and "supported by train only" in mw.stderr


def test_backtest_of_stacked_series_cuts_each_series_at_its_folds(workdir):
    raw = base_config(str(workdir / "panel.csv"))
    raw["data"]["id_column"] = "id"
    raw["model"] = {"type": "naive"}
    result = backtest(config_from_dict(raw), 2, step=5)
    folds = result.summary["folds"]
    assert [f["test"]["n_windows"] for f in folds] == [3 * 5, 3 * 5]
    # Each of the 3 series of 120 rows: origins 107..111 and 112..116 (the last fits 4 steps).
    assert [f["origin"] for f in folds] == ["2024-01-05 11:00:00", "2024-01-05 16:00:00"]
    assert [f["train_rows"] for f in folds] == [3 * (107 - 24), 3 * (112 - 24)]
    for fold in folds:  # the naive model forecasts exactly what the baseline does
        assert fold["test"]["model"]["mse"] == pytest.approx(fold["test"]["naive"]["mse"])
    assert result.summary["settings"]["origins_per_fold"] == [5, 5, 5]
