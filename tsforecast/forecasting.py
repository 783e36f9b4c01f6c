"""Forecasting the real future from a finished run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tsforecast.data.loading import SeriesTable, load_table
from tsforecast.data.windowing import last_window_starts
from tsforecast.errors import DataError
from tsforecast.runs import LoadedRun, load_run


def _future_times(times: np.ndarray, horizon: int) -> np.ndarray:
    """The next ``horizon`` timestamps after ``times``, at the series' inferred frequency."""
    index = pd.DatetimeIndex(times[-min(len(times), 1000) :])
    freq = pd.infer_freq(index) if len(index) >= 3 else None
    if freq is not None:
        return pd.date_range(index[-1], periods=horizon + 1, freq=freq)[1:].to_numpy()
    if len(index) < 2:
        raise DataError("Cannot infer the series frequency from a single timestamp.")
    step = np.median(np.diff(index.to_numpy()).astype("int64"))
    return index[-1].to_numpy() + np.arange(1, horizon + 1) * np.timedelta64(int(step), "ns")


def forecast_table(run: LoadedRun, table: SeriesTable) -> pd.DataFrame:
    """Forecast the next ``horizon`` steps after the end of every series in ``table``."""
    config = run.config
    width, horizon = config.window.input_width, config.window.horizon
    n_targets = table.n_targets
    starts = last_window_starts(table, width)
    scaled = run.scaler.transform(table.values).astype(np.float32)
    # (n_series,) -> (n_series, input_width, n_inputs)
    inputs = scaled[starts[:, None] + np.arange(width)]
    outputs = np.asarray(run.model.predict_on_batch(inputs))  # (n_series, horizon, n_targets)
    forecast = run.scaler.inverse_transform(outputs, slice(0, n_targets))

    frame: dict[str, np.ndarray] = {}
    # Generated series have no id column in any file; they are named by their number.
    id_name = config.data.id_column
    if id_name is None and config.data.source == "synthetic_sines" and table.ids is not None:
        id_name = "series"
    if id_name is not None:
        frame[id_name] = np.repeat(np.asarray(table.ids, dtype=object), horizon)
    if table.times is not None:
        frame[config.data.time_column] = np.concatenate(
            [
                _future_times(table.times[lo:hi], horizon)
                for lo, hi in zip(table.offsets[:-1], table.offsets[1:], strict=True)
            ]
        )
    else:
        frame["step"] = np.tile(np.arange(1, horizon + 1), table.n_series)
    for j, name in enumerate(table.columns[:n_targets]):
        frame[name] = forecast[:, :, j].reshape(-1)
    return pd.DataFrame(frame)


def predict(run_dir: str | Path, input_path: str | Path | None = None) -> pd.DataFrame:
    """Load a run and forecast the future of every series in ``input_path``.

    Args:
        run_dir: A complete run directory.
        input_path: New data with the training columns (default: the training file).
    """
    run = load_run(run_dir)
    table = load_table(run.config.data, input_path)
    return forecast_table(run, table)
