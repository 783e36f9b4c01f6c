import numpy as np
import pandas as pd
import pytest
from conftest import base_config, panel_frame, sine_frame

from tsforecast.config import config_from_dict
from tsforecast.data.loading import build_table, load_table, read_table
from tsforecast.errors import DataError


def data_config(**changes):
    raw = base_config("unused.csv")
    raw["data"].update(changes)
    return config_from_dict(raw).data


def test_single_series_table():
    frame = sine_frame(50)
    table = build_table(frame, data_config())
    assert table.columns == ("y", "x")
    assert table.n_targets == 1
    assert table.values.shape == (50, 2)
    np.testing.assert_array_equal(table.offsets, [0, 50])
    np.testing.assert_allclose(table.values[:, 0], frame["y"])
    assert table.times[0] == np.datetime64("2024-01-01T00:00:00")


def test_panel_is_grouped_by_id_keeping_row_order():
    frame = panel_frame(3, 20)
    shuffled = pd.concat([frame.iloc[i::3] for i in range(3)]).reset_index(drop=True)
    shuffled = shuffled.sort_values(["time", "id"], kind="stable").reset_index(drop=True)
    table = build_table(shuffled, data_config(id_column="id"))
    assert table.ids == ("s0", "s1", "s2")
    np.testing.assert_array_equal(table.offsets, [0, 20, 40, 60])
    np.testing.assert_allclose(table.values[20:40, 0], frame["y"][20:40])


@pytest.mark.parametrize(
    ("mutate", "changes", "message"),
    [
        (
            lambda f: f.drop(columns="x"),
            {},
            "Column 'x' is not in the data; available columns: time, y",
        ),
        (
            lambda f: f.assign(y=f["y"].astype(object).where(f.index != 4, "oops")),
            {},
            "Column 'y' must be numeric; row 5 holds 'oops'.",
        ),
        (
            lambda f: f.assign(y=f["y"].where(f.index != 6)),
            {},
            "The data has 1 missing values; the first is in column 'y' at row 7.",
        ),
        (
            lambda f: f.assign(x=f["x"].where(f.index != 2, np.inf)),
            {},
            "Column 'x' holds an infinite value at row 3.",
        ),
        (
            lambda f: f.assign(time=f["time"].where(f.index != 3, "not a date")),
            {},
            "Column 'time' has a value that is not a timestamp at row 4: 'not a date'.",
        ),
        (
            lambda f: f.assign(time=f["time"].where(f.index != 5, f["time"][4])),
            {},
            "Column 'time' repeats at row 6",
        ),
        (lambda f: f.iloc[[0, 1, 2, 4, 3, 5, 6]], {}, "Column 'time' goes back in time at row 5"),
        (
            lambda f: f.drop(index=[10]),
            {},
            "The time column skips 1 timestamps; the first is 2024-01-01 10:00:00",
        ),
        (
            lambda f: f.assign(id=[None] + ["a"] * (len(f) - 1)),
            {"id_column": "id"},
            "Column 'id' is empty at row 1.",
        ),
    ],
)
def test_bad_tables_name_the_first_bad_row(mutate, changes, message):
    frame = mutate(sine_frame(30)).reset_index(drop=True)
    with pytest.raises(DataError) as info:
        build_table(frame, data_config(**changes))
    assert message in str(info.value)


@pytest.mark.parametrize("policy", ["interpolate", "ffill", "drop"])
def test_missing_value_policies(policy):
    frame = sine_frame(30)
    frame.loc[5, "y"] = np.nan
    if policy == "drop":
        frame = frame.assign(time=sine_frame(30)["time"])  # dropping breaks spacing: no time
        table = build_table(frame, data_config(missing=policy, time_column=None))
        assert len(table.values) == 29
        return
    table = build_table(frame, data_config(missing=policy))
    expected = {
        "interpolate": (frame.loc[4, "y"] + frame.loc[6, "y"]) / 2,
        "ffill": frame.loc[4, "y"],
    }[policy]
    assert table.values[5, 0] == pytest.approx(expected)


def test_read_table_errors(tmp_path):
    with pytest.raises(DataError, match="Data file not found"):
        read_table(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        read_table(empty)
    header = tmp_path / "header.csv"
    header.write_text("time,y,x\n")
    with pytest.raises(DataError, match="has no data rows"):
        read_table(header)
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    with pytest.raises(DataError, match="Cannot read PARQUET file"):
        read_table(broken)


def test_parquet_is_read(tmp_path):
    sine_frame(40).to_parquet(tmp_path / "s.parquet")
    config = data_config(path=str(tmp_path / "s.parquet"))
    assert load_table(config).values.shape == (40, 2)
