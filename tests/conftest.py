"""Shared fixtures and helpers: tiny data sets, config files written into a temporary
folder, running the CLI, and reading what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# The tests fit the same small models again and again, in this process and in the CLI
# processes they start: XLA's compiled programs are kept on disk and shared by them all
# (keyed by the program, so a hit changes no result, only the time).
os.environ.setdefault(
    "JAX_COMPILATION_CACHE_DIR",
    os.path.join(tempfile.gettempdir(), f"tsforecast-tests-xla-{os.getuid()}"),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import tsforecast  # noqa: F401  (Keras starts on the engine's backend, JAX, in every test)


def sine_frame(n: int = 240, seed: int = 0, start: str = "2024-01-01") -> pd.DataFrame:
    """One hourly series: a noisy sine target ``y`` and a feature ``x``."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return pd.DataFrame(
        {
            "time": pd.date_range(start, periods=n, freq="h").strftime("%Y-%m-%d %H:%M:%S"),
            "y": np.sin(2 * np.pi * t / 24) * 10 + 20 + rng.normal(0, 0.3, n),
            "x": np.cos(2 * np.pi * t / 24) + rng.normal(0, 0.1, n),
        }
    )


def panel_frame(n_series: int = 3, n: int = 120) -> pd.DataFrame:
    """Several series stacked by an ``id`` column."""
    frames = []
    for i in range(n_series):
        frame = sine_frame(n, seed=i)
        frame["y"] += 100 * i
        frame.insert(0, "id", f"s{i}")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def base_config(data_path: str, **sections) -> dict:
    config = {
        "data": {
            "path": data_path,
            "time_column": "time",
            "target_columns": ["y"],
            "feature_columns": ["x"],
            "split": {"val": 0.2, "test": 0.2},
        },
        "window": {"input_width": 12, "horizon": 4},
        "model": {"type": "linear"},
        "training": {"epochs": 2, "batch_size": 32, "early_stopping": {"patience": 2}},
    }
    for name, values in sections.items():
        config[name] = values
    return config


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory holding ``series.csv`` and ``panel.csv``."""
    monkeypatch.chdir(tmp_path)
    sine_frame().to_csv(tmp_path / "series.csv", index=False)
    panel_frame().to_csv(tmp_path / "panel.csv", index=False)
    return tmp_path


def write_config(folder: Path, config: dict, name: str = "config.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def invoke(*args):
    """Run the CLI in this process on ``args`` (paths allowed); the click result."""
    from click.testing import CliRunner

    from tsforecast.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def run_dir_of(result, exit_code: int = 0) -> Path:
    """The directory a ``train``, ``backtest`` or ``tune`` call wrote: the last line of its
    standard output, once it exited with ``exit_code``."""
    assert result.exit_code == exit_code, result.output
    lines = result.stdout.strip().splitlines()
    assert lines, f"nothing on standard output:\n{result.output}"
    return Path(lines[-1])


def assert_one_error_line(result, code: int, message: str) -> None:
    """The command exited with ``code``, printing one ``Error: ...`` line holding
    ``message`` on standard error and no traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.output


def assert_cli_without_tensorflow(*args, then: tuple[tuple[str, ...], ...] = ()) -> None:
    """Run ``tsforecast ARGS`` (and each command of ``then`` after it, a ``{run}`` in them
    standing for the run directory the previous one printed last) in a fresh interpreter:
    they succeed without importing TensorFlow."""
    commands = [[str(a) for a in args], *[list(c) for c in then]]
    code = (
        "import sys; from click.testing import CliRunner; from tsforecast.cli import main\n"
        "run = ''\n"
        f"for command in {commands!r}:\n"
        "    r = CliRunner().invoke(main, [a.replace('{run}', run) for a in command])\n"
        "    assert r.exit_code == 0, (command, r.output)\n"
        "    run = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else run\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
