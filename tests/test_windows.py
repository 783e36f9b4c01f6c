from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import base_config

from tsforecast.config import SplitConfig, config_from_dict
from tsforecast.data import windows
from tsforecast.data.loading import SeriesTable
from tsforecast.data.prepared import prepare_data
from tsforecast.data.splits import split_bounds
from tsforecast.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def table_of(lengths, n_columns=2):
    """Stacked series whose value in column 0 is 1000 * series + row-within-series."""
    values = np.concatenate(
        [
            np.stack([1000 * i + np.arange(n), -(1000 * i + np.arange(n))], axis=1)[:, :n_columns]
            for i, n in enumerate(lengths)
        ]
    ).astype("float64")
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    ids = tuple(f"s{i}" for i in range(len(lengths)))
    return SeriesTable(values, ("y", "x")[:n_columns], 1, offsets, ids, None)


def test_split_bounds_per_series():
    table = table_of([100, 50])
    bounds = split_bounds(table, SplitConfig(val=0.2, test=0.1), 10, 5)
    # series 0: 70 train, 20 val, 10 test; series 1: 35 / 10 / 5 (+ offset 100)
    np.testing.assert_array_equal(bounds.train_end, [70, 135])
    np.testing.assert_array_equal(bounds.val_end, [90, 145])


def test_window_starts_match_hand_computed_ranges():
    table = table_of([40])
    bounds = split_bounds(table, SplitConfig(val=10, test=10), 5, 3)
    assert (bounds.train_end[0], bounds.val_end[0]) == (20, 30)
    train, val, test = (
        windows.window_starts(table.offsets, bounds, 5, 3, part)
        for part in ("train", "val", "test")
    )
    np.testing.assert_array_equal(train, np.arange(0, 13))  # last targets rows 17..19
    np.testing.assert_array_equal(val, np.arange(15, 23))  # targets 20..22 up to 27..29
    np.testing.assert_array_equal(test, np.arange(25, 33))  # targets 30..32 up to 37..39
    # Targets stay inside their split; inputs may reach back into the previous one.
    assert (val + 5 >= 20).all() and (val + 5 + 3 <= 30).all()
    assert (test + 5 >= 30).all() and (test + 5 + 3 <= 40).all()


def test_windows_never_cross_series():
    table = table_of([30, 30, 30])
    bounds = split_bounds(table, SplitConfig(val=0.2, test=0.2), 4, 2)
    for part in ("train", "val", "test"):
        starts = windows.window_starts(table.offsets, bounds, 4, 2, part)
        series_of_first = np.searchsorted(table.offsets, starts, side="right")
        series_of_last = np.searchsorted(table.offsets, starts + 5, side="right")
        np.testing.assert_array_equal(series_of_first, series_of_last)


def test_split_too_short_for_window_is_a_clear_error():
    table = table_of([30])
    with pytest.raises(DataError, match="train split .* shorter than window.input_width"):
        split_bounds(table, SplitConfig(0.2, 0.2), 20, 5)
    with pytest.raises(DataError, match="test split \\(3 rows\\) is shorter than window.horizon"):
        split_bounds(table, SplitConfig(0.2, 0.1), 2, 4)


def test_last_window_starts():
    table = table_of([10, 8])
    np.testing.assert_array_equal(windows.last_window_starts(table, 5), [5, 13])
    with pytest.raises(DataError, match="Series 's1' has 8 rows"):
        windows.last_window_starts(table, 9)


def test_scaler_is_fitted_on_train_rows_only(workdir):
    import pandas as pd

    config = config_from_dict(base_config(str(workdir / "series.csv")))
    before = prepare_data(config)
    frame = pd.read_csv(workdir / "series.csv")
    n_test = round(0.2 * len(frame))
    n_val = n_test
    changed = frame.copy()
    changed.loc[len(frame) - n_test - n_val :, ["y", "x"]] *= 50.0  # val + test rows
    changed.to_csv(workdir / "series.csv", index=False)
    after = prepare_data(config)
    np.testing.assert_array_equal(before.scaler.offset_, after.scaler.offset_)
    np.testing.assert_array_equal(before.scaler.scale_, after.scaler.scale_)
    np.testing.assert_array_equal(before.mase_scale, after.mase_scale)
    train_rows = before.bounds.train_mask(len(frame), before.table.offsets)
    np.testing.assert_allclose(
        before.scaler.offset_, frame.loc[train_rows, ["y", "x"]].mean().to_numpy()
    )


def test_split_by_series_needs_a_series_per_split_and_whole_windows():
    with pytest.raises(DataError, match="leaves 0 for test"):
        split_bounds(table_of([30, 30]), SplitConfig(1, 0.1, by="series"), 5, 2)
    with pytest.raises(DataError, match="Series 's1' has 6 rows, fewer than"):
        split_bounds(table_of([30, 6, 30]), SplitConfig(1, 1, by="series"), 5, 2)


@pytest.mark.parametrize("horizon", [96, 720])
def test_ett_protocol_windows(horizon):
    """Train rows [0, 8640), val [8640 - L, 11520), test [11520 - L, 14400)."""
    width = 336
    raw = {
        "data": {
            "path": str(ROOT / "data" / "ett" / "ETTh1.csv"),
            "time_column": "date",
            "target_columns": ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"],
            "rows": 14400,
            "split": {"val": 2880, "test": 2880},
        },
        "window": {"input_width": width, "horizon": horizon},
        "model": {"type": "naive"},
    }
    prepared = prepare_data(config_from_dict(raw))
    starts = prepared.starts
    np.testing.assert_array_equal(starts["train"], np.arange(0, 8640 - width - horizon + 1))
    np.testing.assert_array_equal(
        starts["val"], np.arange(8640 - width, 11520 - width - horizon + 1)
    )
    np.testing.assert_array_equal(
        starts["test"], np.arange(11520 - width, 14400 - width - horizon + 1)
    )
    assert len(starts["test"]) == 2880 - horizon + 1
    assert len(prepared.table.values) == 14400
    frame = pd.read_csv(ROOT / "data" / "ett" / "ETTh1.csv", nrows=8640)
    np.testing.assert_allclose(prepared.scaler.offset_, frame.iloc[:, 1:].mean().to_numpy())


def test_rows_beyond_the_file_is_a_data_error(workdir):
    raw = base_config(str(workdir / "series.csv"))
    raw["data"]["rows"] = 1000
    with pytest.raises(DataError, match="data.rows is 1000, but .* has only 240 data rows"):
        prepare_data(config_from_dict(raw))


def test_the_window_rule():
    """Inputs [s, s + W), origin s + W, targets [s + W, s + W + H); step targets t + 1.."""
    table = table_of([20])
    starts = np.array([0, 3])
    np.testing.assert_array_equal(windows.inputs(table.values, starts, 4)[1, :, 0], [3, 4, 5, 6])
    np.testing.assert_array_equal(windows.origins(starts, 4), [4, 7])
    np.testing.assert_array_equal(windows.starts_at(windows.origins(starts, 4), 4), starts)
    np.testing.assert_array_equal(windows.targets(table.values, starts, 4, 2, 1)[1, :, 0], [7, 8])
    np.testing.assert_array_equal(windows.last_inputs(table.values, starts, 4, 1)[:, 0], [3, 6])
    np.testing.assert_array_equal(windows.target_offsets(4, 2, (1, 3)), [[2, 3], [4, 5]])
    assert windows.last_origin(20, 3) == 17 and windows.targets_end(17, 3) == 20
    assert windows.origins_between(15, 20, 3) == 3  # origins 15, 16 and 17
    np.testing.assert_array_equal(windows.spaced_origins(10, 17, 3, 5), [10, 13, 16])
    np.testing.assert_array_equal(windows.spaced_origins(10, 17, 3, 2), [10, 13])
