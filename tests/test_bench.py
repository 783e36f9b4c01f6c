"""The benchmark runner: quick mode end to end, manifests, unavailable models, merging."""

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from tsforecast.cli import main
from tsforecast.commands.bench import load_suite, merge_records, unavailable
from tsforecast.config import load_config
from tsforecast.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"


def test_quick_bench_runs_every_suite(tmp_path):
    committed = (BENCH / "RESULTS.md").read_text()
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "all",
            "--quick",
            "--benchmarks",
            str(BENCH),
            "--results",
            str(tmp_path),
            "--runs",
            str(tmp_path / "runs"),
        ],
    )
    assert result.exit_code == 0, result.output
    stored = json.loads((tmp_path / "results.json").read_text())
    records = {(r["suite"], r["dataset"], r["task"], r["model"]): r for r in stored["records"]}
    for record in records.values():
        assert record["quick"] is True
        for key in ("suite", "dataset", "task", "model", "config", "metric", "published"):
            assert key in record
    naive = records[("ett", "ETTh1", "horizon 96", "repeat last (naive)")]
    # The naive baseline needs no training, so even quick mode reproduces the published row
    # under its drop_last convention, and differs only slightly over every window.
    assert round(naive["ours_drop_last_32"], 3) == naive["published"] == 1.295
    assert naive["ours"] == pytest.approx(1.2944, abs=1e-4)
    assert naive["n_windows"] == 2880 - 96 + 1
    linear = records[("homl", "sines", "next step", "linear")]
    assert linear["status"] == "ok" and linear["seconds"] > 0 and linear["ours"] > 0
    assert linear["config"] == "benchmarks/homl/next_step_linear.yaml"
    assert records[("homl", "sines", "next step", "SimpleRNN(1)")]["status"] in (
        "ok",
        "not run: model type simple_rnn not available",
    )
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert (
        "| ETTh1 | horizon 96 | repeat last (naive) | 1.294 | 1.295 | 1.000 | 1.295 |" in markdown
    )
    assert "(quick mode)" in markdown and "cores available" in markdown
    # The classical suite scores auto beside seasonal naive and ETS on the same windows.
    auto = records[("classical", "airline", "horizon 12", "auto, ensemble selection")]
    assert auto["status"] == "ok" and auto["n_windows"] == 18
    assert set(auto["baselines"]) == {"naive", "seasonal_naive", "ets"}
    assert auto["baselines"]["seasonal_naive"] == pytest.approx(46.77, abs=0.01)
    assert "| airline | horizon 12 | 18 |" in markdown
    assert "at or below the best classical model on " in markdown
    assert (BENCH / "RESULTS.md").read_text() == committed


def test_every_benchmark_config_is_valid_or_reported_unavailable():
    checked = 0
    for name in ("homl", "ett", "classical"):
        for run in load_suite(BENCH, name).runs:
            path = BENCH / run.config
            if unavailable(path) is not None:
                continue
            for candidate in run.candidates(quick=False):
                config = load_config(path, [*run.overrides, *candidate])
                assert config.window.horizon > 0
                checked += 1
    assert checked >= 4 + 8 + 16 + 12


def test_unavailable_models_and_heads(tmp_path):
    raw = yaml.safe_load((BENCH / "homl" / "next_step_linear.yaml").read_text())
    raw["model"] = {"type": "transformer"}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(raw))
    assert unavailable(tmp_path / "a.yaml") == "not run: model type transformer not available"
    raw["model"] = {"type": "naive", "head": "quantile"}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(raw))
    assert unavailable(tmp_path / "b.yaml") == (
        "not run: head quantile not available for model type naive"
    )
    raw["model"] = {"type": "naive"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    assert unavailable(tmp_path / "c.yaml") is None


def test_merging_keeps_other_suites():
    old = [{"suite": "homl", "dataset": "sines"}, {"suite": "ett", "dataset": "ETTh1"}]
    new = [{"suite": "ett", "dataset": "ETTh2"}]
    assert merge_records(old, new) == [old[0], new[0]]


def test_merging_one_row_keeps_the_rest_of_its_suite_in_place():
    def row(task, ours):
        return {"suite": "ett", "dataset": "ETTh1", "task": task, "model": "m", "ours": ours}

    old = [row("horizon 96", 1.0), row("horizon 192", 2.0), row("horizon 336", 3.0)]
    merged = merge_records(old, [row("horizon 192", 2.5)], rows_only=True)
    assert [r["ours"] for r in merged] == [1.0, 2.5, 3.0]


def test_only_runs_the_named_row_and_names_the_rows_when_unknown(tmp_path):
    args = ["--quick", "--benchmarks", str(BENCH), "--results", str(tmp_path)]
    args += ["--runs", str(tmp_path / "runs")]
    result = CliRunner().invoke(main, ["bench", "homl", "--only", "Sines/Next step", *args])
    assert result.exit_code == 0, result.output
    records = json.loads((tmp_path / "results.json").read_text())["records"]
    assert records and {(r["dataset"], r["task"]) for r in records} == {("sines", "next step")}
    result = CliRunner().invoke(main, ["bench", "homl", "--only", "sines/next year", *args])
    assert result.exit_code == 2
    assert "--only sines/next year: no such row" in result.stderr
    assert "'sines/next step'" in result.stderr


def test_packaged_datasets_are_written_from_their_packages(tmp_path):
    pytest.importorskip("statsmodels")
    from tsforecast.data.packaged import DATASETS, write_dataset

    frame = pd.read_csv(write_dataset("grunfeld", tmp_path / "grunfeld.csv"))
    assert frame.shape == (220, 5) and frame["firm"].nunique() == 11
    assert frame.groupby("firm")["date"].is_monotonic_increasing.all()
    co2 = pd.read_csv(write_dataset("co2", tmp_path / "co2.csv"))
    assert len(co2) == 2284 and not co2["co2"].isna().any()
    assert set(DATASETS) >= {"sunspots", "macro", "airline", "co2", "seattle", "grunfeld"}
    with pytest.raises(ConfigError, match="Unknown packaged dataset 'm4'"):
        write_dataset("m4", tmp_path / "m4.csv")


def test_bad_manifest_is_one_error_line(tmp_path):
    (tmp_path / "homl.yaml").write_text("metric: mse\nsplit: val\nruns:\n  - {dataset: x}\n")
    with pytest.raises(ConfigError, match=r"runs\[0\]: 'task' is required"):
        load_suite(tmp_path, "homl")
    result = CliRunner().invoke(
        main, ["bench", "homl", "--benchmarks", str(tmp_path), "--results", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert result.stderr.strip().startswith("Error: ") and "'task' is required" in result.stderr
    result = CliRunner().invoke(main, ["bench", "homl", "--benchmarks", str(tmp_path / "none")])
    assert result.exit_code == 2 and "Benchmark folder not found" in result.stderr


def test_quick_m3_scores_auto_beside_statistical_models_on_the_competition_windows(tmp_path):
    from tsforecast.commands.competition import QUICK_SERIES, m3_panel, scores

    args = ["bench", "m3", "--quick", "--benchmarks", str(BENCH), "--results", str(tmp_path)]
    args += ["--runs", str(tmp_path / "runs"), "--only", "other"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "m3.json").read_text())["records"]["other"]
    assert record["series"] == QUICK_SERIES and record["points"] == QUICK_SERIES * 8
    rows = record["rows"]
    assert set(rows) == {"auto", "naive", "AutoETS", "AutoTheta", "AutoARIMA", "AutoETS+AutoTheta"}
    # the forecast predict makes from each history is the run's own test forecast
    assert rows["auto"]["smape"] == pytest.approx(rows["auto"]["run_test_smape"], rel=1e-5)
    # init drafted the competition's split: the last 8 points of each series are the test
    assert record["config"]["data"]["split"]["test"] == 8
    panel = m3_panel("other", QUICK_SERIES)
    assert len(panel.frame) - len(panel.history) == QUICK_SERIES * 8
    markdown = (tmp_path / "RESULTS.md").read_text()
    assert "| N-BEATS-I+G (published) | 4.24 | 12.37 |  |" in markdown
    # sMAPE as the competition computes it, MASE over each series' own scale
    actual, forecast = pd.DataFrame([[100.0, 100.0]]).to_numpy(), pd.DataFrame([[50.0, 150.0]])
    got = scores(actual, forecast.to_numpy(), scale=pd.Series([25.0]).to_numpy())
    assert got["smape"] == pytest.approx(100 * (50 / 150 + 50 / 250)) and got["mase"] == 2.0
