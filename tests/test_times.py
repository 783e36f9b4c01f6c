"""Time columns as people store them, and forecasts stamped the way the data writes."""

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import base_config, invoke, run_dir_of, write_config

from tsforecast.config import DataConfig
from tsforecast.data.loading import build_table
from tsforecast.data.times import infer_frequency, parse_times
from tsforecast.errors import DataError


def table(frame: pd.DataFrame, **data) -> object:
    config = DataConfig(path="x.csv", time_column="t", target_columns=("y",), **data)
    return build_table(frame, config)


def frame_of(times, n=None) -> pd.DataFrame:
    n = len(times) if n is None else n
    return pd.DataFrame({"t": times, "y": np.arange(n, dtype=float) + 1.0})


@pytest.mark.parametrize(
    ("values", "first", "frequency", "written"),
    [
        ([1700.0, 1701.0, 1702.0], "1700-01-01", "YS-JAN", [1700, 1701, 1702]),
        ([1959, 1960, 1961], "1959-01-01", "YS-JAN", [1959, 1960, 1961]),
        (["1959Q1", "1959Q2", "1959Q3"], "1959-01-01", "QS-JAN", ["1959Q1", "1959Q2", "1959Q3"]),
        (["1959-Q4", "1960-Q1", "1960-Q2"], "1959-10-01", "QS-JAN", ["1959Q4", "1960Q1", "1960Q2"]),
        (["2021-03", "2021-04", "2021-05"], "2021-03-01", "MS", ["2021-03", "2021-04", "2021-05"]),
        (["2021-W05", "2021-W06", "2021-W07"], "2021-02-01", "W-MON",
         ["2021-W05", "2021-W06", "2021-W07"]),
        (["2021-01-01", "2021-01-02", "2021-01-03"], "2021-01-01", "D",
         ["2021-01-01", "2021-01-02", "2021-01-03"]),
    ],
)  # fmt: skip
def test_periods_parse_to_the_period_they_name(values, first, frequency, written):
    result = table(frame_of(values))
    assert pd.Timestamp(result.times[0]) == pd.Timestamp(first)
    assert result.frequency == frequency
    assert result.time_style.write(pd.DatetimeIndex(result.times)) == written


def test_epoch_times_need_a_time_format():
    seconds = [1_600_000_000 + 3600 * k for k in range(3)]
    with pytest.raises(DataError, match="not years from 1678 to 2261, e.g. 1600000000 at row"):
        table(frame_of(seconds))
    by_seconds = table(frame_of(seconds), time_format="unix_s")
    by_millis = table(frame_of([s * 1000 for s in seconds]), time_format="unix_ms")
    np.testing.assert_array_equal(by_seconds.times, by_millis.times)
    assert pd.Timestamp(by_seconds.times[0]) == pd.Timestamp("2020-09-13 12:26:40")
    assert by_seconds.frequency == "h"
    assert by_seconds.time_style.write(pd.DatetimeIndex(by_seconds.times))[0] == seconds[0]


def test_strftime_patterns_and_a_frequency_that_overrides_inference():
    result = table(frame_of(["05/01/2021", "06/01/2021", "07/01/2021"]), time_format="%d/%m/%Y")
    assert pd.Timestamp(result.times[1]) == pd.Timestamp("2021-01-06")
    assert result.time_style.write(pd.DatetimeIndex(result.times))[0] == "05/01/2021"
    business = table(frame_of(["2021-01-08", "2021-01-11", "2021-01-12"]), frequency="B")
    assert business.frequency == "B" and len(business.times) == 3


def test_errors_quote_timestamps_as_written():
    with pytest.raises(
        DataError, match=r"Column 't' repeats at row 2 of the series \(1959.0 after"
    ):
        table(frame_of([1959.0, 1959.0, 1960.0]))
    with pytest.raises(DataError, match="Column 't' has a value that is not a timestamp at row 2"):
        table(frame_of(["2021-01-01", "someday", "2021-01-03"]))


def test_skipped_timestamps_are_added_and_filled_as_data_missing_says():
    times = ["2021-01", "2021-02", "2021-04", "2021-05"]  # March is missing
    with pytest.raises(DataError, match="skips 1 timestamps; the first is 2021-03 in the series"):
        table(frame_of(times))
    filled = table(frame_of(times), missing="interpolate")
    assert len(filled.values) == 5 and filled.frequency == "MS"
    np.testing.assert_allclose(filled.values[:, 0], [1, 2, 2.5, 3, 4])
    carried = table(frame_of(times), missing="ffill")
    np.testing.assert_allclose(carried.values[:, 0], [1, 2, 2, 3, 4])
    weekly = pd.date_range("2021-01-02", periods=10, freq="W-SAT").delete([3, 4])
    assert len(table(frame_of(weekly.astype(str)), missing="interpolate").values) == 10


def test_time_zones_and_offsets_are_compared_in_utc():
    times, _ = parse_times(
        pd.Series(["2021-03-28 00:00+01:00", "2021-03-28 01:00+01:00", "2021-03-28 03:00+02:00"]),
        "t",
    )
    assert infer_frequency(times) == "h"


def test_forecasts_continue_in_the_style_of_the_data(tmp_path: Path):
    frame = pd.DataFrame(
        {"YEAR": np.arange(1700.0, 1800.0), "SUNACTIVITY": np.abs(np.sin(np.arange(100.0)))}
    )
    frame.to_csv(tmp_path / "sunspots.csv", index=False)
    config = base_config(str(tmp_path / "sunspots.csv"), output={"dir": str(tmp_path / "runs")})
    config["data"].update(time_column="YEAR", target_columns=["SUNACTIVITY"], feature_columns=[])
    config["model"] = {"type": "naive"}
    result = invoke("train", write_config(tmp_path, config), "-q")
    run = run_dir_of(result)
    forecast = pd.read_csv(io.StringIO(invoke("predict", run).stdout))
    assert list(forecast["YEAR"]) == [1800, 1801, 1802, 1803]


def test_calendar_hours_follow_the_utc_offset_each_row_is_written_with(tmp_path):
    from tsforecast.config import config_from_dict
    from tsforecast.data.loading import load_table

    # Berlin across the change to summer time: +01:00 rows, then +02:00 rows
    local = pd.date_range("2024-03-30 00:00", periods=72, freq="h", tz="UTC").tz_convert(
        "Europe/Berlin"
    )
    frame = pd.DataFrame({"time": [t.isoformat() for t in local], "y": np.arange(72.0)})
    frame.to_csv(tmp_path / "d.csv", index=False)
    data = {"path": "d.csv", "time_column": "time", "target_columns": ["y"], "calendar": ["hour"]}
    raw = {"data": data, "window": {"input_width": 12, "horizon": 4}, "model": {"type": "linear"}}
    table = load_table(config_from_dict(raw, tmp_path).data)
    sine = table.values[:, table.columns.index("hour_sin")]
    cosine = table.values[:, table.columns.index("hour_cos")]
    hours = np.round(np.arctan2(sine, cosine) / (2 * np.pi) * 24) % 24
    np.testing.assert_array_equal(hours, np.asarray(local.hour, dtype=float))


def test_business_days_with_a_holiday_missing_stay_business_days(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    days = pd.bdate_range("2024-01-01", periods=150).delete(40)  # one holiday
    rng = np.random.default_rng(0)
    values = 100 + np.sin(np.arange(149) * 2 * np.pi / 5) * 5 + rng.normal(0, 0.2, 149)
    frame = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "y": values})
    frame.to_csv("b.csv", index=False)
    assert infer_frequency(days.to_numpy()) == "B"
    assert invoke("init", "b.csv", "-o", "b.yaml").exit_code == 0
    assert "business-daily" in Path("b.yaml").read_text()
    run = run_dir_of(
        invoke("train", "b.yaml", "-q", "--set", "training.epochs=1", "--set", "model.preset=fast")
    )
    forecast = pd.read_csv(io.StringIO(invoke("predict", run).stdout))
    assert (pd.to_datetime(forecast["date"]).dt.dayofweek < 5).all()
    periods = json.loads((run / "metrics.json").read_text())["periods"]
    assert sum(p["rows"] for p in periods.values()) == 150  # the holiday laid in, no weekends
