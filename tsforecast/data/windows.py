"""The window rule, in one place.

A window is identified by its start row ``s`` in the stacked series. With ``width`` input
steps and ``horizon`` forecast steps:

- its inputs are rows ``[s, s + width)``,
- its origin, the first forecast step, is row ``s + width``,
- its targets are rows ``[s + width, s + width + horizon)``.

Seq-to-seq models also learn a forecast at chosen input steps ``t``: rows
``s + t + 1 .. s + t + horizon`` (for the last step, the window's own targets).

A window may start before the first row of its series when ``window.min_inputs`` allows
fewer observed steps than ``width``: the rows before the series are read as its first row
(padding on the left with the first value), never as rows of the series stacked before it
(:func:`padded_rows`).

Everything that reads windows (the tf.data pipeline, evaluation, ``predict``, the plots,
the backtest's fold plan) takes its row offsets and start rows from here. Pure NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsforecast.data.loading import SeriesTable
from tsforecast.data.splits import SplitBounds, subject
from tsforecast.errors import DataError


def input_offsets(width: int) -> np.ndarray:
    """``(width,)`` rows of a window's inputs, counted from its start."""
    return np.arange(width, dtype=np.int64)


def target_offsets(width: int, horizon: int, steps: tuple[int, ...] | None = None) -> np.ndarray:
    """Rows of a window's targets, counted from its start.

    ``(horizon,)`` rows after the inputs, or with ``steps`` (input steps that each forecast
    the next ``horizon`` rows) ``(len(steps), horizon)``.
    """
    if steps is None:
        return width + np.arange(horizon, dtype=np.int64)
    steps_array = np.asarray(steps, dtype=np.int64)
    if steps_array.min() < 0 or steps_array.max() >= width:
        raise ValueError(f"steps must lie in [0, {width})")
    return steps_array[:, None] + 1 + np.arange(horizon, dtype=np.int64)


def origins(starts: np.ndarray, width: int) -> np.ndarray:
    """The first forecast row of each window."""
    return np.asarray(starts, dtype=np.int64) + width


def starts_at(origin_rows: np.ndarray, width: int) -> np.ndarray:
    """Start rows of the windows whose first forecast rows are ``origin_rows``."""
    return np.asarray(origin_rows, dtype=np.int64) - width


def last_origin(end: np.ndarray | int, horizon: int) -> np.ndarray | int:
    """The last origin whose ``horizon`` targets end by row ``end`` (exclusive)."""
    return end - horizon


def targets_end(origin: np.ndarray | int, horizon: int) -> np.ndarray | int:
    """The row after the last target of the window at ``origin``."""
    return origin + horizon


def origins_between(first: np.ndarray | int, end: np.ndarray | int, horizon: int) -> Any:
    """How many origins from ``first`` on have their targets end by row ``end``."""
    return last_origin(end, horizon) - first + 1


def series_of(offsets: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """The series each window at ``starts`` belongs to: the one holding its last input row
    (a padded window starts before its series)."""
    last_input = np.asarray(starts, dtype=np.int64) + width - 1
    return np.searchsorted(offsets, last_input, side="right") - 1


def padded_rows(
    rows: np.ndarray, starts: np.ndarray, width: int, offsets: np.ndarray | None
) -> np.ndarray:
    """Rows ``(n_windows, ...)`` read by the windows at ``starts``, those before the first
    row of each window's series replaced by that first row (``offsets``: the table's
    series offsets; None leaves the rows as they are)."""
    if offsets is None:
        return rows
    first = np.asarray(offsets)[series_of(offsets, starts, width)]
    return np.maximum(rows, first.reshape(-1, *[1] * (rows.ndim - 1)))


def inputs(
    values: np.ndarray, starts: np.ndarray, width: int, offsets: np.ndarray | None = None
) -> np.ndarray:
    """``(n_windows, width, n_columns)`` inputs of the given windows (padded on the left
    where they reach before their series, given its ``offsets``)."""
    rows = np.asarray(starts)[:, None] + input_offsets(width)
    return values[padded_rows(rows, starts, width, offsets)]


def targets(
    values: np.ndarray, starts: np.ndarray, width: int, horizon: int, n_targets: int
) -> np.ndarray:
    """``(n_windows, horizon, n_targets)`` targets of the given windows."""
    return values[np.asarray(starts)[:, None] + target_offsets(width, horizon), :n_targets]


def last_inputs(values: np.ndarray, starts: np.ndarray, width: int, n_targets: int) -> np.ndarray:
    """``(n_windows, n_targets)`` last observed target value of each window."""
    return values[origins(starts, width) - 1, :n_targets]


def window_starts(
    offsets: np.ndarray,
    bounds: SplitBounds,
    width: int,
    horizon: int,
    part: str,
    observed: int | None = None,
) -> np.ndarray:
    """Start rows of every window whose targets lie wholly inside ``part`` of each series.

    Inputs may reach back into the split before, and, when ``observed`` (the fewest
    observed input steps, default ``width``) is less than ``width``, before the series'
    first row (padded; see :func:`padded_rows`).
    """
    observed = width if observed is None else observed
    chunks = []
    for i in range(len(offsets) - 1):
        lo, hi = bounds.part_range(part, offsets, i)
        first_origin = max(lo, int(offsets[i]) + observed)
        chunks.append(starts_at(np.arange(first_origin, last_origin(hi, horizon) + 1), width))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int64)


def last_window_starts(table: SeriesTable, width: int, observed: int | None = None) -> np.ndarray:
    """Start row of the last input window of each series (for forecasting the future);
    a series shorter than ``width`` but holding ``observed`` rows is padded."""
    observed = width if observed is None else observed
    lengths = np.diff(table.offsets)
    short = np.flatnonzero(lengths < observed)
    if short.size:
        needs = (
            f"the last window.input_width ({width}) rows"
            if observed == width
            else f"window.min_inputs ({observed}) rows"
        )
        raise DataError(
            f"{subject(table, int(short[0]))} has {int(lengths[short[0]])} rows; forecasting "
            f"needs {needs}."
        )
    return starts_at(table.offsets[1:], width)


def spaced_origins(first: int, last: int, horizon: int, most: int | None = None) -> np.ndarray:
    """Origins from ``first`` on (up to ``most`` of them), one horizon apart, none after
    ``last``.

    Forecasts from them tile the rows without overlapping, as the forecast plots draw them.
    """
    return np.arange(first, last + 1, horizon, dtype=np.int64)[:most]
