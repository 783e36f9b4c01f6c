"""Forecasts from a model: of chosen windows (for evaluation and plots), and of the real
future after every series (for ``predict``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from tsforecast.data import windows
from tsforecast.data.loading import SeriesTable
from tsforecast.data.pipeline import window_dataset
from tsforecast.data.prepared import scale_values
from tsforecast.errors import DataError, RunError
from tsforecast.models.heads import Forecast, read_output
from tsforecast.runs import LoadedRun

#: Windows per batch when forecasting.
PREDICT_BATCH = 1024


def forecast_windows(
    model: Any, series: Any, starts: np.ndarray, width: int, params: Any
) -> Forecast:
    """Scaled forecasts of the windows starting at ``starts``, whatever the model's head.

    Args:
        model: The whole model (not only its trained part).
        series: The scaled series (a tensor from
            :func:`~tsforecast.data.pipeline.series_tensor`, or an array).
        starts: Window start rows.
        width: Input steps per window.
        params: The model family's parameters (for its head).
    """
    dataset = window_dataset(series, starts, width, PREDICT_BATCH)
    return read_output(model.predict(dataset, verbose=0), params)


def _future_times(times: np.ndarray, horizon: int) -> np.ndarray:
    """The next ``horizon`` timestamps after ``times``, at the series' inferred frequency."""
    index = pd.DatetimeIndex(times[-min(len(times), 1000) :])
    freq = pd.infer_freq(index) if len(index) >= 3 else None
    try:
        if freq is not None:
            return pd.date_range(index[-1], periods=horizon + 1, freq=freq)[1:].to_numpy()
        if len(index) < 2:
            raise DataError("Cannot infer the series frequency from a single timestamp.")
        step = pd.Series(np.diff(index.to_numpy())).median()
        future = pd.DatetimeIndex([index[-1] + step * k for k in range(1, horizon + 1)])
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        future = None
    if future is None or not future.is_monotonic_increasing or future[0] <= index[-1]:
        raise DataError(
            f"The {horizon} timestamps after {index[-1]} lie beyond the dates that can be "
            "represented."
        )
    return future.to_numpy()


def quantile_columns(name: str, levels: tuple[float, ...]) -> list[str]:
    """Column names of a target's quantiles: ``_lower``, ``_median``, ``_upper`` for the
    outermost levels and the median, ``_q<level>`` for any others."""
    names = []
    for i, q in enumerate(levels):
        if i == 0:
            names.append(f"{name}_lower")
        elif i == len(levels) - 1:
            names.append(f"{name}_upper")
        elif q == 0.5:
            names.append(f"{name}_median")
        else:
            names.append(f"{name}_q{q:g}")
    return names


def future_times(table: SeriesTable, horizon: int) -> np.ndarray:
    """``(n_series, horizon)`` timestamps continuing every series at its own frequency.

    A series whose timestamps advance by one constant step continues by that step (all
    such series at once); any other (monthly, business days, ...) by its inferred frequency.
    """
    times = table.times.astype("datetime64[ns]")
    ends = table.offsets[1:] - 1
    steps = np.diff(times.astype(np.int64))
    out = np.empty((table.n_series, horizon), dtype="datetime64[ns]")
    lengths = np.diff(table.offsets)
    has_step = lengths >= 2
    last_step = np.zeros(table.n_series, dtype=np.int64)
    last_step[has_step] = steps[ends[has_step] - 1]
    series = np.repeat(np.arange(table.n_series), lengths)
    inside = series[1:] == series[:-1]
    uneven = inside & (steps != last_step[series[1:]])
    constant = has_step & (np.bincount(series[1:][uneven], minlength=table.n_series) == 0)
    # Leave series whose future would overflow the timestamp range to the careful path.
    room = np.iinfo(np.int64).max - times[ends].astype(np.int64)
    constant &= (last_step > 0) & (last_step <= room // horizon)
    ahead = np.arange(1, horizon + 1)
    out[constant] = times[ends[constant], None] + (last_step[constant, None] * ahead).astype(
        "timedelta64[ns]"
    )
    for i in np.flatnonzero(~constant):
        lo, hi = table.offsets[i], table.offsets[i + 1]
        out[i] = _future_times(times[lo:hi], horizon)
    return out


def _stamped(times: np.ndarray, zones: tuple[Any, ...] | None) -> Any:
    """``(n_series, horizon)`` UTC timestamps, each series' in its own zone (if it has one)."""
    if zones is None:
        return times.reshape(-1)
    stamped = []
    for row, zone in zip(times, zones, strict=True):
        index = pd.DatetimeIndex(row)
        stamped.extend(index if zone is None else index.tz_localize("UTC").tz_convert(zone))
    return pd.Series(stamped, dtype=object if len(set(zones)) > 1 else None)


def forecast_table(run: LoadedRun, table: SeriesTable) -> pd.DataFrame:
    """Forecast the next ``horizon`` steps after the end of every series in ``table``.

    Point heads give one column per target; the quantile head gives lower, median and
    upper columns per target (see :func:`quantile_columns`).
    """
    config = run.config
    width, horizon = config.window.input_width, config.window.horizon
    n_targets = table.n_targets
    starts = windows.last_window_starts(table, width)
    # (n_series,) -> (n_series, input_width, n_inputs)
    inputs = windows.inputs(scale_values(run.scaler, table), starts, width)
    output = read_output(run.model.predict_on_batch(inputs), config.model.params)
    targets = slice(0, n_targets)
    raw = output.point if output.quantiles is None else output.quantiles
    if not np.isfinite(raw).all():
        raise RunError(
            "The model forecasts NaN or infinite values for this input; check it for values "
            "far outside the range of the training data."
        )

    frame: dict[str, np.ndarray] = {}
    # Generated series have no id column in any file; they are named by their number.
    id_name = config.data.id_column
    if id_name is None and config.data.source == "synthetic_sines" and table.ids is not None:
        id_name = "series"
    if id_name is not None:
        frame[id_name] = np.repeat(np.asarray(table.ids, dtype=object), horizon)
    if table.times is not None:
        frame[config.data.time_column] = _stamped(future_times(table, horizon), table.zones)
    else:
        frame["step"] = np.tile(np.arange(1, horizon + 1), table.n_series)
    for j, name in enumerate(table.columns[:n_targets]):
        if output.quantiles is None:
            # (n_series, horizon, n_targets) -> one column per target
            point = run.scaler.inverse_transform(output.point, targets)
            frame[name] = point[:, :, j].reshape(-1)
            continue
        for k, column in enumerate(quantile_columns(name, output.levels)):
            level = run.scaler.inverse_transform(output.quantiles[..., k], targets)
            frame[column] = level[:, :, j].reshape(-1)
    return pd.DataFrame(frame)
