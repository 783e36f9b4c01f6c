"""The known-future covariates of the steps being forecast, for ``predict``.

User columns (``data.future_columns``) come from the ``--future`` file: exactly the
``horizon`` rows after the input's end for every series, matched by id and timestamp.
Calendar covariates are computed from the future timestamps themselves.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from tsforecast.config import DataConfig
from tsforecast.data.calendar import calendar_values
from tsforecast.data.loading import SeriesTable, local_times, numeric_values, read_table
from tsforecast.data.times import parse_times
from tsforecast.errors import DataError


def _written(table: SeriesTable, times: np.ndarray) -> list:
    return table.time_style.write(pd.DatetimeIndex(times)) if table.time_style else list(times)


def read_future(
    config: DataConfig, path: str | Path, table: SeriesTable, times: np.ndarray
) -> np.ndarray:
    """``(n_series, horizon, n_future_columns)`` values of the future columns.

    Args:
        config: The run's data section.
        path: The ``--future`` file: the id and time columns and every future column.
        table: The input the forecast starts after.
        times: ``(n_series, horizon)`` the timestamps being forecast (naive UTC).

    Raises:
        DataError: naming the series and timestamp of a missing, extra or misaligned row.
    """
    frame = read_table(path, config.format)
    wanted = [c for c in (config.id_column, config.time_column) if c is not None]
    wanted += list(config.future_columns)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise DataError(f"Column '{missing[0]}' is not in the future file {path}.")
    values = numeric_values(frame, list(config.future_columns)).to_numpy(dtype="float64")
    if np.isnan(values).any():
        row, col = np.argwhere(np.isnan(values))[0]
        raise DataError(
            f"The future file {path} has no value of '{config.future_columns[col]}' at row "
            f"{row + 1}; every forecast step needs every future column."
        )
    given, _ = parse_times(frame[config.time_column], config.time_column, config.time_format)
    names = table.ids if table.ids is not None else ("",)
    owners = frame[config.id_column].astype(str).to_numpy() if config.id_column else None
    horizon = times.shape[1]
    out = np.empty((len(names), horizon, values.shape[1]))
    for i, name in enumerate(names):
        rows = np.flatnonzero(owners == name) if owners is not None else np.arange(len(frame))
        label = f"series '{name}'" if owners is not None else "the series"
        expected = _written(table, times[i])
        if len(rows) != horizon:
            raise DataError(
                f"The future file {path} has {len(rows)} rows for {label}; the run forecasts "
                f"{horizon} steps ({expected[0]} to {expected[-1]}), and needs one row each."
            )
        wrong = np.flatnonzero(given[rows] != times[i])
        if wrong.size:
            k = int(wrong[0])
            found = frame[config.time_column].iloc[rows[k]]
            raise DataError(
                f"Row {rows[k] + 1} of the future file {path} is {found} for {label}, where "
                f"{expected[k]} follows the input; the rows must be the {horizon} steps after "
                "it, in order."
            )
        out[i] = values[rows]
    if owners is not None:
        extra = sorted(set(owners) - set(names))
        if extra:
            raise DataError(
                f"The future file {path} has rows for series '{extra[0]}', which the input "
                "does not hold."
            )
    return out


def future_covariates(
    config: DataConfig, table: SeriesTable, times: np.ndarray, path: str | Path | None
) -> np.ndarray:
    """``(n_series, horizon, n_future)`` known-future covariates of the forecast steps: the
    future columns from ``path``, then the calendar features of ``times``.

    Raises:
        DataError: when the run reads future columns and no ``path`` is given.
    """
    parts = []
    if config.future_columns:
        if path is None:
            raise DataError(
                f"This run reads the known-future columns {', '.join(config.future_columns)}: "
                f"pass their values for the {times.shape[1]} steps after the input with "
                "--future FILE (the id and time columns and those columns)."
            )
        parts.append(read_future(config, path, table, times))
    if config.calendar:
        n_series, horizon = times.shape
        offsets = np.arange(n_series + 1) * horizon
        local = local_times(times.reshape(-1), offsets, table.zones)
        features = calendar_values(local, config.calendar, config.holidays_country)
        parts.append(features.reshape(n_series, horizon, -1))
    return np.concatenate(parts, axis=2)


def with_future(table: SeriesTable, future: np.ndarray, times: np.ndarray) -> SeriesTable:
    """``table`` with the forecast steps appended to every series: their future covariates
    (``(n_series, horizon, n_future)``) and timestamps; the other columns repeat the last
    observed row, and no window that forecasts from the end reads them."""
    n_series, horizon, _ = future.shape
    lengths = np.diff(table.offsets)
    last = table.values[table.offsets[1:] - 1]  # (n_series, n_columns)
    appended = np.repeat(last[:, None, :], horizon, axis=1)
    appended[:, :, table.n_past :] = future
    pieces, stamps = [], []
    for i in range(n_series):
        pieces += [table.values[table.offsets[i] : table.offsets[i + 1]], appended[i]]
        if table.times is not None:
            stamps += [table.times[table.offsets[i] : table.offsets[i + 1]], times[i]]
    offsets = np.concatenate([[0], np.cumsum(lengths + horizon)]).astype(np.int64)
    return replace(
        table,
        values=np.concatenate(pieces),
        offsets=offsets,
        times=np.concatenate(stamps) if stamps else None,
    )
