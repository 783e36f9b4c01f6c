"""model.type auto: candidates scored on validation origins, combined by ensemble selection,
refit on the training and validation rows, and loaded like any run in a new process."""

import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import assert_one_error_line, base_config, invoke, run_dir_of, write_config

from tsforecast.selection import ensemble_selection, half_width, scored_starts


def auto_config(folder: Path, *, epochs: int = 1, **model) -> Path:
    raw = base_config(str(folder / "series.csv"), output={"dir": str(folder / "runs")})
    raw["model"] = {"type": "auto", "preset": "fast", **model}
    raw["window"] = {"input_width": 24, "horizon": 4}
    raw["training"]["epochs"] = epochs
    return write_config(folder, raw)


def train(config: Path, *extra) -> tuple[Path, dict]:
    result = invoke("train", config, "-q", *extra)
    run = run_dir_of(result)
    return run, json.loads((run / "metrics.json").read_text())


def test_greedy_selection_with_replacement_keeps_the_round_that_scored_best():
    actual = np.zeros((1, 2, 1))
    low, high, far = actual - 1.0, actual + 1.0, actual + 5.0
    mae = lambda f: float(np.abs(f - actual).mean())  # noqa: E731
    # one alone scores 1; the mean of the two opposite errors scores 0
    counts, score = ensemble_selection([far, low, high], mae, rounds=4)
    assert score == 0.0
    assert list(counts) == [0, 1, 1]
    # ties go to the first listed; a single round is the single best
    counts, score = ensemble_selection([low, high, far], mae, rounds=1)
    assert list(counts) == [1, 0, 0] and score == 1.0


def test_half_lookbacks_are_multiples_of_the_horizon_and_origins_one_horizon_apart():
    assert half_width(54, 18) == 18
    assert half_width(24, 4) == 12
    assert half_width(7, 4) == 3  # shorter than the horizon: half as it is
    assert half_width(3, 1) is None

    table = SimpleNamespace(offsets=np.array([0, 100]), n_series=1)
    prepared = SimpleNamespace(width=4, starts={"val": np.arange(10, 30)}, table=table)
    assert list(scored_starts(prepared, horizon=4, most=3)) == [21, 25, 29]


def test_auto_combines_candidates_by_their_validation_scores_and_predicts_in_a_new_process(
    workdir,
):
    run, metrics = train(auto_config(workdir))
    auto = metrics["auto"]
    table = pd.read_csv(run / "candidates.csv")
    names = list(table["candidate"])
    assert names == ["naive", "seasonal_naive", "ets", "theta", "linear", "mlp"]
    assert table["status"].eq("ok").all(), table["status"]
    assert auto["metric"] == "mase" and auto["preset"] == "fast" and auto["capped"] is False
    # the weights are the counts of the best round over its number: they sum to one, and
    # the members metrics.json names are the candidates with weight
    assert table["weight"].sum() == pytest.approx(1.0, abs=1e-5)
    counts = [table["weight"] * k for k in range(1, auto["rounds"] + 1)]
    assert any(np.allclose(c, c.round(), atol=1e-4) for c in counts)
    members = {m["candidate"]: m["weight"] for m in auto["members"]}
    weights = dict(zip(table["candidate"], table["weight"], strict=True))
    assert all(weights[name] == pytest.approx(w) for name, w in members.items())
    assert set(members) == set(table.loc[table["weight"] > 0, "candidate"])
    assert list(table["chosen"]) == [w > 0 for w in table["weight"]]
    # the ensemble scores no worse on validation than its best member alone
    assert auto["val_mase"] <= table["val_mase"].min() + 1e-9
    # the statistical members are recorded for predict to fit on the whole history
    statistical = {m["name"] for m in auto["blend"]["statistical"]}
    assert statistical == set(members) & {"ets", "theta"}
    # a new process loads the run and forecasts the real future
    done = subprocess.run(
        [sys.executable, "-m", "tsforecast", "predict", str(run)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    forecast = pd.read_csv(io.StringIO(done.stdout))
    assert len(forecast) == 4 and forecast["y"].notna().all()
    assert forecast["y"].between(5, 35).all(), forecast  # the sine swings in 10..30


def test_the_choice_and_the_refit_model_never_read_the_test_split(workdir):
    config = auto_config(workdir, epochs=2, candidates=["naive", "linear", "mlp"])
    # Both files are written from one frame, so the rows that stay the same are the same
    # text (pandas' default CSV float parser need not round-trip a rewritten number).
    frame = pd.read_csv(workdir / "series.csv")
    frame.to_csv(workdir / "series.csv", index=False)
    _, first = train(config)
    n = len(frame)
    frame.loc[n - round(0.2 * n) :, ["y", "x"]] *= -3.0  # test rows only
    frame.to_csv(workdir / "series.csv", index=False)
    _, second = train(config)
    a, b = first["auto"], second["auto"]
    assert a["members"] == b["members"]
    assert a["refit"] == b["refit"]
    assert a["refit"]["rows"] == "train+val"
    networks = {m["candidate"] for m in a["members"]} - {"naive"}
    assert set(a["refit"]["epochs"]) == networks
    assert all(1 <= epochs <= 2 for epochs in a["refit"]["epochs"].values())
    for x, y in zip(a["candidates"], b["candidates"], strict=True):
        assert x == y
    # the refit weights saved as model.keras are the same too
    assert first["run"]["files"]["model.keras"] == second["run"]["files"]["model.keras"]
    assert first["test"]["model"]["mse"] != second["test"]["model"]["mse"]


def test_the_refit_learns_from_the_validation_rows(workdir):
    config = auto_config(workdir, epochs=2, candidates=["linear"])
    _, refit = train(config)
    _, kept = train(config, "--set", "model.refit=false")
    assert refit["auto"]["refit"]["epochs"] == {
        "linear": refit["auto"]["refit"]["epochs"]["linear"]
    }
    assert kept["auto"]["refit"] == {"enabled": False, "rows": "train", "epochs": {}}
    # the same validation scores (one fit on the training rows), different test forecasts
    assert refit["auto"]["candidates"] == kept["auto"]["candidates"]
    assert refit["run"]["files"]["model.keras"] != kept["run"]["files"]["model.keras"]


def test_a_spent_budget_is_said_in_the_summary_and_the_metrics(workdir):
    run, metrics = train(auto_config(workdir, budget_seconds=0.001))
    statuses = [r["status"] for r in metrics["auto"]["candidates"]]
    assert statuses[0] == "ok"
    assert set(statuses[1:]) == {"skipped: budget_seconds was spent"}
    assert metrics["auto"]["capped"] is True
    result = invoke("train", auto_config(workdir, budget_seconds=0.001))
    assert "model.budget_seconds (0.001) was spent: 5 candidates were not fitted" in result.output
    assert "model.budget_seconds" in (run / "report.html").read_text()


def test_auto_with_covariates_lists_tide_and_combines_networks_it_exports(workdir):
    from tsforecast.config import load_config
    from tsforecast.data.loading import load_table
    from tsforecast.selection import candidates

    raw = yaml.safe_load(auto_config(workdir).read_text())
    raw["data"]["calendar"] = ["hour"]
    raw["model"]["candidates"] = ["naive", "linear", "mlp", "nhits", "theta"]
    config = load_config(write_config(workdir, raw))
    names = [c.name for c in candidates(config, load_table(config.data))]
    assert names == ["naive", "theta", "linear", "mlp", "tide"]  # TiDE reads the covariates
    raw["model"]["candidates"] = ["naive", "linear", "mlp", "theta"]
    raw["model"]["statistical"] = False
    run, metrics = train(write_config(workdir, raw))
    assert [r["candidate"] for r in metrics["auto"]["candidates"]] == ["naive", "linear", "mlp"]
    target = workdir / "exported"
    result = invoke("export", run, "--output", target)
    assert result.exit_code == 0, result.output
    assert (target / "tsforecast.json").exists()


def test_a_run_blending_statistical_members_is_refused_by_export(workdir):
    run, metrics = train(auto_config(workdir, candidates=["naive", "theta"]))
    weights = {m["candidate"]: m["weight"] for m in metrics["auto"]["members"]}
    assert metrics["auto"]["blend"]["statistical"] == [
        {"name": "theta", "weight": weights["theta"]}
    ]
    target = workdir / "exported"
    result = invoke("export", run, "--output", target)
    assert_one_error_line(result, 1, "retrain with model.statistical: false to export")
    assert not target.exists()


def test_backtest_selects_in_every_fold_it_fits_and_tune_refuses_auto(workdir):
    config = auto_config(workdir, candidates=["naive", "linear"])
    result = invoke("backtest", config, "--folds", "2", "--refit", "-q", "--json")
    assert result.exit_code == 0, result.output
    folds = json.loads(result.stdout)["folds"]
    assert [fold["fitted"] for fold in folds] == [True, True]
    raw = yaml.safe_load(config.read_text())
    raw["search"] = {"space": {"model.ensemble": {"choices": [1, 2]}}}
    config.write_text(yaml.safe_dump(raw))
    result = invoke("tune", config)
    assert result.exit_code == 2 and "model.type auto picks among families" in result.stderr


def test_unknown_candidate_names_are_refused(workdir):
    result = invoke("train", auto_config(workdir, candidates=["linear", "prophet"]))
    assert_one_error_line(result, 2, "candidate names among")


def test_a_run_where_auto_kept_a_baseline_says_so_and_is_not_scored_against_itself():
    from tsforecast.reports import SUMMARY_METRICS, summary_table

    def scores(mse):
        return {name: mse for name in SUMMARY_METRICS}

    test = {
        "n_windows": 11,
        "model": scores(2903.0),
        "naive": scores(9616.0),
        "seasonal_naive": scores(2903.0),
        "beats": {"naive": True, "seasonal_naive": False},
        "beats_naive": True,
    }
    metrics = {"model": "auto", "auto": {"chosen": ["seasonal_naive"]}, "test": test}
    text = summary_table(metrics)
    assert "model.type auto chose the seasonal naive baseline." in text
    assert "On 11 test windows the model beats the naive baseline (MSE)." in text
    assert "NOT" not in text
    metrics["auto"]["chosen"] = ["seasonal_naive", "linear"]
    assert "does NOT beat the seasonal naive baseline" in summary_table(metrics)
