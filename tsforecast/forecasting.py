"""Forecasts from a model: of chosen windows (for evaluation and plots), and of the real
future after every series (for ``predict``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from tsforecast import classical
from tsforecast.config import Config
from tsforecast.data import windows
from tsforecast.data.future import future_covariates, with_future
from tsforecast.data.loading import SeriesTable
from tsforecast.data.pipeline import WindowSource, window_dataset
from tsforecast.data.prepared import PreparedData, scale_values, window_source
from tsforecast.data.scaling import Scaler
from tsforecast.errors import DataError, RunError
from tsforecast.models.covariates import vocabularies
from tsforecast.models.heads import Forecast, read_output
from tsforecast.runs import LoadedRun

#: Windows per batch when forecasting.
PREDICT_BATCH = 1024


class Predictor:
    """A trained model with the run's scaling and the window rule around it: the one place
    windows become forecasts.

    Every forecast, whether of chosen windows (evaluation, plots, compare, bench) or of
    the future after every series (``predict``), is made here: the windows are gathered by
    :mod:`tsforecast.data.windows`, the model's raw output read by its head
    (:func:`~tsforecast.models.heads.read_output`), checked for NaN and brought back to
    original units by the scaler.

    Args:
        model: The whole model (not only its trained part).
        scaler: The run's fitted scaler.
        window: The config's window section (``input_width``, ``horizon``).
        params: The model family's parameters (for its head).
    """

    def __init__(self, model: Any, scaler: Scaler, window: Any, params: Any) -> None:
        self.model = model
        self.scaler = scaler
        self.width = window.input_width
        self.horizon = window.horizon
        self.params = params
        self.vocabularies = vocabularies(model)

    @classmethod
    def of_run(cls, run: LoadedRun) -> Predictor:
        record = run.metrics.get("auto", {}).get("blend")
        if record and record.get("statistical"):
            window, params = run.config.window, run.config.model.params
            return BlendedPredictor(run.model, run.scaler, window, params, record)
        return cls(run.model, run.scaler, run.config.window, run.config.model.params)

    def source(self, table: SeriesTable, scaled: np.ndarray | None = None) -> WindowSource:
        """What windows of ``table`` are gathered from, scaled by the run's scaler."""
        scaled = scale_values(self.scaler, table) if scaled is None else scaled
        return window_source(self.scaler, table, scaled, self.vocabularies)

    def scaled(self, source: WindowSource, starts: np.ndarray, where: str = "") -> Forecast:
        """Scaled forecasts of the windows starting at ``starts``.

        Raises:
            RunError: when a forecast is NaN or infinite (``where`` says of what).
        """
        starts = np.asarray(starts, dtype=np.int64)
        dataset = window_dataset(
            source,
            starts,
            self.width,
            PREDICT_BATCH,
            horizon=self.horizon,
            with_targets=False,
            pad=True,
        )
        raw = np.asarray(self.model.predict(dataset, verbose=0))[: len(starts)]
        result = read_output(raw, self.params)
        values = result.point if result.quantiles is None else result.quantiles
        if not np.isfinite(values).all():
            raise RunError(
                f"The model forecasts NaN or infinite values{where}; check the data for values "
                "far outside the range of the training data, or lower "
                "training.optimizer.learning_rate."
            )
        return result

    def inverse(self, forecast: Forecast, series: np.ndarray | None) -> Forecast:
        """A scaled forecast in original units; ``series`` is where the scaler's statistics
        of each window's series are (None: global)."""
        point = self.scaler.inverse_targets(forecast.point, series)
        if forecast.quantiles is None:
            return Forecast(point)
        levels = [
            self.scaler.inverse_targets(forecast.quantiles[..., k], series)
            for k in range(forecast.quantiles.shape[-1])
        ]
        return Forecast(point, np.stack(levels, axis=-1), forecast.levels)

    def forecast(self, table: SeriesTable, starts: np.ndarray, where: str = "") -> Forecast:
        """Forecasts of the windows of ``table`` starting at ``starts``, in original units."""
        scaled = self.scaled(self.source(table), starts, where)
        return self.inverse(scaled, self.series_of(table, starts))

    def series_of(self, table: SeriesTable, starts: np.ndarray) -> np.ndarray | None:
        """Where the scaler's statistics of each window's series are (None: global)."""
        index = self.scaler.series_index(table.ids)
        if index is None:
            return None
        return index[windows.series_of(table.offsets, starts, self.width)]

    def future(self, config: Any, table: SeriesTable, future_path: str | None = None) -> Any:
        """Forecasts of the ``horizon`` steps after every series of ``table``, in original
        units, and their timestamps ``(n_series, horizon)`` (None without a time column)."""
        source_table, starts, times = last_windows(config, table, future_path)
        scaled = self.scaled(self.source(source_table), starts, " for this input")
        return self.inverse(scaled, self.scaler.series_index(table.ids)), times


def blend(
    networks: np.ndarray, statistical: dict[str, np.ndarray], record: dict[str, Any]
) -> np.ndarray:
    """An ``auto`` ensemble's point forecasts in original units: the networks' weighted mean
    times their share, plus each statistical member's forecast times its weight (``record``
    as metrics.json's ``auto.blend`` holds it)."""
    out = record["network_weight"] * np.asarray(networks, dtype="float64")
    for member in record["statistical"]:
        out = out + member["weight"] * statistical[member["name"]]
    return out


class BlendedPredictor(Predictor):
    """The predictor of an ``auto`` run that kept statistical members: the networks'
    forecasts blended with ETS, Theta or ARIMA fitted on each series' history before
    every forecast (the whole history, for the future)."""

    def __init__(
        self, model: Any, scaler: Scaler, window: Any, params: Any, record: dict[str, Any]
    ) -> None:
        super().__init__(model, scaler, window, params)
        self.record = record

    def _statistical(self, table: SeriesTable, owners: np.ndarray, ends: np.ndarray) -> dict:
        season = int(self.record["season_length"])
        return {
            m["name"]: classical.forecasts_after(
                m["name"], season, table, owners, ends, self.horizon
            )
            for m in self.record["statistical"]
        }

    def forecast(self, table: SeriesTable, starts: np.ndarray, where: str = "") -> Forecast:
        starts = np.asarray(starts, dtype=np.int64)
        networks = super().forecast(table, starts, where).point
        owners = windows.series_of(table.offsets, starts, self.width)
        statistical = self._statistical(table, owners, windows.origins(starts, self.width))
        return Forecast(blend(networks, statistical, self.record))

    def future(self, config: Any, table: SeriesTable, future_path: str | None = None) -> Any:
        networks, times = super().future(config, table, future_path)
        owners = np.arange(table.n_series)
        statistical = self._statistical(table, owners, table.offsets[1:])
        return Forecast(blend(networks.point, statistical, self.record)), times


def last_windows(
    config: Any, table: SeriesTable, future_path: str | None = None
) -> tuple[SeriesTable, np.ndarray, np.ndarray | None]:
    """The windows that forecast the future after every series of ``table``.

    Returns the table to gather them from (with the known-future rows of the horizon
    appended to each series when the run reads such columns), the start row of each
    series' last window in it, and the forecasts' timestamps (None without a time column).
    """
    width, horizon = config.window.input_width, config.window.horizon
    starts = windows.last_window_starts(table, width, config.window.observed)
    times = future_times(table, horizon) if table.times is not None else None
    if not table.n_future:
        return table, starts, times
    appended = with_future(table, future_covariates(config.data, table, times, future_path), times)
    # each series' horizon rows were appended after it, moving the later series down
    return appended, starts + np.arange(table.n_series) * horizon, times


def checked_forecasts(
    model: Any, prepared: PreparedData, config: Config, part: str
) -> Callable[[np.ndarray], Forecast]:
    """A function from window starts to the model's scaled forecasts of ``part``, which
    raises a RunError if a forecast is NaN or infinite."""
    predictor = Predictor(model, prepared.scaler, config.window, config.model.params)
    source = prepared.source()

    def forecast(starts: np.ndarray) -> Forecast:
        return predictor.scaled(source, starts, f" on the {part} split")

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
        # float error only: a tolerance in absolute terms would read 1e-7 as 0 decimals
        if np.all(np.abs(shifted - np.round(shifted)) <= 1e-9 * np.maximum(1.0, np.abs(shifted))):
            return digits
    return None


def written(forecast: np.ndarray, digits: int | None) -> np.ndarray:
    """Forecasts at the precision of the data: its decimals, or else 6 decimals and at
    least 7 significant digits (what float32, which the models compute in, holds), so that
    values of any magnitude keep their digits."""
    if digits is not None:
        return np.round(forecast, digits)
    values = np.ravel(np.asarray(forecast, dtype="float64"))
    magnitude = np.floor(np.log10(np.maximum(np.abs(values), 1e-300)))
    places = np.maximum(6, 6 - magnitude).astype(int)
    rounded = [
        round(v, int(p)) if np.isfinite(v) else v for v, p in zip(values, places, strict=True)
    ]
    return np.asarray(rounded).reshape(np.shape(forecast))


def _check_known_categories(
    table: SeriesTable, vocabularies: tuple[tuple[str, ...], ...], id_column: str | None
) -> None:
    """Refuse categories (series ids, static levels) the model's embeddings never trained on:
    their rows of the embedding are untrained, so their forecasts would be made up.

    Raises:
        DataError: naming the column and the first unknown values.
    """
    static = table.static
    if static is None or not static.categorical_names:
        return
    for i, (name, vocabulary) in enumerate(
        zip(static.categorical_names, vocabularies, strict=False)
    ):
        unknown = sorted({str(v) for v in static.categorical[:, i]} - set(vocabulary))
        if not unknown:
            continue
        shown = ", ".join(f"'{v}'" for v in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        what = "series ids" if name == id_column else f"values of column '{name}'"
        raise DataError(
            f"The input holds {len(unknown)} {what} the run never trained on ({shown}); "
            "their embedding rows are untrained, so they cannot be forecast. Train a run "
            "that includes them."
        )


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
    horizon, n_targets = config.window.horizon, table.n_targets
    predictor = Predictor.of_run(run)
    _check_known_categories(table, predictor.vocabularies, config.data.id_column)
    output, times = predictor.future(config, table, future_path)

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
            frame[name] = written(output.point[:, :, j].reshape(-1), digits)
            continue
        for k, column in enumerate(quantile_columns(name, output.levels)):
            frame[column] = written(output.quantiles[:, :, j, k].reshape(-1), digits)
    return pd.DataFrame(frame)
