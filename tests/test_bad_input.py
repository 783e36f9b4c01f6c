"""Every kind of bad input gets one ``Error: ...`` line, the right exit code and no traceback.

Table-driven: each case changes a valid config, data file or run directory, runs a command
and checks the exit code (2 config/usage, 1 data/runtime) and the message.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import (
    assert_one_error_line,
    base_config,
    invoke,
    panel_frame,
    run_dir_of,
    sine_frame,
    write_config,
)

# ---------------------------------------------------------------------------------------------
# Config: exit code 2 from both validate and train, before anything is read or written


def _set(path: str, value):
    def change(config):
        *parents, last = path.split(".")
        node = config
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = value

    return change


CONFIG_CASES = [
    ("misspelt key", _set("training.epoch", 3), "Did you mean 'epochs'?"),
    ("unknown section", _set("trainer.epochs", 3), "Unknown section 'trainer'."),
    (
        "wrong type",
        _set("window.horizon", "four"),
        "window.horizon must be an integer; got 'four'.",
    ),
    ("zero size", _set("window.horizon", 0), "window.horizon must be a positive number; got 0."),
    ("negative size", _set("training.batch_size", -4), "training.batch_size must be a positive"),
    ("float for int", _set("window.input_width", 12.5), "must be an integer; got 12.5."),
    ("1e9 is text in YAML", _set("window.input_width", "1e9"), "must be an integer; got '1e9'."),
    ("huge integer", _set("training.epochs", 2**70), "must be an integer below 2**63"),
    ("empty split", _set("data.split", {"val": 0.5, "test": 0.5}), "must leave rows for training"),
    ("split above 1", _set("data.split.val", 1.5), "a fraction between 0 and 1"),
    (
        "unknown model",
        _set("model.type", "transformer"),
        "Known models: auto, naive, seasonal_naive, linear, mlp",
    ),
    ("misspelt model", _set("model.type", "lstn"), "Did you mean 'lstm'?"),
    ("unknown optimizer", _set("training.optimizer.name", "adamax"), "must be one of adam"),
    ("unknown loss", _set("training.loss", "rmse"), "training.loss must be one of mse, mae"),
    ("NaN number", _set("training.optimizer.learning_rate", float("nan")), "finite number"),
    ("infinite number", _set("training.optimizer.learning_rate", float("inf")), "finite"),
    ("negative seed", _set("training.seed", -1), "from 0 to 4294967295"),
    ("negative clipnorm", _set("training.optimizer.clipnorm", -1.0), "a positive number"),
    ("escaping run name", _set("output.name", "../../etc"), "no path separators"),
    ("absolute run name", _set("output.name", "/tmp/x"), "no path separators"),
    ("dot run name", _set("output.name", ".."), "no path separators"),
    ("NUL in path", _set("data.path", "a\x00b.csv"), "a path without NUL characters"),
    ("section not a mapping", _set("window", [12, 4]), "window must be a mapping of keys"),
    ("model param of another family", _set("model.units", [8]), "Unknown key 'model.units'"),
    ("time column is a target", _set("data.time_column", "y"), "cannot also be listed"),
    ("unknown missing policy", _set("data.missing", "skip"), "data.missing must be one of"),
    ("zero steps per execution", _set("training.steps_per_execution", 0), "a positive"),
    ("negative backup interval", _set("training.backup_interval", -1), "zero or more"),
    ("mixed precision as text", _set("training.mixed_precision", "yes"), "true or false"),
    ("unknown jit setting", _set("training.jit_compile", "xla"), "must be one of auto, true"),
]


@pytest.mark.parametrize(
    ("change", "message"),
    [pytest.param(c, m, id=name) for name, c, m in CONFIG_CASES],
)
def test_bad_config(workdir, change, message):
    config = base_config("series.csv")
    change(config)
    path = write_config(workdir, config)
    for command in ("validate", "train"):
        assert_one_error_line(invoke(command, path), 2, message)
    assert not (workdir / "runs").exists()


RAW_CONFIG_CASES = [
    ("malformed YAML", "data: {path: x\n", "Malformed YAML in"),
    ("tab indentation", "data:\n\tpath: x\n", "Malformed YAML in"),
    (
        "a list",
        "- data\n- window\n",
        "The config must be a mapping of sections; got [data, window].",
    ),
    ("a scalar", "5\n", "The config must be a mapping of sections; got 5."),
    ("empty", "", "is empty"),
    ("only a comment", "# nothing\n", "is empty"),
    ("python tag", "!!python/object/apply:os.system ['true']\n", "Malformed YAML"),
    ("deeply nested", "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ("missing section", "data: {path: s.csv, target_columns: [y]}\n", "no 'window' section"),
]


@pytest.mark.parametrize(
    ("text", "message"), [pytest.param(t, m, id=name) for name, t, m in RAW_CONFIG_CASES]
)
def test_bad_config_text(workdir, text, message):
    (workdir / "bad.yaml").write_text(text)
    for command in ("validate", "train"):
        assert_one_error_line(invoke(command, workdir / "bad.yaml"), 2, message)


def test_config_file_problems(workdir):
    assert_one_error_line(invoke("train", workdir / "nope.yaml"), 2, "Config file not found")
    assert_one_error_line(invoke("train", workdir), 2, "is a directory, not a YAML file")
    (workdir / "latin1.yaml").write_bytes("data: {path: caf\xe9.csv}\n".encode("latin-1"))
    assert_one_error_line(invoke("validate", workdir / "latin1.yaml"), 2, "not UTF-8 text")
    path = write_config(workdir, base_config("series.csv"))
    assert_one_error_line(invoke("train", path, "--set", "x"), 2, "--set expects KEY.PATH=VALUE")
    assert_one_error_line(
        invoke("train", path, "--set", "window.horizon.x=1"), 2, "window.horizon is not a section"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train"], "train needs at least one CONFIG file."),
        (["train", "c.yaml", "--epochs", "3"], "No such option '--epochs'."),
        (["fit", "c.yaml"], "No such command 'fit'."),
        (["predict"], "Missing argument 'RUN_DIR'."),
    ],
)
def test_usage_errors_are_one_line(args, message):
    assert_one_error_line(invoke(*args), 2, message)


# ---------------------------------------------------------------------------------------------
# Data: exit code 1 from train, before a run directory is made


def _frame(change):
    def write(folder: Path) -> None:
        frame = sine_frame(120)
        frame = change(frame) if change else frame
        frame.to_csv(folder / "series.csv", index=False)

    return write


def _text(content: bytes | str):
    def write(folder: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (folder / "series.csv").write_bytes(data)

    return write


def _cell(column, row, value):
    def change(frame):
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame

    return change


def _gzip_cut(folder: Path) -> None:
    data = gzip.compress(sine_frame(120).to_csv(index=False).encode())
    (folder / "series.csv.gz").write_bytes(data[: len(data) // 2])


def _panel_one_row_each(folder: Path) -> None:
    frame = sine_frame(40)
    frame.insert(0, "id", [f"r{i}" for i in range(40)])
    frame.to_csv(folder / "series.csv", index=False)


def _out_of_range_after_scaling(frame):
    frame["x"] = 0.001 * np.sin(np.arange(len(frame)))
    frame.loc[len(frame) - 1, "x"] = -3.0e38  # a test row far below the train rows
    return frame


DATA_CASES = [
    ("missing file", _text(b""), {"path": "nowhere.csv"}, "Data file not found"),
    ("directory", _text(b""), {"path": "."}, "Data path is not a file"),
    ("empty file", _text(b""), {}, "is empty"),
    ("only a header", _text("time,y,x\n"), {}, "has no data rows"),
    ("binary garbage", _text(bytes(range(256)) * 4), {}, "Cannot read CSV file"),
    ("not UTF-8", _text("time,y,x\n2024-01-01,caf\xe9,1\n".encode("latin-1")), {}, "not UTF-8"),
    ("extra fields", _text("time,y,x\n2024-01-01,1,2,3\n"), {}, "more fields than its header"),
    ("truncated gzip", _gzip_cut, {"path": "series.csv.gz"}, "Cannot read CSV file"),
    ("repeated column", _text("time,y,y,x\n2024-01-01,1,2,3\n"), {}, "more than one column named"),
    ("missing column", _frame(lambda f: f.drop(columns="x")), {}, "Column 'x' is not in the data"),
    ("non-numeric", _frame(_cell("y", 3, "abc")), {}, "Column 'y' must be numeric; row 4"),
    ("boolean column", _frame(lambda f: f.assign(x=True)), {}, "holds true/false values"),
    ("NaN", _frame(_cell("y", 7, np.nan)), {}, "1 missing values; the first is in column 'y'"),
    ("inf", _frame(_cell("x", 2, np.inf)), {}, "Column 'x' holds an infinite value at row 3"),
    ("beyond float32", _frame(_cell("y", 5, 1e300)), {}, "beyond the float32 range"),
    ("overflow after scaling", _frame(_out_of_range_after_scaling), {}, "to scale in float32"),
    ("bad timestamp", _frame(_cell("time", 4, "31/02/2024 25:00")), {}, "not a timestamp at row 5"),
    ("decreasing time", _frame(lambda f: f.iloc[::-1]), {}, "goes back in time at row 2"),
    ("repeated time", _frame(_cell("time", 9, "2024-01-01 08:00:00")), {}, "repeats at row 10"),
    (
        "a skipped timestamp",
        _frame(lambda f: f.drop(index=[50])),
        {},
        "The time column skips 1 timestamps; the first is 2024-01-03 02:00:00 in the series; "
        "set data.missing to interpolate or ffill to fill them.",
    ),
    (
        "irregular time",
        _frame(_cell("time", 50, "2024-01-03 02:30:00")),
        {},
        "Column 'time' is irregularly spaced at row 51 of the series (2024-01-03 02:30:00)",
    ),
    ("series too short", _frame(lambda f: f.head(10)), {}, "shorter than window.input_width"),
    (
        "split shorter than horizon",
        _frame(None),
        {"split": {"val": 3, "test": 0.2}},
        "its validation split (3 rows) is shorter than window.horizon (4)",
    ),
    ("one row per series", _panel_one_row_each, {"id_column": "id"}, "gives every row its own"),
    (
        "drop leaves holes in time",
        _frame(_cell("y", 7, np.nan)),
        {"missing": "drop"},
        "data.missing: drop removed the rows with gaps, leaving holes in the time column",
    ),
    (
        "nothing left after drop",
        _frame(lambda f: f.assign(y=np.nan)),
        {"missing": "drop", "time_column": None},
        "The series has no rows left",
    ),
    (
        "all missing, interpolated",
        _frame(lambda f: f.assign(y=np.nan)),
        {"missing": "interpolate"},
        "has a series with no values at all",
    ),
]


@pytest.mark.parametrize(
    ("write", "data", "message"),
    [pytest.param(w, d, m, id=name) for name, w, d, m in DATA_CASES],
)
def test_bad_data(workdir, write, data, message):
    write(workdir)
    config = base_config("series.csv")
    config["data"].update(data)
    assert_one_error_line(invoke("train", write_config(workdir, config)), 1, message)
    assert not (workdir / "runs").exists(), "data problems are reported before a run is made"


def test_real_process_prints_only_the_error_line(workdir):
    """Run as a user would: no TensorFlow log lines or warnings around the error."""
    frame = sine_frame(120)
    frame.loc[7, "y"] = 1e300
    frame.to_csv(workdir / "series.csv", index=False)
    path = write_config(workdir, base_config("series.csv"))
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    command = [sys.executable, "-m", "tsforecast", "train", str(path)]
    child = subprocess.run(command, capture_output=True, text=True, env=env, cwd=workdir)
    assert child.returncode == 1
    assert child.stderr.splitlines() == [
        "Error: Column 'y' holds 1e+300 at row 8, beyond the float32 range (about 3.4e+38) "
        "the models compute in; rescale it."
    ]
    assert child.stdout == ""


def test_hostile_but_usable_tables_train(workdir):
    """A BOM, a constant target and time zones are not errors."""
    frame = sine_frame(120)
    frame["x"] = 5.0
    frame["time"] = pd.to_datetime(frame["time"]).dt.tz_localize("Europe/Paris").astype(str)
    (workdir / "series.csv").write_bytes(b"\xef\xbb\xbf" + frame.to_csv(index=False).encode())
    config = base_config("series.csv", model={"type": "naive"})
    result = invoke("train", write_config(workdir, config))
    assert result.exit_code == 0, result.output


def test_nan_loss_names_the_epoch(workdir):
    config = base_config("series.csv")
    config["training"].update(epochs=3, optimizer={"name": "sgd", "learning_rate": 1e30})
    result = invoke("train", write_config(workdir, config), "--quiet")
    assert_one_error_line(result, 1, "Training loss became NaN or infinite in epoch 1;")
    (run_dir,) = (workdir / "runs").iterdir()
    assert "in epoch 1" in (run_dir / "FAILED").read_text()
    assert not (run_dir / "metrics.json").exists()


def test_model_too_big_for_memory(workdir):
    config = base_config("series.csv", model={"type": "mlp", "units": [10**11]})
    result = invoke("train", write_config(workdir, config), "--quiet")
    assert_one_error_line(result, 1, "Out of memory building or training the model")


# ---------------------------------------------------------------------------------------------
# The output directory is checked before training starts


def test_output_dir_that_is_a_file(workdir):
    config = base_config("series.csv", output={"dir": "series.csv/runs"})
    result = invoke("train", write_config(workdir, config))
    assert_one_error_line(result, 1, "Cannot create output directory series.csv/runs")


def test_full_disk_is_reported_before_training(workdir, monkeypatch):
    from tsforecast import runs

    monkeypatch.setattr(runs.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1, 1, 1))
    result = invoke("train", write_config(workdir, base_config("series.csv")))
    assert_one_error_line(result, 1, "Only 0 MiB free in runs; this run needs at least 50 MiB.")
    assert "epoch" not in result.stderr
    assert list((workdir / "runs").iterdir()) == []


def test_big_model_needs_room_for_its_files(workdir, monkeypatch):
    from tsforecast import runs

    free = runs.MIN_FREE_BYTES + 1024
    monkeypatch.setattr(runs.shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(1, 1, free))
    config = base_config("series.csv", model={"type": "mlp", "units": [256, 256]})
    result = invoke("train", write_config(workdir, config))
    assert_one_error_line(result, 1, "this run needs at least 53 MiB")
    assert "epoch" not in result.stderr
    (run_dir,) = (workdir / "runs").iterdir()
    assert "needs at least" in (run_dir / "FAILED").read_text()


def test_unwritable_output_dir(workdir, monkeypatch):
    from tsforecast import runs

    monkeypatch.setattr(runs.os, "access", lambda path, mode: False)
    result = invoke("train", write_config(workdir, base_config("series.csv")))
    assert_one_error_line(result, 1, "Output directory runs is not writable.")


def test_disk_error_while_saving_marks_the_run(workdir, monkeypatch):
    from tsforecast import runs

    def no_space(self, model):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs.RunDir, "save_model", no_space)
    result = invoke("train", write_config(workdir, base_config("series.csv")), "--quiet")
    assert_one_error_line(result, 1, "Cannot write the run directory")
    (run_dir,) = (workdir / "runs").iterdir()
    assert "No space left on device" in (run_dir / "FAILED").read_text()


# ---------------------------------------------------------------------------------------------
# predict: damaged or foreign runs and unsuitable input


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("finished")
    sine_frame().to_csv(folder / "series.csv", index=False)
    config = base_config(str(folder / "series.csv"), output={"dir": str(folder / "runs")})
    config["model"] = {"type": "linear"}
    result = invoke("train", write_config(folder, config), "--quiet")
    return run_dir_of(result)


def _unfingerprinted(run: Path) -> None:
    """Drop the files' fingerprints, as in a run written before they were recorded, so
    that the checks behind them are reached."""
    metrics = json.loads((run / "metrics.json").read_text())
    metrics["run"].pop("files", None)
    (run / "metrics.json").write_text(json.dumps(metrics))


def _edit_json(name, change):
    def edit(run: Path) -> None:
        if name != "metrics.json":
            _unfingerprinted(run)
        data = json.loads((run / name).read_text())
        change(data)
        (run / name).write_text(json.dumps(data))

    return edit


def _write(name, content):
    def edit(run: Path) -> None:
        if name != "metrics.json":
            _unfingerprinted(run)
        (run / name).write_bytes(content if isinstance(content, bytes) else content.encode())

    return edit


def _edit_config(change):
    def edit(run: Path) -> None:
        _unfingerprinted(run)
        config = yaml.safe_load((run / "config.yaml").read_text())
        change(config)
        (run / "config.yaml").write_text(yaml.safe_dump(config))

    return edit


RUN_CASES = [
    ("no metrics", lambda r: (r / "metrics.json").unlink(), "unfinished or damaged: metrics.json"),
    ("no model", lambda r: (r / "model.keras").unlink(), "unfinished or damaged: model.keras"),
    ("failed", _write("FAILED", "Training was interrupted\n"), "failed and cannot be used"),
    (
        "other format",
        _edit_json("metrics.json", lambda m: m["run"].update(format=99)),
        "was written in run format 99; this version of tsforecast reads formats 1 and 2",
    ),
    ("metrics garbage", _write("metrics.json", "{not json"), "has an unreadable metrics.json"),
    ("model garbage", _write("model.keras", b"\x00" * 64), "Cannot load model"),
    ("scaler garbage", _write("scaler.json", "[1, 2]"), "scaler.json is malformed"),
    (
        "scaler zero scale",
        _edit_json("scaler.json", lambda s: s.update(scale=[0.0, 1.0])),
        "a scale is not a positive float32 number",
    ),
    (
        "scaler of other columns",
        _edit_json("scaler.json", lambda s: s.update(scale=[1.0], offset=[0.0])),
        "scaler.json does not match the columns",
    ),
    (
        "config of a newer version",
        _edit_config(lambda c: c["model"].update(new_option=1)),
        "has a config.yaml that cannot be used: Unknown key 'model.new_option'",
    ),
    (
        "model of another shape",
        _edit_config(lambda c: c["window"].update(horizon=7)),
        "model.keras does not fit its config.yaml",
    ),
]


@pytest.mark.parametrize(
    ("damage", "message"), [pytest.param(d, m, id=name) for name, d, m in RUN_CASES]
)
def test_predict_refuses_damaged_runs(tmp_path, finished_run, damage, message):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    damage(run)
    assert_one_error_line(invoke("predict", run), 1, message)


def test_predict_refuses_missing_runs_and_bad_inputs(tmp_path, finished_run):
    assert_one_error_line(invoke("predict", tmp_path / "nowhere"), 1, "Run directory not found")
    (tmp_path / "file").write_text("x")
    assert_one_error_line(invoke("predict", tmp_path / "file"), 1, "Not a run directory")

    def predict_on(frame, message, name="new.csv"):
        frame.to_csv(tmp_path / name, index=False)
        result = invoke("predict", finished_run, "--input", tmp_path / name)
        assert_one_error_line(result, 1, message)

    predict_on(sine_frame(40).drop(columns="x"), "Column 'x' is not in the data")
    predict_on(sine_frame(40).rename(columns={"y": "target"}), "Column 'y' is not in the data")
    predict_on(sine_frame(5), "The series has 5 rows; forecasting needs the last")
    predict_on(sine_frame(40).assign(y="high"), "Column 'y' must be numeric")
    far = sine_frame(40)
    far.loc[39, "x"] = 3.4e38  # finite, but not once divided by the scale of x (below 1)
    predict_on(far, "to scale in float32")
    late = sine_frame(40, start="2262-04-10 08:00")  # ends 2262-04-11 23:00
    late["time"] = pd.to_datetime(late["time"]).astype("datetime64[ns]")
    late.to_parquet(tmp_path / "late.parquet")
    result = invoke("predict", finished_run, "--input", tmp_path / "late.parquet")
    assert_one_error_line(result, 1, "lie beyond the dates that can be represented")
    result = invoke("predict", finished_run, "--input", tmp_path)
    assert_one_error_line(result, 1, "Data path is not a file")
    result = invoke("predict", finished_run, "--output", tmp_path / "no" / "such" / "dir.csv")
    assert_one_error_line(result, 1, "Cannot write")


def test_panel_predict_names_the_short_series(tmp_path):
    frame = panel_frame(2, 60)
    frame.to_csv(tmp_path / "panel.csv", index=False)
    config = base_config(str(tmp_path / "panel.csv"), output={"dir": str(tmp_path / "runs")})
    config["data"]["id_column"] = "id"
    config["model"] = {"type": "naive"}
    result = invoke("train", write_config(tmp_path, config), "--quiet")
    run = run_dir_of(result)
    frame[(frame["id"] == "s0") | (frame.index % 60 < 5)].to_csv(tmp_path / "new.csv", index=False)
    result = invoke("predict", run, "--input", tmp_path / "new.csv")
    assert_one_error_line(result, 1, "Series 's1' has 5 rows")
