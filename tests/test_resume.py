"""Interrupted training resumes with --resume and ends bit-identical to an uninterrupted run;
repeated runs give identical metrics."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import base_config, invoke, run_dir_of, sine_frame, write_config

from tsforecast.config import config_difference, config_to_dict, load_config
from tsforecast.data.prepared import prepare_data
from tsforecast.runs import load_model
from tsforecast.training import fit
from tsforecast.training.backup import BACKUP_FORMAT

#: Runs the CLI in a child process that sends itself a signal at a chosen (epoch, batch),
#: from a Keras callback, so that the interruption lands at a known point mid-epoch.
SIGNAL_AT = textwrap.dedent(
    """
    import os, signal, sys

    from tsforecast import cli, console
    from tsforecast.training import fit

    console.quiet_tensorflow()  # as the CLI does, before Keras is imported here
    import keras

    epoch_at, batch_at, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    build_callbacks = fit._callbacks


    class SignalAt(keras.callbacks.Callback):
        epoch = None

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch) == (epoch_at, batch_at):
                os.kill(os.getpid(), getattr(signal, name))


    def with_signal(*args, **kwargs):
        callbacks, guard = build_callbacks(*args, **kwargs)
        return [*callbacks, SignalAt()], guard


    fit._callbacks = with_signal
    cli.main(sys.argv[4:], prog_name="tsforecast")
    """
)


def interrupted(folder: Path, config: Path, epoch: int, batch: int, name: str):
    """Train in a child process stopped by signal ``name`` at ``(epoch, batch)``."""
    script = folder / "signal_at.py"
    script.write_text(SIGNAL_AT)
    output = folder / f"runs-{name}"
    command = [sys.executable, str(script), str(epoch), str(batch), name]
    command += ["train", str(config), "--set", f"output.dir={output}", "--quiet"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=env)
    (run,) = output.iterdir()
    return child, run


def assert_same_run(first: Path, second: Path) -> None:
    for name in ("metrics.json", "history.csv", "scaler.json"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    configs = load_config(first / "config.yaml"), load_config(second / "config.yaml")
    assert config_difference(*configs) is None
    weights = zip(
        load_model(first / "model.keras").get_weights(),
        load_model(second / "model.keras").get_weights(),
        strict=True,
    )
    for a, b in weights:
        np.testing.assert_array_equal(a, b)
    assert not (second / "FAILED").exists() and not (second / ".backup").exists()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Data, a config with dropout and batch norm (random and non-trained state), and the
    run it gives without interruption."""
    folder = tmp_path_factory.mktemp("resume")
    sine_frame(240).to_csv(folder / "series.csv", index=False)
    config = base_config("series.csv", output={"dir": str(folder / "runs")})
    config["model"] = {"type": "mlp", "units": [16], "dropout": 0.3, "batch_norm": True}
    config["training"] = {
        "epochs": 5,
        "batch_size": 16,
        "optimizer": {"learning_rate": 0.01},
        "early_stopping": {"patience": 2},
        "backup_interval": 0,
    }
    path = write_config(folder, config)
    reference = run_dir_of(invoke("train", path, "--quiet"))
    return folder, path, reference


def test_sigkill_mid_epoch_then_resume_gives_the_same_run(setup):
    folder, config, reference = setup
    child, run = interrupted(folder, config, epoch=2, batch=3, name="SIGKILL")
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert not (run / "metrics.json").exists()
    assert (run / ".backup" / "state.json").is_file()
    result = invoke("predict", run)
    assert result.exit_code == 1 and "unfinished" in result.stderr

    resumed = run_dir_of(invoke("train", config, "--resume", run, "--quiet"))
    assert resumed == run
    assert_same_run(reference, run)


def test_sigterm_is_handled_like_ctrl_c_and_the_run_resumes(setup, monkeypatch):
    """SIGINT (Ctrl-C) raises KeyboardInterrupt in Python; the CLI maps SIGTERM to it."""
    import keras

    folder, config, reference = setup
    build_callbacks = fit._callbacks

    class SigtermAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if len(backup.history) == 1 and batch == 2:
                os.kill(os.getpid(), signal.SIGTERM)

    def with_sigterm(*args, **kwargs):
        nonlocal backup
        backup = args[1]
        callbacks, guard = build_callbacks(*args, **kwargs)
        return [*callbacks, SigtermAt()], guard

    backup = None
    monkeypatch.setattr(fit, "_callbacks", with_sigterm)
    output = folder / "runs-sigterm"
    result = invoke("train", config, "--set", f"output.dir={output}", "--quiet")
    monkeypatch.undo()
    (run,) = output.iterdir()
    assert result.exit_code == 130
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == [
        f"Error: Training was interrupted; continue it with --resume {run} (the same config, "
        "from the last backed-up epoch)."
    ]
    assert "interrupted" in (run / "FAILED").read_text()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the CLI restored it
    result = invoke("predict", run)
    assert result.exit_code == 1 and "failed and cannot be used" in result.stderr

    run_dir_of(invoke("train", run / "config.yaml", "--resume", run, "--quiet"))
    assert_same_run(reference, run)


def test_resume_refuses_what_it_cannot_continue(setup, tmp_path):
    _, config, reference = setup
    run = tmp_path / "run"
    shutil.copytree(reference, run)
    (run / "metrics.json").unlink()  # an unfinished run without a backup starts over

    result = invoke("train", config, "--resume", run, "--set", "training.epochs=9")
    assert result.exit_code == 2
    assert "--resume needs the config the run was started with: training.epochs is 9 here" in (
        result.stderr
    )
    result = invoke("train", config, "--resume", reference)
    assert result.exit_code == 1 and "is complete; there is nothing to resume" in result.stderr
    result = invoke("train", config, "--resume", tmp_path / "nowhere")
    assert result.exit_code == 1 and "Run directory not found" in result.stderr
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("not a run")
    result = invoke("train", config, "--resume", tmp_path / "other")
    assert result.exit_code == 1 and "has no config.yaml, so it is not a run" in result.stderr

    # A backup made from other data is refused rather than silently mixed.
    backup = run / ".backup"
    backup.mkdir()
    plain = config_to_dict(load_config(config))
    other = {"format": BACKUP_FORMAT, "fingerprint": "other", "config": plain, "epochs_done": 1}
    (backup / "state.json").write_text(json.dumps({**other, "weights": "epoch-1.weights.h5"}))
    result = invoke("train", config, "--resume", run)
    assert result.exit_code == 1 and "The data differs from the data this run" in result.stderr
    assert "data differs" in (run / "FAILED").read_text()

    (backup / "state.json").write_text("{truncated")
    result = invoke("train", config, "--resume", run)
    assert result.exit_code == 1 and "backup" in result.stderr and "unreadable" in result.stderr

    fingerprint = fit.data_fingerprint(prepare_data(load_config(config)))
    state = {
        "format": BACKUP_FORMAT,
        "fingerprint": fingerprint,
        "config": plain,
        "epochs_done": 1,
        "weights": "epoch-1.weights.h5",
    }
    state.update(history=[{"loss": 1.0}], stopped=False, random_state=[], best=None)
    (backup / "state.json").write_text(json.dumps(state))
    (backup / "epoch-1.weights.h5").write_bytes(b"not HDF5")
    result = invoke("train", config, "--resume", run, "--quiet")
    assert result.exit_code == 1
    assert (
        "backup in" in result.stderr
        and "is damaged (epoch-1.weights.h5 is missing or damaged)" in result.stderr
    )

    (backup / "state.json").write_text(json.dumps({**state, "format": BACKUP_FORMAT - 1}))
    result = invoke("train", config, "--resume", run, "--quiet")
    assert result.exit_code == 1 and f"resumes format {BACKUP_FORMAT}" in result.stderr


def test_run_stopped_before_its_config_was_written_starts_afresh(setup, tmp_path):
    _, config, reference = setup
    run = tmp_path / "linear-20260101-000000"
    (run / "plots").mkdir(parents=True)
    run_dir_of(invoke("train", config, "--resume", run, "--quiet"))
    assert_same_run(reference, run)


def test_saved_config_reproduces_the_run(setup):
    reference = setup[2]
    again = run_dir_of(invoke("train", reference / "config.yaml", "--quiet"))
    assert again != reference
    assert_same_run(reference, again)
    metrics = (reference / "metrics.json").read_text()
    assert '"versions"' in metrics and '"jax"' in metrics and '"keras"' in metrics


def test_backups_follow_the_interval_and_change_nothing(setup, monkeypatch):
    """With interval 0 every epoch is backed up; with a long one none is, and the best
    weights, kept in memory, give the same run."""
    folder, config, reference = setup
    build_callbacks = fit._callbacks
    backups = []

    def capture(*args, **kwargs):
        callbacks, guard = build_callbacks(*args, **kwargs)
        backups.append(args[1])
        return callbacks, guard

    monkeypatch.setattr(fit, "_callbacks", capture)
    runs = {}
    for interval in ("0", "1000000"):
        output = folder / f"runs-interval-{interval}"
        runs[interval] = run_dir_of(
            invoke(
                "train",
                config,
                "--quiet",
                "--set",
                f"output.dir={output}",
                "--set",
                f"training.backup_interval={interval}",
            )
        )
    every, none = backups
    assert every.backups == list(range(1, len(every.history) + 1))
    assert none.backups == [] and len(none.history) == len(every.history)
    assert none.best_epoch == every.best_epoch is not None
    for run in runs.values():
        assert (run / "history.csv").read_bytes() == (reference / "history.csv").read_bytes()
        # the same run, but for the config's fingerprint, which covers backup_interval
        ours, theirs = (json.loads((r / "metrics.json").read_text()) for r in (run, reference))
        for metrics in (ours, theirs):
            metrics["run"]["files"].pop("config.yaml")
        assert ours == theirs
