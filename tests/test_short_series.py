"""Panels of short and unequal series: windows padded on the left with each series' first
value (window.min_inputs), in training, evaluation and predict, in fresh processes."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import assert_one_error_line, base_config, invoke, run_dir_of, write_config
from test_windows import table_of

from tsforecast.config import SplitConfig
from tsforecast.data import windows
from tsforecast.data.pipeline import WindowSource, window_dataset
from tsforecast.data.splits import split_bounds
from tsforecast.errors import DataError


def test_padded_windows_read_their_own_series_first_value_never_the_one_before():
    table = table_of([40, 10])  # series 1 holds rows 40..49, values 1000..1009
    width, horizon, observed = 8, 2, 3
    bounds = split_bounds(table, SplitConfig(val=2, test=2), width, horizon, min_inputs=observed)
    starts = windows.window_starts(table.offsets, bounds, width, horizon, "train", observed)
    short = starts[windows.series_of(table.offsets, starts, width) == 1]
    # origins from the 4th row of the series (3 observed inputs) to the last whose targets
    # stay in train (row 6 of 10, train holding 6 rows): 40 + 3 = 43, 44 -> starts 35, 36
    np.testing.assert_array_equal(short, [35, 36])
    inputs = windows.inputs(table.values, short, width, table.offsets)[:, :, 0]
    np.testing.assert_array_equal(inputs[0], [1000] * 5 + [1000, 1001, 1002])
    np.testing.assert_array_equal(inputs[1], [1000] * 4 + [1000, 1001, 1002, 1003])
    # the batches the model reads hold the same rows
    source = WindowSource(table.values.astype("float32"), 2, offsets=table.offsets)
    (batch, targets) = next(iter(window_dataset(source, short, width, 8, horizon=2, n_targets=1)))
    np.testing.assert_array_equal(batch[:, :, 0], inputs)
    np.testing.assert_array_equal(targets[:, :, 0], [[1003, 1004], [1004, 1005]])


def test_without_min_inputs_a_short_series_is_refused_and_the_message_says_what_helps():
    with pytest.raises(DataError, match=r"window.min_inputs \(to pad short series\)"):
        split_bounds(table_of([40, 10]), SplitConfig(val=2, test=2), 8, 2)
    with pytest.raises(DataError, match=r"shorter than window.min_inputs \(7\)"):
        split_bounds(table_of([40, 10]), SplitConfig(val=2, test=2), 8, 2, min_inputs=7)


def panel(lengths) -> pd.DataFrame:
    frames = []
    rng = np.random.default_rng(0)
    for i, n in enumerate(lengths):
        t = np.arange(n)
        frames.append(
            pd.DataFrame(
                {
                    "id": f"s{i}",
                    "time": pd.date_range(end="2024-12-01", periods=n, freq="MS").strftime("%Y-%m"),
                    "y": 100 + 10 * i + np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.1, n),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_a_panel_whose_shortest_series_is_shorter_than_one_window_trains_and_predicts(workdir):
    panel([60, 48, 14]).to_csv(workdir / "short.csv", index=False)
    raw = base_config("short.csv")
    raw["data"].update(id_column="id", feature_columns=[], split={"val": 4, "test": 4})
    raw["window"] = {"input_width": 24, "horizon": 4}
    refused = invoke("train", write_config(workdir, raw, "full.yaml"), "-q")
    assert_one_error_line(refused, 1, "Series 's2' has 14 rows")
    raw["window"]["min_inputs"] = 4
    path = write_config(workdir, raw, "padded.yaml")
    run = run_dir_of(invoke("train", path, "-q"))
    # predict in a process that never trained it: the short series has 14 < 24 rows
    done = subprocess.run(
        [sys.executable, "-m", "tsforecast", "predict", str(run), "--output", "f.csv"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    forecast = pd.read_csv(workdir / "f.csv")
    assert forecast.groupby("id").size().to_dict() == {"s0": 4, "s1": 4, "s2": 4}
    assert forecast["y"].notna().all()
    tiny = panel([60, 3])
    tiny.to_csv(workdir / "tiny.csv", index=False)
    refused = invoke("predict", run, "--input", workdir / "tiny.csv")
    assert_one_error_line(refused, 1, "needs window.min_inputs (4) rows")
