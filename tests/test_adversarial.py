"""A growing corpus of hostile uses: damaged run directories, second writers, data files as
people have them, hostile configs.

Each case is a row of :data:`CASES`: a setup that prepares a folder (from a finished run,
an interrupted run with a backup, or nothing) and returns the command to run, the exit code
it must end with and a fragment of the message it must print. Cases whose damage put a run
at risk also check that the run still predicts afterwards. Add a row for every new way to
break the tool.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import base_config, invoke, run_dir_of, sine_frame, write_config


@dataclass
class Context:
    """What a case's setup may use: a scratch folder, a copy of a finished run (trained on
    the first 200 of 240 hourly rows) and a copy of an interrupted run with a backup."""

    folder: Path
    finished: Path
    interrupted: Path
    config: Path  # the finished run's config file


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A finished run and an interrupted one (stopped after two backed-up epochs)."""
    from tsforecast.training import fit

    folder = tmp_path_factory.mktemp("adversarial")
    sine_frame(240).to_csv(folder / "series.csv", index=False)
    config = base_config(str(folder / "series.csv"), output={"dir": str(folder / "runs")})
    config["data"]["rows"] = 200
    config["model"] = {"type": "mlp", "units": [8], "dropout": 0.1}
    config["training"].update(epochs=4, backup_interval=0)
    path = write_config(folder, config)
    result = invoke("train", path, "--quiet")
    finished = run_dir_of(result)

    original = fit._callbacks

    def stop_after_two(*args, **kwargs):
        import keras

        callbacks, guard = original(*args, **kwargs)

        class Stop(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                if epoch == 2:
                    raise KeyboardInterrupt

        return [*callbacks, Stop()], guard

    fit._callbacks = stop_after_two
    try:
        result = invoke("train", path, "--quiet", "--set", f"output.dir={folder / 'stopped'}")
    finally:
        fit._callbacks = original
    assert result.exit_code == 130, result.output
    (interrupted,) = (folder / "stopped").iterdir()
    assert (interrupted / ".backup" / "state.json").is_file()
    return folder, finished, interrupted, path


@pytest.fixture
def context(runs, tmp_path) -> Context:
    _, finished, interrupted, config = runs
    shutil.copytree(finished, tmp_path / "finished")
    shutil.copytree(interrupted, tmp_path / "interrupted")
    copied = tmp_path / "config.yaml"
    raw = yaml.safe_load(config.read_text())
    raw["output"]["dir"] = str(tmp_path / "runs")
    copied.write_text(yaml.safe_dump(raw))
    return Context(tmp_path, tmp_path / "finished", tmp_path / "interrupted", copied)


# ---------------------------------------------------------------------------------------------
# Setups: each damages or prepares something and returns the command's arguments


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def damaged_metrics(change: Callable[[dict], None]) -> Callable[[Context], list]:
    def setup(ctx: Context) -> list:
        edit_json(ctx.finished / "metrics.json", change)
        return ["compare", ctx.finished]

    return setup


def nan_metric(ctx: Context) -> list:
    path = ctx.finished / "metrics.json"
    path.write_text(path.read_text().replace('"mse": ', '"mse": NaN, "x": ', 1))
    return ["compare", ctx.finished, "--json"]


def edited_config(ctx: Context) -> list:
    path = ctx.finished / "config.yaml"
    config = yaml.safe_load(path.read_text())
    config["data"]["target_columns"], config["data"]["feature_columns"] = ["x"], ["y"]
    path.write_text(yaml.safe_dump(config))
    return ["predict", ctx.finished]


def swapped_model(ctx: Context) -> list:
    import keras

    model = keras.models.load_model(ctx.finished / "model.keras", compile=False)
    keras.models.clone_model(model).save(ctx.finished / "model.keras")  # same shape, new weights
    return ["predict", ctx.finished]


def scaler_of(**values) -> Callable[[Context], list]:
    def setup(ctx: Context) -> list:
        edit_json(ctx.finished / "scaler.json", lambda s: s.update(values))
        return ["predict", ctx.finished]

    return setup


def big_integer_in_yaml(ctx: Context) -> list:
    text = ctx.config.read_text().replace("horizon: 4", "horizon: " + "9" * 5000)
    ctx.config.write_text(text)
    return ["train", ctx.config]


def backup_state(change: Callable[[dict], None]) -> Callable[[Context], list]:
    def setup(ctx: Context) -> list:
        edit_json(ctx.interrupted / ".backup" / "state.json", change)
        return ["train", ctx.interrupted / "config.yaml", "--resume", ctx.interrupted, "-q"]

    return setup


def truncated_best(ctx: Context) -> list:
    (best,) = (ctx.interrupted / ".backup").glob("best-epoch-*.npz")
    best.write_bytes(best.read_bytes()[:100])
    return ["train", ctx.interrupted / "config.yaml", "--resume", ctx.interrupted, "-q"]


def fewer_epochs_in_run_config(ctx: Context) -> list:
    path = ctx.interrupted / "config.yaml"
    path.write_text(path.read_text().replace("epochs: 4", "epochs: 1"))
    return ["train", path, "--resume", ctx.interrupted, "-q"]


def input_longer_than_rows(ctx: Context) -> list:
    sine_frame(240).to_csv(ctx.folder / "all.csv", index=False)
    return ["predict", ctx.finished, "--input", ctx.folder / "all.csv"]


def daily_input(strict: bool) -> Callable[[Context], list]:
    def setup(ctx: Context) -> list:
        frame = sine_frame(60)
        frame["time"] = pd.date_range("2024-01-01", periods=60, freq="D").astype(str)
        frame.to_csv(ctx.folder / "daily.csv", index=False)
        return ["predict", ctx.finished, "--input", ctx.folder / "daily.csv"] + (
            ["--strict"] if strict else []
        )

    return setup


def config_with(text: str) -> Callable[[Context], list]:
    def setup(ctx: Context) -> list:
        (ctx.folder / "hostile.yaml").write_text(text)
        return ["validate", ctx.folder / "hostile.yaml"]

    return setup


def fifo_config(ctx: Context) -> list:
    os.mkfifo(ctx.folder / "pipe.yaml")
    return ["train", ctx.folder / "pipe.yaml"]


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[Context], list]
    code: int
    fragment: str
    stream: str = "stderr"
    still_predicts: bool = False


CASES = [
    Case("compare: test is null", damaged_metrics(lambda m: m.update(test=None)), 1,
         "damaged metrics.json: test is missing"),
    Case("compare: test is a list", damaged_metrics(lambda m: m.update(test=[1])), 1,
         "damaged metrics.json: test is missing"),
    Case("compare: test is a string", damaged_metrics(lambda m: m.update(test="x")), 1,
         "damaged metrics.json: test is missing"),
    Case("compare: no naive", damaged_metrics(lambda m: m["test"].pop("naive")), 1,
         "damaged metrics.json: test.naive is missing"),
    Case("compare: NaN metric", nan_metric, 1, "has an unreadable metrics.json"),
    Case("compare: format as text", damaged_metrics(lambda m: m["run"].update(format="1")), 1,
         "damaged metrics.json: run.format is not an integer"),
    Case("predict: edited config.yaml", edited_config, 1,
         "config.yaml is not the file this run was trained with"),
    Case("predict: swapped model.keras", swapped_model, 1,
         "model.keras is not the file this run was trained with"),
    Case("predict: negative scale", scaler_of(scale=[-1.0, 1.0]), 1,
         "scaler.json is malformed: a scale is not a positive float32 number"),
    Case("predict: huge scale", scaler_of(scale=[1e308, 1.0]), 1,
         "scaler.json is malformed: a scale is not a positive float32 number"),
    Case("predict: boolean offsets", scaler_of(offset=[True, False]), 1,
         "scaler.json is malformed: offset must be a list of numbers"),
    Case("predict: another valid scaler", scaler_of(scale=[2.0, 3.0]), 1,
         "scaler.json is not the file this run was trained with"),
    Case("predict: output over the run's model", lambda c: [
        "predict", c.finished, "--output", c.finished / "model.keras"], 2,
         "is inside the run directory", still_predicts=True),
    Case("predict: input longer than data.rows", input_longer_than_rows, 0,
         "2024-01-11 00:00:00,", stream="stdout"),
    Case("predict: daily input to an hourly run", daily_input(False), 0,
         "Warning: The input's timestamps are D apart, but run finished was trained on h data"),
    Case("predict --strict: daily input", daily_input(True), 1, "timestamps are D apart"),
    Case("--set: integer of 5000 digits", lambda c: [
        "train", c.config, "--set", "window.horizon=" + "9" * 5000], 2,
         "--set window.horizon: an integer of 5000 digits is out of range"),
    Case("yaml: integer of 5000 digits", big_integer_in_yaml, 2,
         "an integer of 5000 digits is out of range"),
    Case("yaml: repeated key", config_with("window: {horizon: 6, horizon: 12}\n"), 2,
         "the key 'horizon' appears twice in one mapping"),
    Case("yaml: name with a newline", lambda c: [
        "train", c.config, "--set", 'output.name="abc\\n"'], 2,
         "output.name must be a plain name"),
    Case("config: a FIFO", fifo_config, 2, "Config path is not a regular file"),
    Case("config: /dev/zero", lambda c: ["validate", "/dev/zero"], 2,
         "Config path is not a regular file"),
    Case("resume: truncated best weights", truncated_best, 1,
         "backup in", still_predicts=False),
    Case("resume: text in the history", backup_state(
        lambda s: s["history"][0].update(loss="abc")), 1,
         "the history of epoch 1 is not a mapping of numbers"),
    Case("resume: weights outside the backup", backup_state(
        lambda s: s.update(weights="../../../other/model.keras")), 1,
         "it names no weights file of its own"),
    Case("resume: fewer epochs in config.yaml", fewer_epochs_in_run_config, 1,
         "The config changed since this run's backup was made (training.epochs is 1 here"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_adversarial(context, case):
    result = invoke(*case.setup(context))
    output = result.stdout if case.stream == "stdout" else result.stderr
    assert result.exit_code == case.code, result.output
    assert case.fragment in output, output
    assert "Traceback" not in result.output
    if case.code and case.stream == "stderr":
        assert output.strip().splitlines()[-1].startswith("Error: ")
    if case.still_predicts:
        assert invoke("predict", context.finished).exit_code == 0


def test_compare_skips_a_damaged_run_and_ranks_the_others(context, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(context.finished, other)
    edit_json(other / "metrics.json", lambda m: m["test"]["model"].update(mse=float("inf")))
    result = invoke("compare", context.finished, other)
    assert result.exit_code == 0, result.output
    assert f"Skipped: Run {other} has an unreadable metrics.json." in result.stderr
    assert result.stdout.count("finished") == 1


def test_scaler_files_must_hold_what_training_writes():
    from tsforecast.data.scaling import Scaler
    from tsforecast.errors import RunError

    good = {"kind": "standard", "offset": [0.0, 1.0], "scale": [1.0, 2.0]}
    assert Scaler.from_dict(good).scale_.tolist() == [1.0, 2.0]
    for bad, message in (
        ({"scale": [-1.0, 1.0]}, "a scale is not a positive float32 number"),
        ({"scale": [1e308, 1.0]}, "a scale is not a positive float32 number"),
        ({"offset": [True, 1.0]}, "offset must be a list of numbers"),
        ({"offset": [0.0]}, "offset and scale differ in shape"),
        ({"kind": "robust"}, "unknown kind"),
    ):
        with pytest.raises(RunError, match=message):
            Scaler.from_dict({**good, **bad})


def test_predict_keeps_the_utc_offset_of_the_input(context):
    frame = sine_frame(60)
    frame["time"] = [
        f"{t}+02:00" for t in pd.date_range("2021-04-07 13:00", periods=60, freq="h").astype(str)
    ]
    frame.to_csv(context.folder / "offsets.csv", index=False)
    result = invoke("predict", context.finished, "--input", context.folder / "offsets.csv")
    assert result.exit_code == 0, result.output
    forecast = pd.read_csv(pd.io.common.StringIO(result.stdout))
    assert frame["time"].iloc[-1] == "2021-04-10 00:00:00+02:00"
    assert list(forecast["time"]) == [f"2021-04-10 0{h}:00:00+02:00" for h in range(1, 5)]


def test_an_interrupted_write_leaves_no_temporary_files(context):
    backup = context.interrupted / ".backup"
    (backup / ".epoch-3.weights.h5.tmp.weights.h5").write_bytes(b"partial")
    from tsforecast.runs import RunDir

    RunDir(context.interrupted).mark_failed("stopped")
    assert not list(backup.glob(".*tmp*"))


# ---------------------------------------------------------------------------------------------
# A second writer, in real processes


SLOW_TRAIN = """
import sys, time
import keras
from tsforecast import cli
from tsforecast.training import fit

original = fit._callbacks


def slowly(*args, **kwargs):
    callbacks, guard = original(*args, **kwargs)

    class Slow(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            print("epoch", epoch, flush=True)
            time.sleep(1.5)

    return [*callbacks, Slow()], guard


fit._callbacks = slowly
cli.main(sys.argv[1:], prog_name="tsforecast")
"""


def test_a_second_writer_is_refused_and_the_run_completes(context):
    """While one process resumes a run, a second ``--resume`` of it fails at once, names
    the writer, and leaves no FAILED marker in the run the first one completes."""
    script = context.folder / "slow_train.py"
    script.write_text(SLOW_TRAIN)
    run, config = context.interrupted, context.interrupted / "config.yaml"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    first = subprocess.Popen(
        [sys.executable, str(script), "train", str(config), "--resume", str(run), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert first.stdout.readline().startswith("epoch")  # it holds the run now
        second = invoke("train", config, "--resume", run, "--quiet")
        assert second.exit_code == 1, second.output
        assert f"is being written by process {first.pid}" in second.stderr
        assert not (run / "FAILED").exists()
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.send_signal(signal.SIGKILL)
    assert first.returncode == 0, err
    assert (run / "metrics.json").is_file() and not (run / "FAILED").exists()
    assert invoke("predict", run).exit_code == 0
    started = time.perf_counter()
    again = invoke("train", config, "--resume", run, "--quiet")  # the lock is released
    assert again.exit_code == 1 and "is complete" in again.stderr
    assert time.perf_counter() - started < 30


def test_forecasts_start_after_the_last_input_row(context):
    """data.rows limits training only: predict reads the whole input."""
    sine_frame(240).to_csv(context.folder / "all.csv", index=False)
    result = invoke("predict", context.finished, "--input", context.folder / "all.csv")
    forecast = pd.read_csv(pd.io.common.StringIO(result.stdout))
    last = pd.Timestamp(sine_frame(240)["time"].iloc[-1])
    assert pd.Timestamp(forecast["time"].iloc[0]) == last + pd.Timedelta(hours=1)
    short = sine_frame(30)
    short.to_csv(context.folder / "short.csv", index=False)
    result = invoke("predict", context.finished, "--input", context.folder / "short.csv")
    assert result.exit_code == 0, result.output  # not refused for having fewer than 200 rows
    assert np.isfinite(pd.read_csv(pd.io.common.StringIO(result.stdout))["y"]).all()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _backtest_dir(ctx: Context) -> Path:
    result = invoke("backtest", ctx.config, "--folds", "1", "-q", "--set", "training.epochs=1")
    return run_dir_of(result)


WRITES_INTO_OTHERS = [
    ("predict over a model", lambda c, o: ["predict", c.finished, "--output", o / "model.keras"]),
    ("compare html", lambda c, o: ["compare", c.finished, "--html", o / "report.html"]),
    ("compare plot", lambda c, o: ["compare", c.finished, "--plot", o / "plots" / "x.png"]),
    ("tflite sidecar", lambda c, o: ["export", c.finished, "--format", "tflite", "--output",
                                     o / "metrics"]),
    ("export inside", lambda c, o: ["export", c.finished, "--output", o / "x"]),
    ("init inside", lambda c, o: ["init", c.folder / "series.csv", "-o", o / "x.yaml"]),
]  # fmt: skip


@pytest.mark.parametrize("case", WRITES_INTO_OTHERS, ids=[c[0] for c in WRITES_INTO_OTHERS])
def test_no_command_writes_into_another_finished_run(context, case):
    other = context.folder / "other"
    shutil.copytree(context.finished, other)
    sine_frame(240).to_csv(context.folder / "series.csv", index=False)
    before = _files(other)
    result = invoke(*case[1](context, other))
    assert result.exit_code == 2, result.output
    assert "a directory tsforecast wrote, whose files must not be overwritten" in result.stderr
    assert "Traceback" not in result.output
    assert _files(other) == before


def test_backtest_directories_are_neither_written_into_nor_resumed_as_runs(context):
    backtest = _backtest_dir(context)
    before = _files(backtest)
    result = invoke("predict", context.finished, "--output", backtest / "backtest.json")
    assert result.exit_code == 2 and "a directory tsforecast wrote" in result.stderr
    result = invoke("train", context.config, "--resume", backtest)
    assert result.exit_code == 1, result.output
    assert "is a backtest directory, not a training run" in result.stderr
    assert _files(backtest) == before


def test_names_holding_dollar_signs_are_plotted_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = "cost $\\frac{a}{b$"
    frame = sine_frame(120).rename(columns={"y": name})
    frame.to_csv("series.csv", index=False)
    config = base_config("series.csv", output={"dir": "runs"})
    config["data"]["target_columns"] = [name]
    config["training"]["epochs"] = 1
    run = run_dir_of(invoke("train", write_config(tmp_path, config), "-q"))
    assert sorted(p.name for p in (run / "plots").iterdir())


def test_forecasts_of_tiny_values_keep_their_digits():
    from tsforecast.forecasting import decimals, written

    assert decimals(np.array([2.9, 3.15])) == 2
    tiny = np.array([1.2e-7, 3.4e-7, 5.6e-8])
    digits = decimals(tiny)
    assert digits is None
    assert written(np.array([2.3456789e-7]), digits)[0] == pytest.approx(2.345679e-7)


def test_init_writes_any_file_name_into_the_draft_as_data(tmp_path, monkeypatch):
    from tsforecast.config import load_config

    monkeypatch.chdir(tmp_path)
    name = "a\nevaluation:\n  baselines: [arima]\n#.csv"
    sine_frame(240).to_csv(name, index=False)
    result = invoke("init", name, "-o", "draft.yaml")
    assert result.exit_code == 0, result.output
    config = load_config(tmp_path / "draft.yaml")
    assert Path(config.data.path).name == name
    assert "arima" not in config.evaluation.baselines


def test_a_full_disk_while_a_backtest_writes_is_one_error_line(context, monkeypatch):
    import errno

    from tsforecast import runs

    def full(path, text):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(runs, "write_atomically", full)
    result = invoke("backtest", context.config, "--folds", "1", "-q", "--set", "training.epochs=1")
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: No space left to write"), lines
    assert "Traceback" not in result.output


def test_export_refuses_a_symbolic_link_as_its_output(context):
    link = context.folder / "served"
    link.symlink_to(context.folder / "nowhere" / "x")
    result = invoke("export", context.finished, "--output", link)
    assert result.exit_code == 2, result.output
    assert "is a symbolic link; name a new path" in result.stderr
