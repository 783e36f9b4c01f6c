"""model.type auto: candidates chosen on validation only, within a budget, kept as one model."""

import io
import json
from pathlib import Path

import pandas as pd
import yaml
from conftest import base_config, invoke, run_dir_of, write_config


def auto_config(folder: Path, **model) -> Path:
    raw = base_config(str(folder / "series.csv"), output={"dir": str(folder / "runs")})
    raw["model"] = {"type": "auto", **model}
    raw["window"] = {"input_width": 24, "horizon": 4}
    raw["training"]["epochs"] = 1
    return write_config(folder, raw)


def train(config: Path) -> tuple[Path, dict]:
    result = invoke("train", config, "-q")
    run = run_dir_of(result)
    return run, json.loads((run / "metrics.json").read_text())


def test_auto_keeps_the_best_candidate_on_validation_and_predicts(workdir):
    run, metrics = train(auto_config(workdir, ensemble=2))
    records = metrics["auto"]["candidates"]
    names = [r["candidate"] for r in records]
    assert names[:3] == ["naive", "seasonal_naive", "linear_instance_norm"]
    fitted = [r for r in records if r["status"] == "ok" and r["model"] != "ensemble"]
    best = sorted(fitted, key=lambda r: r["val_mse"])
    # The median of the best two, scored on validation too, is kept only if it beats the best.
    median = records[-1]
    assert median["model"] == "ensemble"
    assert median["settings"] == {"ensemble": [best[0]["candidate"], best[1]["candidate"]]}
    kept = median["val_mse"] <= best[0]["val_mse"]
    assert median["chosen"] is kept
    chosen = [best[0]["candidate"], best[1]["candidate"]] if kept else [best[0]["candidate"]]
    assert metrics["auto"]["chosen"] == chosen
    assert all(r["seconds"] >= 0 for r in records)
    table = pd.read_csv(run / "candidates.csv")
    assert list(table["candidate"]) == names
    assert table["chosen"].sum() == len(chosen) + kept
    forecast = pd.read_csv(io.StringIO(invoke("predict", run).stdout))
    assert len(forecast) == 4 and forecast["y"].notna().all()


def test_the_choice_never_reads_the_test_split(workdir):
    config = auto_config(workdir)
    # Both files are written from one frame, so the rows that stay the same are the same
    # text (pandas' default CSV float parser need not round-trip a rewritten number).
    frame = pd.read_csv(workdir / "series.csv")
    frame.to_csv(workdir / "series.csv", index=False)
    _, first = train(config)
    n = len(frame)
    frame.loc[n - round(0.2 * n) :, ["y", "x"]] *= -3.0  # test rows only
    frame.to_csv(workdir / "series.csv", index=False)
    _, second = train(config)
    assert first["auto"]["chosen"] == second["auto"]["chosen"]
    for a, b in zip(first["auto"]["candidates"], second["auto"]["candidates"], strict=True):
        assert a.get("val_mse") == b.get("val_mse")


def test_no_candidate_is_launched_once_the_budget_is_spent(workdir):
    _, metrics = train(auto_config(workdir, budget_seconds=0.001))
    statuses = [r["status"] for r in metrics["auto"]["candidates"]]
    assert statuses[0] == "ok"
    assert set(statuses[1:]) == {"skipped: the budget was spent"}


def test_backtest_runs_the_search_in_every_fold_it_fits_and_tune_refuses_it(workdir):
    config = auto_config(workdir, budget_seconds=2)
    result = invoke("backtest", config, "--folds", "2", "--refit", "-q", "--json")
    assert result.exit_code == 0, result.output
    folds = json.loads(result.stdout)["folds"]
    assert [fold["fitted"] for fold in folds] == [True, True]
    raw = yaml.safe_load(config.read_text())
    raw["search"] = {"space": {"model.ensemble": {"choices": [1, 2]}}}
    config.write_text(yaml.safe_dump(raw))
    result = invoke("tune", config)
    assert result.exit_code == 2 and "model.type auto picks among families" in result.stderr


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
    metrics["auto"]["chosen"] = ["seasonal_naive", "linear_instance_norm"]
    assert "does NOT beat the seasonal naive baseline" in summary_table(metrics)
