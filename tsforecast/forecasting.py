"""Forecasts from a model: of chosen windows (for evaluation and plots), and of the real
future after every series (for ``predict``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tsforecast.config import Config
from tsforecast.data import windows
from tsforecast.data.future import future_covariates, with_future
from tsforecast.data.loading import SeriesTable
from tsforecast.data.pipeline import window_dataset
from tsforecast.data.prepared import PreparedData, scale_values, window_source
from tsforecast.errors import DataError, RunError
from tsforecast.models.heads import Forecast, read_output
from tsforecast.runs import LoadedRun

#: Windows per batch when forecasting.
PREDICT_BATCH = 1024


def forecast_windows(
    model: Any, source: Any, starts: np.ndarray, width: int, horizon: int, params: Any
) -> Forecast:
    """Scaled forecasts of the windows starting at ``starts``, whatever the model's head.

    Args:
        model: The whole model (not only its trained part).
        source: A :class:`~tsforecast.data.pipeline.WindowSource` (converted to tensors
            once, for many calls), or the scaled values.
        starts: Window start rows.
        width: Input steps per window.
        horizon: Steps the model forecasts.
        params: The model family's parameters (for its head).
    """
    dataset = window_dataset(
        source, starts, width, PREDICT_BATCH, horizon=horizon, with_targets=False
    )
    return read_output(model.predict(dataset, verbose=0), params)


def checked_forecasts(
    model: Any, prepared: PreparedData, config: Config, part: str
) -> Callable[[np.ndarray], Forecast]:
    """A function from window starts to the model's scaled forecasts of ``part``, which
    raises a RunError if a forecast is NaN or infinite."""
    source = prepared.source().tensors()
    window = config.window

    def forecast(starts: np.ndarray) -> Forecast:
        result = forecast_windows(
            model, source, starts, window.input_width, window.horizon, config.model.params
        )
        if not np.isfinite(result.point).all():
            raise RunError(
                f"The trained model forecasts NaN or infinite values on the {part} split; "
                "check the data for extreme values or lower training.optimizer.learning_rate."
            )
        return result

    return forecast


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
    """``(n_series, horizon)`` timestamps continuing every series at the table's frequency.

    Raises:
        DataError: when there is no frequency to continue at, or the timestamps would lie
            beyond the dates that can be represented.
    """
    if table.frequency is None:
        raise DataError(
            "Cannot continue the timestamps: the input has too few of them to tell their "
            "frequency; set data.frequency."
        )
    offset = pd.tseries.frequencies.to_offset(table.frequency)
    last = table.times[table.offsets[1:] - 1].astype("datetime64[ns]")
    out = np.empty((table.n_series, horizon), dtype="datetime64[ns]")
    try:
        if isinstance(offset, pd.tseries.offsets.Tick):  # every series at once
            ahead = np.arange(1, horizon + 1, dtype=np.int64) * offset.nanos
            with np.errstate(over="raise"):
                steps = last.astype(np.int64)[:, None] + ahead
            if (steps < last.astype(np.int64)[:, None]).any():
                raise OverflowError
            out[:] = steps.astype("datetime64[ns]")
        else:
            for i, end in enumerate(last):
                out[i] = pd.date_range(end, periods=horizon + 1, freq=offset)[1:].to_numpy()
    except (OverflowError, FloatingPointError, pd.errors.OutOfBoundsDatetime):
        raise DataError(
            f"The {horizon} timestamps after the end of the input lie beyond the dates that "
            "can be represented."
        ) from None
    return out


def _stamped(table: SeriesTable, times: np.ndarray) -> list[Any]:
    """``(n_series, horizon)`` UTC timestamps written as the input writes its own: in each
    series' time zone (if it has one) and style (years as years, quarters as quarters)."""
    zones = table.zones or (None,) * table.n_series
    stamped: list[Any] = []
    for row, zone in zip(times, zones, strict=True):
        index = pd.DatetimeIndex(row)
        if zone is not None:
            index = index.tz_localize("UTC").tz_convert(zone)
        stamped.extend(table.time_style.write(index) if table.time_style else list(index))
    return stamped


def decimals(values: np.ndarray) -> int | None:
    """The decimals the values are written with (``2.9`` -> 1), up to 6; None for values
    written more finely than that."""
    values = np.asarray(values, dtype="float64")
    values = values[np.isfinite(values)]
    for digits in range(7):
        shifted = values * 10.0**digits
        if np.all(np.abs(shifted - np.round(shifted)) <= 1e-6 * np.maximum(1.0, np.abs(shifted))):
            return digits
    return None


def written(forecast: np.ndarray, digits: int | None) -> np.ndarray:
    """Forecasts at the precision of the data: its decimals, or 7 significant digits (what
    float32, which the models compute in, holds)."""
    if digits is not None:
        return np.round(forecast, digits)
    return np.asarray([float(f"{v:.7g}") for v in np.ravel(forecast)]).reshape(np.shape(forecast))


def forecast_table(
    run: LoadedRun, table: SeriesTable, future_path: str | None = None
) -> pd.DataFrame:
    """Forecast the next ``horizon`` steps after the end of every series in ``table``.

    Point heads give one column per target; the quantile head gives lower, median and
    upper columns per target (see :func:`quantile_columns`).

    Args:
        run: The run.
        table: The input, every series at least ``input_width`` rows long.
        future_path: The ``--future`` file of a run that reads known-future columns.
    """
    config = run.config
    width, horizon = config.window.input_width, config.window.horizon
    n_targets = table.n_targets
    starts = windows.last_window_starts(table, width)
    times = future_times(table, horizon) if table.times is not None else None
    source_table = table
    if table.n_future:
        source_table = with_future(
            table, future_covariates(config.data, table, times, future_path), times
        )
        starts = starts + np.arange(table.n_series) * horizon  # the rows appended before
    scaled = scale_values(run.scaler, source_table)
    source = window_source(run.scaler, source_table, scaled)
    output = forecast_windows(run.model, source, starts, width, horizon, config.model.params)
    series = run.scaler.series_index(table.ids)
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
    if times is not None:
        frame[config.data.time_column] = _stamped(table, times)
    else:
        frame["step"] = np.tile(np.arange(1, horizon + 1), table.n_series)
    for j, name in enumerate(table.columns[:n_targets]):
        digits = decimals(table.values[:, j])
        if output.quantiles is None:
            # (n_series, horizon, n_targets) -> one column per target
            point = run.scaler.inverse_targets(output.point, series)
            frame[name] = written(point[:, :, j].reshape(-1), digits)
            continue
        for k, column in enumerate(quantile_columns(name, output.levels)):
            level = run.scaler.inverse_targets(output.quantiles[..., k], series)
            frame[column] = written(level[:, :, j].reshape(-1), digits)
    return pd.DataFrame(frame)
