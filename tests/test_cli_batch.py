"""train with several configs, quality gates, --json and TensorBoard logs."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from conftest import base_config, invoke, run_dir_of, write_config


def naive_config(workdir, name="config.yaml", **window):
    raw = base_config("series.csv")
    raw["model"] = {"type": "naive"}
    raw["window"].update(window)
    return write_config(workdir, raw, name)


def test_several_configs_train_past_failures_and_end_with_a_summary(workdir):
    good = naive_config(workdir, "a.yaml")
    bad_config = naive_config(workdir, "b.yaml", horizon=0)
    raw = base_config("missing.csv")
    bad_data = write_config(workdir, raw, "c.yaml")
    other = naive_config(workdir, "d.yaml", horizon=2)
    result = invoke("train", good, bad_config, bad_data, other)
    assert result.exit_code == 1, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split()[:4] == ["config", "status", "test", "mse"]
    rows = {line.split()[0]: line for line in lines[1:5]}
    assert rows[str(good)].split()[1] == "ok" and rows[str(other)].split()[1] == "ok"
    assert "window.horizon must be a positive number" in rows[str(bad_config)]
    assert "Data file not found" in rows[str(bad_data)]
    assert lines[-1] == "4 configs: 2 ok, 0 failed a quality gate, 2 failed."
    assert f"Error: {bad_config}: window.horizon must be a positive number" in result.stderr
    assert "[4/4]" in result.stderr and "Traceback" not in result.output
    assert len(list((workdir / "runs").iterdir())) == 2

    as_json = invoke("train", str(workdir / "[ab].yaml"), "--json")  # a quoted glob
    report = json.loads(as_json.stdout)
    assert as_json.exit_code == 1 and report["exit_code"] == 1 and report["ok"] is False
    assert [r["status"] for r in report["runs"]] == ["ok", "error"]
    assert report["runs"][1]["exit_code"] == 2
    test = report["runs"][0]["metrics"]["test"]
    assert test["model"]["mse"] == test["naive"]["mse"]
    assert Path(report["runs"][0]["run_dir"]).is_dir()


def random_walk(workdir, n=400):
    steps = np.random.default_rng(3).normal(0, 1, n)
    frame = pd.DataFrame(
        {
            "time": pd.date_range("2024-01-01", periods=n, freq="h").strftime("%Y-%m-%d %H:%M"),
            "y": 100 + np.cumsum(steps),
        }
    )
    frame.to_csv(workdir / "walk.csv", index=False)
    raw = base_config("walk.csv")
    raw["data"]["feature_columns"] = []
    raw["training"].update(epochs=1, optimizer={"learning_rate": 1e-6})
    return write_config(workdir, raw, "walk.yaml")


def test_a_model_that_cannot_beat_naive_fails_the_gate(workdir):
    """On a random walk the last value is the best forecast; an untrained linear model
    (one epoch at learning rate 1e-6) is far worse."""
    path = random_walk(workdir)
    result = invoke("train", path, "-q", "--fail-if-worse-than", "naive")
    run_dir = run_dir_of(result, exit_code=3)
    assert result.stderr.startswith("Gate failed: test.mse ")
    assert "is worse than the naive baseline's" in result.stderr
    assert (run_dir / "metrics.json").is_file()  # the run itself is complete

    limits = ["--max-metric", "test.mase=1000", "--max-metric", "test.mase=1.0"]
    tight = invoke("train", path, "-q", "--json", *limits)
    report = json.loads(tight.stdout)
    assert tight.exit_code == 3 and report["exit_code"] == 3
    assert report["runs"][0]["status"] == "gate_failed"
    (failure,) = report["runs"][0]["gates_failed"]  # the loose limit passed
    assert failure.startswith("test.mase ") and failure.endswith(" > 1")

    naive = invoke(
        "train", path, "-q", "--set", "model.type=naive", "--fail-if-worse-than", "naive"
    )
    assert naive.exit_code == 0, naive.output  # as good as naive is not worse

    batch = invoke(
        "train",
        naive_config(workdir),
        path,
        "--set",
        "model.type=naive",
        "-q",
        "--max-metric",
        "test.mae=0.001",
    )
    assert batch.exit_code == 3
    assert "2 configs: 0 ok, 2 failed a quality gate, 0 failed." in batch.stdout


def test_bad_gate_options_are_usage_errors(workdir):
    path = naive_config(workdir)
    for args, message in [
        (["--max-metric", "test.mase"], "Error: --max-metric expects PART.METRIC=NUMBER"),
        (["--max-metric", "test.maze=1"], "Error: --max-metric: unknown metric 'maze'"),
        (["--fail-if-worse-than", "linear"], "Error: --fail-if-worse-than accepts naive, "),
    ]:
        result = invoke("train", path, *args)
        assert result.exit_code == 2, result.output
        assert result.stderr.startswith(message) and len(result.stderr.splitlines()) == 1
    missing = invoke("train")
    assert missing.exit_code == 2
    assert missing.stderr.strip() == "Error: train needs at least one CONFIG file."
    assert not (workdir / "runs").exists()


def test_single_config_json_and_tensorboard_logs(workdir):
    path = write_config(workdir, base_config("series.csv"))
    result = invoke("train", path, "--json", "--set", "training.tensorboard=true")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)  # nothing but JSON on standard output
    (run,) = report["runs"]
    assert report == {"command": "train", "ok": True, "exit_code": 0, "runs": [run]}
    assert run["status"] == "ok" and run["gates_failed"] == [] and run["error"] is None
    assert set(run["metrics"]) == {"model", "val", "test", "periods", "baselines"}
    logs = Path(run["run_dir"]) / "tensorboard"
    for split in ("train", "validation"):
        assert list((logs / split).glob("events.out.tfevents.*")), split

    failed = invoke("train", write_config(workdir, base_config("nope.csv"), "bad.yaml"), "--json")
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["runs"][0]["error"].startswith("Data file not found")
    assert failed.stderr.startswith("Error: Data file not found")
