"""Time columns as people store them, parsed to timestamps and written back the same way.

A time column may hold:

- years as numbers or text (``1700``, ``1700.0``): January 1 of the year;
- quarters (``1959Q1``, ``1959-Q1``), months (``2021-03``) and ISO weeks (``2021-W05``):
  the first day of the period they name;
- dates and date-times, with or without a UTC offset or time zone: compared in UTC;
- epoch seconds or milliseconds, only when ``data.time_format`` is ``unix_s`` or
  ``unix_ms``; any other ``data.time_format`` is an strftime pattern.

:class:`TimeStyle` remembers which, so that forecasts are stamped, and errors quote
timestamps, as the data writes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tsforecast.errors import DataError

_QUARTER = re.compile(r"\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*")
_WEEK = re.compile(r"\s*(\d{4})-?W(\d{2})\s*")
_MONTH = re.compile(r"\s*\d{4}-\d{2}\s*")
_YEAR = re.compile(r"\s*\d{4}\s*")
_DATE = re.compile(r"\s*\d{4}-\d{2}-\d{2}\s*")
#: The years a timestamp can hold (pandas' nanosecond range).
_FIRST_YEAR, _LAST_YEAR = 1678, 2261

#: The frequency each period style names.
PERIOD_FREQUENCY = {"year": "YS", "quarter": "QS", "month": "MS", "week": "W-MON"}


@dataclass(frozen=True)
class TimeStyle:
    """How a time column writes its timestamps.

    Attributes:
        kind: ``year``, ``quarter``, ``month``, ``week``, ``date``, ``datetime``,
            ``unix_s``, ``unix_ms`` or ``pattern``.
        pattern: The strftime pattern of ``pattern``.
    """

    kind: str
    pattern: str | None = None

    @property
    def frequency(self) -> str | None:
        """The frequency the style itself names (years: ``YS``), or None."""
        return PERIOD_FREQUENCY.get(self.kind)

    def write(self, times: pd.DatetimeIndex) -> list[Any]:
        """``times`` written in this style: years as integers, quarters as ``1960Q1``..."""
        if self.kind == "year":
            return [int(t.year) for t in times]
        if self.kind == "quarter":
            return [f"{t.year}Q{t.quarter}" for t in times]
        if self.kind == "month":
            return [t.strftime("%Y-%m") for t in times]
        if self.kind == "week":
            return [f"{t.isocalendar()[0]}-W{t.isocalendar()[1]:02d}" for t in times]
        if self.kind == "date":
            return [t.strftime("%Y-%m-%d") for t in times]
        if self.kind in ("unix_s", "unix_ms"):
            unit = 1_000_000_000 if self.kind == "unix_s" else 1_000_000
            naive = times.tz_convert("UTC").tz_localize(None) if times.tz else times
            return [int(v) // unit for v in naive.asi8]
        if self.kind == "pattern":
            return [t.strftime(self.pattern) for t in times]
        return list(times)


def _numbers(raw: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(raw) and not pd.api.types.is_bool_dtype(raw)


def _bad_value(column: str, raw: pd.Series, bad: np.ndarray, what: str) -> DataError:
    row = int(np.argmax(bad))
    return DataError(
        f"Column '{column}' has a value that is not {what} at row {row + 1}: "
        f"{_shown(raw.iloc[row])}."
    )


def _shown(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def _years(raw: pd.Series, column: str) -> pd.Series:
    numbers = pd.to_numeric(raw, errors="coerce")
    bad = ~(np.isfinite(numbers) & (numbers == np.round(numbers)))
    bad |= (numbers < _FIRST_YEAR) | (numbers > _LAST_YEAR)
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise DataError(
            f"Column '{column}' holds numbers that are not years from {_FIRST_YEAR} to "
            f"{_LAST_YEAR}, e.g. {_shown(raw.iloc[row])} at row {row + 1}; set "
            "data.time_format to unix_s or unix_ms for epoch times, or to an strftime "
            "pattern such as %Y%m%d."
        )
    return pd.to_datetime(numbers.astype(int).astype(str), format="%Y", utc=True)


def _all_match(text: pd.Series, pattern: re.Pattern) -> bool:
    return bool(text.map(lambda v: pattern.fullmatch(v) is not None).all())


def parse_times(
    raw: pd.Series, column: str, time_format: str | None = None
) -> tuple[np.ndarray, TimeStyle]:
    """Timestamps of a time column, as naive UTC ``datetime64[ns]``, and its style.

    Args:
        raw: The column as read from the file.
        column: Its name, for messages.
        time_format: ``data.time_format``: ``unix_s``, ``unix_ms``, an strftime pattern,
            or None to recognise the column by its values.

    Raises:
        DataError: naming the first value that is not a timestamp, as the file writes it.
    """
    if time_format in ("unix_s", "unix_ms"):
        if not _numbers(raw):
            raise _bad_value(column, raw, ~pd.to_numeric(raw, errors="coerce").notna(), "a number")
        unit = "s" if time_format == "unix_s" else "ms"
        parsed, style = (
            pd.to_datetime(raw, unit=unit, utc=True, errors="coerce"),
            TimeStyle(time_format),
        )
    elif time_format is not None:
        text = raw.astype(str)
        parsed = pd.to_datetime(text, format=time_format, errors="coerce", utc=True)
        style = TimeStyle("pattern", time_format)
    elif _numbers(raw):
        parsed, style = _years(raw, column), TimeStyle("year")
    elif pd.api.types.is_datetime64_any_dtype(raw):
        parsed, style = pd.to_datetime(raw, utc=True), TimeStyle("datetime")
    else:
        parsed, style = _parse_text(raw, column)
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise _bad_value(column, raw, bad, "a timestamp")
    return parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]"), style


def _parse_text(raw: pd.Series, column: str) -> tuple[pd.Series, TimeStyle]:
    """Text timestamps: periods by their shape, anything else by pandas."""
    text = raw.astype(str).where(raw.notna(), "")
    if _all_match(text, _YEAR):
        return _years(text.str.strip(), column), TimeStyle("year")
    if _all_match(text, _QUARTER):
        parts = text.str.extract(_QUARTER.pattern)
        start = parts[0] + "-" + ((parts[1].astype(int) - 1) * 3 + 1).astype(str).str.zfill(2)
        return pd.to_datetime(start, format="%Y-%m", utc=True), TimeStyle("quarter")
    if _all_match(text, _WEEK):
        parts = text.str.extract(_WEEK.pattern)
        monday = parts[0] + "-W" + parts[1] + "-1"
        return pd.to_datetime(monday, format="%G-W%V-%u", utc=True), TimeStyle("week")
    if _all_match(text, _MONTH):
        return pd.to_datetime(text.str.strip(), format="%Y-%m", utc=True), TimeStyle("month")
    try:
        parsed = pd.to_datetime(raw, errors="coerce", format="mixed", utc=True)
    except (TypeError, ValueError, OverflowError):  # values pandas cannot even coerce
        parsed = pd.Series(pd.NaT, index=raw.index)
    style = TimeStyle("date" if _all_match(text, _DATE) else "datetime")
    return parsed, style


def infer_frequency(times: np.ndarray) -> str | None:
    """The pandas frequency of one series' timestamps, allowing missing steps: the most
    common step as a calendar or fixed frequency, preferring one whose grid holds every
    timestamp (the caller checks that it does)."""
    index = pd.DatetimeIndex(times)
    if len(index) < 2:
        return None
    if len(index) >= 3:
        freq = pd.infer_freq(index)
        if freq is not None:
            return freq
    steps = np.diff(index.asi8)
    values, counts = np.unique(steps, return_counts=True)
    common = pd.Timedelta(int(values[np.argmax(counts)]))
    if common <= pd.Timedelta(0):
        return None
    days = common / pd.Timedelta(days=1)
    candidates = [pd.tseries.frequencies.to_offset(common).freqstr]
    if (
        days == 1
        and len(index) >= 10
        and (index.dayofweek < 5).all()
        and (steps > common.value).any()
    ):
        # daily steps, never a weekend, and longer steps: business days with a few missing
        candidates = ["B", *candidates]
    for low, high, aliases in (
        (28, 31, ("MS", "ME")),
        (89, 92, ("QS", "QE")),
        (365, 366, ("YS", "YE")),
    ):
        if low <= days <= high:
            candidates = list(aliases)
    for alias in candidates:
        grid = pd.date_range(index[0], index[-1], freq=alias)
        if len(grid) and grid[0] == index[0] and index.isin(grid).all():
            return alias
    return candidates[0]


def grid(first: Any, last: Any, frequency: str) -> pd.DatetimeIndex:
    """Every timestamp from ``first`` to ``last`` at ``frequency``."""
    return pd.date_range(first, last, freq=frequency)


@dataclass(frozen=True)
class Regular:
    """Series laid on a regular grid of timestamps.

    Attributes:
        times: ``(n_rows,)`` the grid's timestamps, series after series.
        offsets: ``(n_series + 1,)`` where each series starts in ``times``.
        source: ``(n_rows,)`` for each grid row, the input row it comes from, or -1 for a
            timestamp the input skipped.
        frequency: The grid's frequency.
    """

    times: np.ndarray
    offsets: np.ndarray
    source: np.ndarray
    frequency: str | None


def regularise(
    times: np.ndarray,
    offsets: np.ndarray,
    frequency: str | None,
    column: str,
    where: Any,
) -> Regular:
    """Lay each series (``times[offsets[i]:offsets[i+1]]``) on a grid at ``frequency``
    (inferred from the first series with two timestamps when None), adding the timestamps
    it skips.

    Args:
        times: Timestamps of the stacked series, in input row order within each series.
        offsets: Series boundaries in ``times``.
        frequency: A pandas offset alias, or None to infer one.
        column: The time column, for messages.
        where: ``where(i, k) -> (place, value)``: the row of timestamp ``k`` of series ``i``
            ("row 12 of series 'a'") and the timestamp as the input writes it.

    Raises:
        DataError: where a series repeats or goes back in time, or has a timestamp off
            the grid.
    """
    steps = np.diff(times.astype("datetime64[ns]").astype(np.int64))
    lengths = np.diff(offsets)
    series = np.repeat(np.arange(len(lengths)), lengths)
    inside = series[1:] == series[:-1]
    bad = np.flatnonzero(inside & (steps <= 0))
    if bad.size:
        k = int(bad[0]) + 1
        i = int(series[k])
        kind = "repeats" if steps[k - 1] == 0 else "goes back in time"
        place, value = where(i, k - offsets[i])
        previous = where(i, k - 1 - offsets[i])[1]
        raise DataError(
            f"Column '{column}' {kind} at {place} ({value} after {previous}); timestamps "
            "must strictly increase."
        )
    if frequency is None:
        longest = int(np.argmax(lengths))
        frequency = infer_frequency(times[offsets[longest] : offsets[longest + 1]])
    if frequency is None:
        if (lengths <= 1).all():
            return Regular(times, offsets, np.arange(len(times)), None)
        longest = int(np.argmax(lengths))
        place = where(longest, 0)[0].split(" of ", 1)[-1]
        raise DataError(
            f"Column '{column}' is irregularly spaced in {place}: its steps follow no "
            "frequency; set data.frequency, or resample the data first."
        )
    offset = pd.tseries.frequencies.to_offset(frequency)
    # series whose every step is one fixed-length step are on their grid already
    on_grid = np.zeros(len(lengths), dtype=bool)
    if isinstance(offset, pd.tseries.offsets.Tick):
        off = inside & (steps != offset.nanos)
        on_grid = np.bincount(series[1:][off], minlength=len(lengths)) == 0
    if on_grid.all():
        return Regular(times, offsets, np.arange(len(times)), offset.freqstr)
    pieces, sources, counts = [], [], []
    for i in range(len(lengths)):
        if on_grid[i]:
            pieces.append(times[offsets[i] : offsets[i + 1]])
            sources.append(np.arange(offsets[i], offsets[i + 1]))
            counts.append(int(lengths[i]))
            continue
        own = pd.DatetimeIndex(times[offsets[i] : offsets[i + 1]])
        full = pd.date_range(own[0], own[-1], freq=offset) if len(own) else own
        position = full.get_indexer(own)
        if len(own) and (len(full) == 0 or full[0] != own[0] or (position < 0).any()):
            k = int(np.argmax(position < 0)) if (position < 0).any() else 0
            place, value = where(i, k)
            raise DataError(
                f"Column '{column}' is irregularly spaced at {place} ({value}): it is off "
                f"the grid of frequency {frequency} that the series starts on; set "
                "data.frequency, or resample the data first."
            )
        source = np.full(len(full), -1, dtype=np.int64)
        source[position] = np.arange(offsets[i], offsets[i + 1])
        pieces.append(full.to_numpy(dtype="datetime64[ns]"))
        sources.append(source)
        counts.append(len(full))
    return Regular(
        np.concatenate(pieces) if pieces else times,
        np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        np.concatenate(sources) if sources else np.zeros(0, np.int64),
        offset.freqstr,
    )
