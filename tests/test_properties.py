"""Property-based tests: whatever config, table or run directory the CLI is given, it either
succeeds or prints one ``Error: ...`` line and exits non-zero, never a traceback.

Examples are kept tiny (a few dozen rows, one epoch). Set TSFORECAST_FUZZ_EXAMPLES to run
many more examples of each property, e.g. ``TSFORECAST_FUZZ_EXAMPLES=2000``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import tempfile
import traceback
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import base_config, run_dir_of, sine_frame
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from tsforecast.cli import main

EXAMPLES = int(os.environ.get("TSFORECAST_FUZZ_EXAMPLES", "0"))


def fuzz_settings(default: int):
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )


def record(text: str) -> None:
    """Count outcomes for ``--hypothesis-show-statistics`` (outside a test: nothing)."""
    with contextlib.suppress(InvalidArgument):
        event(text)


def check_outcome(result) -> None:
    """Success, or exactly one ``Error:`` line on stderr and a non-zero exit."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        detail = "".join(traceback.format_exception(*result.exc_info))
        pytest.fail(f"unexpected exception:\n{detail}")
    assert "Traceback" not in result.output
    record(f"exit {result.exit_code}")
    if result.exit_code == 0:
        return
    record(re.sub(r"/\S+", "PATH", result.stderr.strip())[:60])
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), result.stderr


def run_cli(*args) -> object:
    result = CliRunner().invoke(main, [str(a) for a in args])
    check_outcome(result)
    return result


# ---------------------------------------------------------------------------------------------
# Strategies

SMALL_INTS = st.integers(min_value=-3, max_value=40)
ANY_INTS = st.one_of(SMALL_INTS, st.integers(min_value=-(2**70), max_value=2**70))
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
TEXT = st.text(max_size=12)
SCALARS = st.one_of(st.none(), st.booleans(), ANY_INTS, FLOATS, TEXT)
YAML_VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(TEXT, children, max_size=3)
    ),
    max_leaves=6,
)

#: Keys whose size drives run time: kept small so that an example trains in about a second.
SIZE_KEYS = {
    "training.epochs": st.integers(min_value=-1, max_value=2),
    "training.batch_size": st.integers(min_value=-1, max_value=64),
    "model.units": st.one_of(
        st.lists(st.integers(min_value=-1, max_value=8), max_size=3),
        SMALL_INTS,
        TEXT,
    ),
}
KEYS = [
    "data.path",
    "data.target_columns",
    "data.feature_columns",
    "data.time_column",
    "data.id_column",
    "data.format",
    "data.split",
    "data.split.val",
    "data.split.test",
    "data.scaler",
    "data.missing",
    "window.input_width",
    "window.horizon",
    "model.type",
    "model.dropout",
    "model.activation",
    "model.l2",
    "model.head",
    "model.batch_norm",
    "training.optimizer.name",
    "training.optimizer.learning_rate",
    "training.optimizer.momentum",
    "training.optimizer.clipnorm",
    "training.optimizer.weight_decay",
    "training.loss",
    "training.early_stopping",
    "training.early_stopping.patience",
    "training.early_stopping.monitor",
    "training.seed",
    "training.shuffle",
    "output.name",
    "output.dir",
    "unknown_section",
    "data.unknown_key",
]
NAMED_VALUES = {
    "model.type": st.sampled_from(["naive", "linear", "mlp", "lstm", "lstn", ""]),
    "data.missing": st.sampled_from(["error", "interpolate", "ffill", "drop", "skip"]),
    "data.scaler": st.sampled_from(["standard", "minmax", "none", "robust"]),
    "training.loss": st.sampled_from(["mse", "mae", "huber", "mape", "msle", "rmse"]),
    "training.optimizer.name": st.sampled_from(["adam", "adamw", "sgd", "rmsprop", "adagrad"]),
    "data.target_columns": st.lists(st.sampled_from(["y", "x", "time", "id", "z"]), max_size=3),
    "data.feature_columns": st.lists(st.sampled_from(["y", "x", "time", "id", "z"]), max_size=3),
    "data.time_column": st.sampled_from(["time", "y", "id", None, "z"]),
    "data.id_column": st.sampled_from(["id", "time", None, "z"]),
    "window.input_width": st.one_of(SMALL_INTS, ANY_INTS),
    "window.horizon": st.one_of(SMALL_INTS, ANY_INTS),
    "output.name": st.sampled_from(["../escape", "/abs", "ok-name", "..", ".hidden", "a/b"]),
    "output.dir": st.sampled_from(["runs", "series.csv", "series.csv/sub", "nested/runs", ""]),
}


@st.composite
def configs(draw, data_path: str) -> object:
    """A config near a valid one, with a few keys set to random (often hostile) values."""
    if draw(st.integers(0, 19)) == 0:
        return draw(YAML_VALUES)  # not even a mapping of sections
    config = base_config(data_path)
    config["training"].update(epochs=1, batch_size=16)
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*KEYS, *SIZE_KEYS]))
        if key in SIZE_KEYS:
            value = draw(SIZE_KEYS[key])
        elif key in NAMED_VALUES and draw(st.booleans()):
            value = draw(NAMED_VALUES[key])
        else:
            value = draw(YAML_VALUES)
        node = config
        *parents, last = key.split(".")
        for name in parents:
            if not isinstance(node.get(name), dict):
                node[name] = {}
            node = node[name]
        node[last] = value
    return config


CELLS = {
    "float": st.floats(allow_nan=True, allow_infinity=True).map(repr),
    "small": st.floats(-100, 100).map(lambda v: f"{v:.3f}"),
    "huge": st.sampled_from(["1e300", "-1e300", "3.5e38", "1e38", "-3e38", "1e-320"]),
    "int": st.integers(-(2**70), 2**70).map(str),
    "text": st.text(max_size=8),
    "empty": st.just(""),
    "date": st.sampled_from(
        ["2024-01-01", "2024-13-45", "2262-04-11 23:00", "1677-09-21", "0", "yesterday"]
    ),
}
COLUMN_NAMES = st.sampled_from(["time", "y", "x", "id", "z", "", "y", " y"])


def _random_columns(draw) -> tuple[list[str], list[list[str]]]:
    n_rows = draw(st.integers(0, 40))
    names = draw(st.lists(COLUMN_NAMES, min_size=1, max_size=5))
    columns = []
    for _ in names:
        cell = CELLS[draw(st.sampled_from(sorted(CELLS)))]
        columns.append([draw(st.one_of(cell, CELLS["small"])) for _ in range(n_rows)])
    return names, columns


def _near_valid_columns(draw) -> tuple[list[str], list[list[str]]]:
    """A clean table (maybe several series stacked by ``id``) with a few hostile changes."""
    n_series, n_rows = draw(st.integers(1, 3)), draw(st.integers(1, 40))
    frames = [sine_frame(n_rows, seed=i) for i in range(n_series)]
    names = ["time", "y", "x"]
    columns = [
        [t for f in frames for t in f["time"]],
        [f"{v:.4f}" for f in frames for v in f["y"]],
        [f"{v:.4f}" for f in frames for v in f["x"]],
    ]
    if n_series > 1 or draw(st.booleans()):
        names.append("id")
        columns.append([f"s{i}" for i in range(n_series) for _ in range(n_rows)])
    total = n_series * n_rows
    for _ in range(draw(st.integers(0, 3))):
        change = draw(
            st.sampled_from(["cell", "cell", "constant", "scale", "rows", "rename", "unique_id"])
        )
        j = draw(st.integers(0, len(names) - 1))
        if change == "cell":
            columns[j][draw(st.integers(0, total - 1))] = draw(st.one_of(*CELLS.values()))
        elif change == "constant":
            columns[j] = [columns[j][0]] * total
        elif change == "scale":
            factor = draw(st.sampled_from(["e30", "e300", "e-300", "e38"]))
            columns[j] = [f"{cell}{factor}" for cell in columns[j]]
        elif change == "rows" and total > 1:  # swap, repeat or drop a row
            a, b = draw(st.integers(0, total - 1)), draw(st.integers(0, total - 1))
            how = draw(st.sampled_from(["swap", "repeat", "drop"]))
            for column in columns:
                if how == "swap":
                    column[a], column[b] = column[b], column[a]
                elif how == "repeat":
                    column[a] = column[b]
                else:
                    del column[a]
            total = len(columns[0])
        elif change == "rename":
            names[j] = draw(COLUMN_NAMES)
        elif change == "unique_id" and "id" in names:
            columns[names.index("id")] = [f"r{i}" for i in range(total)]
    return names, columns


@st.composite
def tables(draw) -> bytes:
    """CSV bytes: random bytes, random columns, or a clean table with hostile changes."""
    kind = draw(st.sampled_from(["bytes", "random", "near_valid", "near_valid", "near_valid"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    names, columns = (_random_columns if kind == "random" else _near_valid_columns)(draw)
    rows = [names, *([str(column[i]) for column in columns] for i in range(len(columns[0])))]
    if draw(st.booleans()):  # properly quoted
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        text = buffer.getvalue()
    else:  # cells pasted between commas as they are: stray quotes, commas and line breaks
        text = "".join(",".join(row) + "\n" for row in rows)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:
        data = data[: draw(st.integers(0, len(data)))]  # cut off anywhere
    return data


# ---------------------------------------------------------------------------------------------
# Properties


@pytest.fixture(scope="module")
def folder():
    previous = os.getcwd()
    with tempfile.TemporaryDirectory() as name:
        path = Path(name)
        sine_frame(60).to_csv(path / "series.csv", index=False)
        try:
            yield path
        finally:
            os.chdir(previous)  # tests below move into the folder, which is then removed


@fuzz_settings(150)
@given(data=st.data())
def test_validate_accepts_or_rejects_any_config_cleanly(folder, data):
    config = data.draw(configs(str(folder / "series.csv")))
    path = folder / "fuzz.yaml"
    path.write_text(yaml.safe_dump(config))
    run_cli("validate", path)


@fuzz_settings(60)
@given(text=st.text(max_size=300))
def test_any_yaml_text_is_handled(folder, text):
    path = folder / "text.yaml"
    path.write_text(text, encoding="utf-8")
    run_cli("validate", path)


@fuzz_settings(15)
@given(data=st.data())
def test_train_on_random_configs(folder, data):
    config = data.draw(configs(str(folder / "series.csv")))
    with tempfile.TemporaryDirectory() as name:
        path = Path(name) / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        before = os.getcwd()
        os.chdir(name)  # relative output folders land in the temporary folder
        try:
            run_cli("train", path, "--quiet")
        finally:
            os.chdir(before)


@fuzz_settings(25)
@given(
    table=tables(),
    missing=st.sampled_from(["error", "interpolate", "ffill", "drop"]),
    id_column=st.sampled_from([None, "id"]),
)
def test_train_on_hostile_tables(folder, table, missing, id_column):
    with tempfile.TemporaryDirectory() as name:
        data = Path(name) / "data.csv"
        data.write_bytes(table)
        config = base_config(str(data), output={"dir": str(Path(name) / "runs")})
        config["window"] = {"input_width": 3, "horizon": 2}
        config["data"].update(split={"val": 0.2, "test": 0.2}, missing=missing, id_column=id_column)
        config["training"].update(epochs=1, batch_size=16)
        path = Path(name) / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        run_cli("train", path, "--quiet")


@pytest.fixture(scope="module")
def trained_run(folder):
    config = base_config(str(folder / "series.csv"), output={"dir": str(folder / "runs")})
    config["window"] = {"input_width": 3, "horizon": 2}
    config["model"] = {"type": "linear"}
    config["training"].update(epochs=1, batch_size=16)
    path = folder / "train.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run_cli("train", path, "--quiet")
    return run_dir_of(result)


@fuzz_settings(25)
@given(table=tables())
def test_predict_on_hostile_inputs(folder, trained_run, table):
    data = folder / "new.csv"
    data.write_bytes(table)
    run_cli("predict", trained_run, "--input", data)


DAMAGE = st.sampled_from(
    [
        ("delete", None),
        ("truncate", None),
        ("garbage", b"\x00\xff not what it should be"),
        ("json", json.dumps({"run": {"format": 999}}).encode()),
        ("json", json.dumps({"run": {"format": 1}}).encode()),
        ("json", json.dumps([1, 2, 3]).encode()),
        ("json", json.dumps({"kind": "standard", "offset": [0, 0], "scale": [0, 1]}).encode()),
        ("json", json.dumps({"kind": "standard", "offset": [1e400], "scale": [1]}).encode()),
        ("yaml", b"data: {path: x}\n"),
        ("yaml", b"- a list\n"),
        ("copy", None),
    ]
)
RUN_FILES = st.sampled_from(["config.yaml", "model.keras", "scaler.json", "metrics.json"])


@fuzz_settings(25)
@given(damage=st.lists(st.tuples(RUN_FILES, DAMAGE), min_size=1, max_size=2))
def test_predict_refuses_damaged_runs(folder, trained_run, damage):
    with tempfile.TemporaryDirectory() as name:
        run = Path(name) / "run"
        shutil.copytree(trained_run, run)
        for file, (kind, payload) in damage:
            target = run / file
            if kind == "delete":
                target.unlink(missing_ok=True)
            elif kind == "truncate" and target.exists():
                target.write_bytes(target.read_bytes()[: len(target.read_bytes()) // 2])
            elif kind == "copy":  # another artifact in its place
                source = run / ("metrics.json" if file != "metrics.json" else "scaler.json")
                if source.exists():
                    shutil.copyfile(source, target)
            elif payload is not None:
                target.write_bytes(payload)
        result = run_cli("predict", run)
        # every damage above changes a fingerprinted file or removes one
        assert result.exit_code == 1, f"predict accepted a damaged run: {damage}\n{result.output}"
