import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import (
    assert_cli_without_tensorflow,
    assert_one_error_line,
    base_config,
    invoke,
    run_dir_of,
    sine_frame,
    write_config,
)

from tsforecast import __version__
from tsforecast.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["validate", "config.yaml"]])
def test_quick_commands_do_not_import_tensorflow(workdir, args):
    write_config(workdir, base_config("series.csv"))
    assert_cli_without_tensorflow(*args)


def test_train_predict_backtest_and_tune_run_on_jax_without_tensorflow(workdir):
    config = base_config("series.csv")
    config["search"] = {"max_trials": 1, "space": {"model.units": {"choices": [[4]]}}}
    config["model"] = {"type": "mlp", "units": [4]}
    write_config(workdir, config)
    assert_cli_without_tensorflow(
        "train",
        "config.yaml",
        "-q",
        then=(
            ("predict", "{run}", "--output", "forecast.csv"),
            ("backtest", "config.yaml", "--folds", "2", "-q"),
            ("tune", "config.yaml", "-q"),
        ),
    )
    assert (workdir / "forecast.csv").is_file()
    metrics = json.loads(next((workdir / "runs").glob("mlp-*/metrics.json")).read_text())
    assert metrics["training"]["backend"] == "jax"
    assert metrics["run"]["versions"]["jax"]


def test_version_is_the_package_version():
    assert __version__ in invoke("--version").output


def test_train_then_predict(workdir):
    path = write_config(workdir, base_config("series.csv"))
    result = invoke("train", path, "--set", "model.type=mlp", "--set", "model.units=[8]")
    run_dir = run_dir_of(result)
    assert run_dir.is_dir() and run_dir.parent == workdir / "runs"
    assert "naive" in result.stdout and "mase" in result.stdout
    assert "epoch 1/2" in result.stderr

    sine_frame(60, seed=5, start="2025-03-01").to_csv(workdir / "new.csv", index=False)
    out = workdir / "forecast.csv"
    result = invoke("predict", run_dir, "--input", workdir / "new.csv", "--output", out)
    assert result.exit_code == 0, result.output
    forecast = pd.read_csv(out)
    assert list(forecast.columns) == ["time", "y"]
    assert list(forecast["time"]) == [
        "2025-03-03 12:00:00",
        "2025-03-03 13:00:00",
        "2025-03-03 14:00:00",
        "2025-03-03 15:00:00",
    ]
    assert forecast["y"].between(0, 40).all()

    stdout = invoke("predict", run_dir)
    assert stdout.exit_code == 0 and stdout.stdout.startswith("time,y\n")


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (lambda c: c["window"].update(horizon=0), 2, "window.horizon must be a positive number"),
        (lambda c: c["model"].update(type="lstn"), 2, "Did you mean 'lstm'?"),
        (lambda c: c["data"].update(path="missing.csv"), 1, "Data file not found"),
        (
            lambda c: c["data"].update(target_columns=["nope"]),
            1,
            "Column 'nope' is not in the data",
        ),
        (lambda c: c["window"].update(input_width=500), 1, "train split"),
        (lambda c: c["training"].update(epochs=-1), 2, "training.epochs must be a positive"),
    ],
)
def test_bad_config_gives_one_error_line(workdir, change, code, message):
    config = base_config("series.csv")
    change(config)
    path = write_config(workdir, config)
    for command in ("train", "validate"):
        result = invoke(command, path)
        if command == "validate" and code == 1:
            assert result.exit_code == 0  # data problems are found when the data is read
            continue
        assert_one_error_line(result, code, message)
    assert not (workdir / "runs").exists()


def test_bad_data_gives_one_error_line(workdir):
    frame = sine_frame()
    frame["y"] = frame["y"].astype(object)
    frame.loc[3, "y"] = "abc"
    frame.to_csv(workdir / "series.csv", index=False)
    result = invoke("train", write_config(workdir, base_config("series.csv")))
    assert_one_error_line(result, 1, "Column 'y' must be numeric; row 4 holds 'abc'.")


def test_malformed_yaml_and_missing_config(workdir):
    (workdir / "bad.yaml").write_text("data: {path: x\n")
    assert_one_error_line(invoke("train", workdir / "bad.yaml"), 2, "Malformed YAML")
    assert_one_error_line(invoke("train", workdir / "nope.yaml"), 2, "Config file not found")
    assert_one_error_line(
        invoke("train", write_config(workdir, base_config("series.csv")), "--set", "x"),
        2,
        "--set expects KEY.PATH=VALUE",
    )


def test_predict_refuses_bad_runs_and_inputs(workdir):
    assert_one_error_line(invoke("predict", workdir / "nowhere"), 1, "Run directory not found")
    path = write_config(workdir, base_config("series.csv"))
    run_dir = run_dir_of(invoke("train", path, "--set", "model.type=naive"))

    sine_frame(40).drop(columns="x").to_csv(workdir / "nox.csv", index=False)
    assert_one_error_line(
        invoke("predict", run_dir, "--input", workdir / "nox.csv"),
        1,
        "Column 'x' is not in the data",
    )
    sine_frame(5).to_csv(workdir / "short.csv", index=False)
    assert_one_error_line(
        invoke("predict", run_dir, "--input", workdir / "short.csv"), 1, "has 5 rows"
    )
    (run_dir / "metrics.json").unlink()
    assert_one_error_line(invoke("predict", run_dir), 1, "unfinished or damaged: metrics.json")


def test_failed_run_is_marked(workdir, monkeypatch):
    from tsforecast.training import fit

    def explode(*args, **kwargs):
        raise ValueError("boom")

    monkeypatch.setattr(fit, "fit", explode)
    path = write_config(workdir, base_config("series.csv"))
    with pytest.raises(ValueError):
        CliRunner().invoke(main, ["train", str(path)], catch_exceptions=False)
    (run_dir,) = (workdir / "runs").iterdir()
    assert (run_dir / "FAILED").read_text().startswith("ValueError: boom")
    assert not (run_dir / "metrics.json").exists()
    assert_one_error_line(invoke("predict", run_dir), 1, "failed and cannot be used")


def test_cli_entry_point_answers_fast():
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tsforecast", "--help"], check=True, capture_output=True)
    assert time.perf_counter() - start < 30  # generous: only guards against importing TF


def test_nan_loss_ends_with_one_error_naming_the_epoch(workdir):
    config = base_config("series.csv")
    config["training"]["optimizer"] = {"name": "sgd", "learning_rate": 1e30}
    result = invoke("train", write_config(workdir, config), "--quiet")
    assert_one_error_line(result, 1, "Training loss became NaN or infinite in epoch 1;")
    assert result.stdout == ""
    (run_dir,) = (workdir / "runs").iterdir()
    assert (run_dir / "FAILED").exists()
    assert not any(p.name.startswith(".") for p in run_dir.iterdir())


def test_a_bar_within_each_epoch_on_an_interactive_terminal(monkeypatch, capsys):
    import sys

    from tsforecast import console

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    progress = console.training_progress()
    for step in (1, 2, 10):
        progress.batch(1, 3, step, 10, {"loss": 0.5})
    progress.epoch(1, 3, {"loss": 0.5, "val_loss": 0.25})
    err = capsys.readouterr().err
    assert "epoch 1/3 [####################] 10/10" in err and "steps/s  ETA 0 s  loss=0.5" in err
    assert err.endswith("epoch 1/3  loss=0.5  val_loss=0.25" + " " * 45 + "\n")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert console.training_progress().batch is None  # CI logs get the epoch lines only
