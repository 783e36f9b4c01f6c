"""Forecast metrics on the original and scaled scales, always beside the naive baseline,
and their aggregation over the folds of a backtest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tsforecast.data import windows
from tsforecast.data.prepared import PreparedData
from tsforecast.models.common import seasonal_lags
from tsforecast.models.heads import Forecast

#: Values with a smaller magnitude are left out of MAPE (it divides by them).
MAPE_EPSILON = 1e-8


#: Windows forecast at a time: metrics are running sums, so memory does not grow with
#: the number of windows.
CHUNK = 16384
#: Forecast values whose errors are summed at a time: each sum needs several temporary
#: arrays, and arrays this small (2 MB) stay in memory the process already has, where
#: large ones cost a page fault per page on every allocation.
SUM_VALUES = 2**18


class ErrorSums:
    """Running sums of one forecaster's errors, added chunk by chunk of windows.

    Args:
        horizon: Forecast steps.
        n_targets: Target columns.
        levels: Quantile levels, when quantile forecasts are added too.
        n_series: Series the windows come from (for MASE, scored per series).
    """

    def __init__(
        self, horizon: int, n_targets: int, levels: tuple[float, ...] = (), n_series: int = 1
    ) -> None:
        self.n_windows = 0
        self.abs = np.zeros((horizon, n_targets))
        self.abs_by_series = np.zeros((n_series, n_targets))
        self.windows_by_series = np.zeros(n_series)
        self.square = np.zeros((horizon, n_targets))
        self.scaled_abs = 0.0
        self.scaled_square = 0.0
        self.ape = self.sape = 0.0
        self.ape_count = self.sape_count = 0
        self.levels = levels
        self.covered = self.width = self.pinball = 0.0
        self.crossing = 0

    def add(
        self,
        actual: np.ndarray,
        forecast: np.ndarray,
        scaled_actual: np.ndarray,
        scaled_forecast: np.ndarray,
        series: np.ndarray | None = None,
    ) -> None:
        """Add ``(n_windows, horizon, n_targets)`` forecasts and their actual values, of the
        windows of ``series`` (``(n_windows,)``; default: all of series 0)."""
        error = forecast - actual
        abs_error = np.abs(error)
        self.n_windows += len(actual)
        self.abs += abs_error.sum(axis=0)
        series = np.zeros(len(actual), dtype=np.int64) if series is None else series
        np.add.at(self.abs_by_series, series, abs_error.sum(axis=1))
        np.add.at(self.windows_by_series, series, 1)
        self.square += np.square(error).sum(axis=0)
        scaled_error = scaled_forecast - scaled_actual
        self.scaled_abs += float(np.abs(scaled_error).sum())
        self.scaled_square += float(np.square(scaled_error).sum())
        # (s)APE where the denominator is usable; elsewhere 0, and not counted
        ratio = np.zeros_like(abs_error)
        abs_actual = np.abs(actual)
        usable = abs_actual > MAPE_EPSILON
        self.ape += float(np.divide(abs_error, abs_actual, out=ratio, where=usable).sum())
        self.ape_count += int(np.count_nonzero(usable))
        denominator = abs_actual + np.abs(forecast)
        usable = denominator > MAPE_EPSILON
        ratio[:] = 0.0
        self.sape += 2.0 * float(np.divide(abs_error, denominator, out=ratio, where=usable).sum())
        self.sape_count += int(np.count_nonzero(usable))

    def add_quantiles(
        self,
        actual: np.ndarray,
        quantiles: np.ndarray,
        scaled_actual: np.ndarray,
        scaled_quantiles: np.ndarray,
    ) -> None:
        """Add quantile forecasts ``(n_windows, horizon, n_targets, n_levels)``."""
        lower, upper = quantiles[..., 0], quantiles[..., -1]
        self.covered += float(((actual >= lower) & (actual <= upper)).sum())
        self.width += float((upper - lower).sum())
        error = scaled_actual[..., None] - scaled_quantiles
        q = np.asarray(self.levels)
        self.pinball += float(np.maximum(q * error, (q - 1.0) * error).sum())
        self.crossing += int(np.any(np.diff(quantiles, axis=-1) < 0, axis=-1).sum())

    def metrics(self, mase_scale: np.ndarray, target_names: tuple[str, ...]) -> dict[str, Any]:
        """The metrics of everything added, as :func:`point_metrics` describes them.

        Args:
            mase_scale: ``(n_series, n_targets)`` (or ``(n_targets,)`` for one series): each
                series' mean absolute one-step change on its training rows.
            target_names: The targets' names.
        """
        count = self.n_windows * self.abs.shape[0]  # values per target
        values = count * self.abs.shape[1]
        mae_per_target = self.abs.sum(axis=0) / count
        mse_per_target = self.square.sum(axis=0) / count
        mse = float(self.square.sum() / values)
        # MASE per series (its MAE over its own scale), then the mean over the series
        scored = self.windows_by_series > 0
        horizon = self.abs.shape[0]
        per_series = self.abs_by_series[scored] / (self.windows_by_series[scored, None] * horizon)
        mase_by_target = (per_series / np.atleast_2d(mase_scale)[scored]).mean(axis=0)
        metrics: dict[str, Any] = {
            "mae": float(self.abs.sum() / values),
            "rmse": float(np.sqrt(mse)),
            "mse": mse,
            "mape": 100.0 * self.ape / self.ape_count if self.ape_count else None,
            "smape": 100.0 * self.sape / self.sape_count if self.sape_count else None,
            "mase": float(np.mean(mase_by_target)),
            "scaled_mse": self.scaled_square / values,
            "scaled_mae": self.scaled_abs / values,
            "mae_by_step": [
                float(v) for v in self.abs.sum(axis=1) / (self.n_windows * self.abs.shape[1])
            ],
        }
        if len(target_names) > 1:
            metrics["per_target"] = {
                name: {
                    "mae": float(mae_per_target[i]),
                    "rmse": float(np.sqrt(mse_per_target[i])),
                    "mse": float(mse_per_target[i]),
                    "mase": float(mase_by_target[i]),
                }
                for i, name in enumerate(target_names)
            }
        return metrics

    def interval_metrics(self) -> dict[str, Any]:
        """How well the added quantile forecasts cover, as :func:`interval_metrics` says."""
        values = self.n_windows * self.abs.size
        return {
            "levels": [float(v) for v in self.levels],
            "nominal_coverage": float(self.levels[-1] - self.levels[0]),
            "coverage": self.covered / values,
            "mean_width": self.width / values,
            "pinball": self.pinball / (values * len(self.levels)),
            "crossing": self.crossing / values,
        }


def point_metrics(
    actual: np.ndarray,
    forecast: np.ndarray,
    mase_scale: np.ndarray,
    scaled_actual: np.ndarray,
    scaled_forecast: np.ndarray,
    target_names: tuple[str, ...],
) -> dict[str, Any]:
    """Metrics of ``(n_windows, horizon, n_targets)`` forecasts.

    MAE, RMSE, MSE, MAPE (%) and sMAPE (%) are on the original scale over every window,
    step and target (MAPE leaves out actual values of zero); MASE divides each series'
    and target's MAE by that series' mean absolute one-step change on its train rows and
    averages over series and targets, so it is scale-free across a panel;
    ``scaled_mse``/``scaled_mae`` are on the scaled data, as published tables report them.
    """
    sums = ErrorSums(actual.shape[1], actual.shape[2])
    sums.add(actual, forecast, scaled_actual, scaled_forecast)
    return sums.metrics(mase_scale, target_names)


def interval_metrics(
    actual: np.ndarray,
    quantiles: np.ndarray,
    levels: tuple[float, ...],
    scaled_actual: np.ndarray,
    scaled_quantiles: np.ndarray,
) -> dict[str, Any]:
    """How well quantile forecasts ``(n_windows, horizon, n_targets, n_levels)`` cover.

    ``coverage`` is the share of actual values between the lowest and highest quantile (to
    compare with ``nominal_coverage``); ``mean_width`` is that interval's mean width in
    original units; ``pinball`` is the mean pinball loss on the scaled data over every level;
    ``crossing`` is the share of forecasts whose quantiles are out of order.
    """
    sums = ErrorSums(actual.shape[1], actual.shape[2], tuple(levels))
    sums.add_quantiles(actual, quantiles, scaled_actual, scaled_quantiles)
    return sums.interval_metrics()


def naive_forecast(
    scaled: np.ndarray, starts: np.ndarray, width: int, horizon: int, n_targets: int
) -> np.ndarray:
    """Scaled last-value forecasts ``(n_windows, horizon, n_targets)`` of the given windows:
    what the ``naive`` model's :class:`~tsforecast.models.layers.LastValue` layer computes."""
    last = windows.last_inputs(scaled, starts, width, n_targets)
    return np.repeat(last[:, None, :], horizon, axis=1)


def season_length(frequency: str | None, given: int | None = None) -> int:
    """``given``, or the usual season of ``frequency``: a day of sub-daily steps, a week of
    days (5 business days), a year of weeks, months or quarters; 1 (no season) otherwise."""
    if given is not None:
        return given
    if frequency is None:
        return 1
    import pandas as pd

    offset = pd.tseries.frequencies.to_offset(frequency)
    if isinstance(offset, pd.tseries.offsets.Tick):
        day = pd.Timedelta(days=1).value
        if offset.nanos < day and day % offset.nanos == 0:
            return day // offset.nanos
        return {day: 7, 7 * day: 52}.get(offset.nanos, 1)
    kind = type(offset).__name__
    if kind == "Day":  # a calendar day, no longer a fixed-length step in recent pandas
        return {1: 7, 7: 52}.get(offset.n, 1)
    for names, season in (
        (("BusinessDay",), 5),
        (("Week",), 52),
        (("MonthBegin", "MonthEnd", "BusinessMonthBegin", "BusinessMonthEnd"), 12),
        (("QuarterBegin", "QuarterEnd"), 4),
    ):
        if kind in names:
            return season
    return 1


def seasonal_naive_forecast(
    prepared: PreparedData, starts: np.ndarray, width: int, horizon: int, season: int
) -> np.ndarray:
    """Scaled seasonal-naive forecasts ``(n_windows, horizon, n_targets)``: step ``h`` of a
    window repeats the value ``season - h % season`` steps before its origin (the rule of
    :func:`~tsforecast.models.common.seasonal_lags`, which the ``seasonal_naive`` model's
    layer follows too), read from its series' history, so the season may be longer than the
    input window (the last value where the series holds less than a season before it)."""
    table = prepared.table
    n_targets = table.n_targets
    origins = windows.origins(starts, width)
    first = table.offsets[windows.series_of(table.offsets, starts, width)]
    rows = origins[:, None] - seasonal_lags(horizon, season)  # (n_windows, horizon)
    rows = np.where((origins - season >= first)[:, None], rows, origins[:, None] - 1)
    return prepared.scaled[rows, :n_targets]


#: ``baseline(prepared, starts, width, horizon) -> scaled forecasts``.
Baseline = Callable[[PreparedData, np.ndarray, int, int], np.ndarray]


def default_baselines(season: int) -> dict[str, Baseline]:
    """The baselines every run is scored beside: naive and seasonal naive."""
    return {
        "naive": lambda p, s, w, h: naive_forecast(p.scaled, s, w, h, p.table.n_targets),
        "seasonal_naive": lambda p, s, w, h: seasonal_naive_forecast(p, s, w, h, season),
    }


def _slice(forecast: np.ndarray | Forecast, lo: int, hi: int) -> Forecast:
    if not isinstance(forecast, Forecast):
        return Forecast(np.asarray(forecast)[lo:hi])
    quantiles = None if forecast.quantiles is None else forecast.quantiles[lo:hi]
    return Forecast(forecast.point[lo:hi], quantiles, forecast.levels)


def _add_errors(
    prepared: PreparedData,
    some: np.ndarray,
    predicted: Forecast,
    width: int,
    sums: dict[str, ErrorSums],
    baselines: dict[str, Baseline],
) -> None:
    """Add the errors of the model's and the baselines' forecasts of the windows ``some``."""
    table = prepared.table
    n_targets, horizon = table.n_targets, predicted.point.shape[1]
    scaled_actual = windows.targets(prepared.scaled, some, width, horizon, n_targets)
    scaled_actual = scaled_actual.astype("float64")
    actual = windows.targets(table.values, some, width, horizon, n_targets)
    scaled_point = np.asarray(predicted.point, dtype="float64")
    series = windows.series_of(table.offsets, some, width)
    original = prepared.inverse(scaled_point, some)
    sums["model"].add(actual, original, scaled_actual, scaled_point, series)
    if predicted.quantiles is not None:
        scaled_q = np.asarray(predicted.quantiles, dtype="float64")
        # the scaler maps every level alike: move the level axis in front of the targets
        # to invert, then back
        original_q = np.moveaxis(prepared.inverse(np.moveaxis(scaled_q, -1, -2), some), -2, -1)
        sums["model"].add_quantiles(actual, original_q, scaled_actual, scaled_q)
    for name, baseline in baselines.items():
        scaled = np.asarray(baseline(prepared, some, width, horizon), dtype="float64")
        sums[name].add(actual, prepared.inverse(scaled, some), scaled_actual, scaled, series)


def compare_with_baselines(
    prepared: PreparedData,
    part: str,
    forecast: np.ndarray | Forecast | Callable[[np.ndarray], Forecast],
    width: int,
    horizon: int,
    baselines: dict[str, Baseline] | None = None,
    chunk: int = CHUNK,
) -> dict[str, Any]:
    """Model and baseline metrics for one split, and whether the model beats each.

    Windows are forecast ``chunk`` at a time and their errors summed in smaller chunks, so
    memory stays flat however many windows there are.

    Args:
        prepared: The prepared data.
        part: ``val`` or ``test``.
        forecast: Scaled forecasts of every window of ``part``: point forecasts
            ``(n_windows, horizon, n_targets)``, a Forecast (whose quantiles, if any, add
            ``interval`` metrics), or a function from window starts to a Forecast.
        width: Input steps of every window.
        horizon: Forecast steps of every window.
        baselines: Name -> baseline (default: naive only); ``naive`` must be among them.
        chunk: Windows per chunk.

    Returns:
        ``n_windows``; ``model`` and each baseline's metrics under its name; ``skill_mse``
        and ``beats_naive`` against naive; ``beats``: the model's MSE below each baseline's.
    """
    table = prepared.table
    n_targets = table.n_targets
    baselines = baselines if baselines is not None else default_baselines(1)
    starts = prepared.starts[part]
    sums: dict[str, ErrorSums] = {}
    step = max(1, SUM_VALUES // (horizon * n_targets))  # windows summed at a time
    for lo in range(0, len(starts), chunk):
        hi = min(lo + chunk, len(starts))
        chunk_forecast = forecast(starts[lo:hi]) if callable(forecast) else None
        for sub in range(lo, hi, step):
            end = min(sub + step, hi)
            if chunk_forecast is None:
                predicted = _slice(forecast, sub, end)
            else:
                predicted = _slice(chunk_forecast, sub - lo, end - lo)
            if not sums:
                n_series = table.n_series
                sums = {"model": ErrorSums(horizon, n_targets, predicted.levels, n_series)}
                sums.update(
                    {name: ErrorSums(horizon, n_targets, n_series=n_series) for name in baselines}
                )
            _add_errors(prepared, starts[sub:end], predicted, width, sums, baselines)
    names = table.columns[:n_targets]
    found = {who: total.metrics(prepared.mase_scale, names) for who, total in sums.items()}
    if sums["model"].levels:
        found["model"]["interval"] = sums["model"].interval_metrics()
    model, naive = found["model"], found["naive"]
    return {
        "n_windows": len(starts),
        **found,
        "skill_mse": (1.0 - model["mse"] / naive["mse"]) if naive["mse"] > 0 else None,
        "beats_naive": bool(model["mse"] < naive["mse"]),
        "beats": {name: bool(model["mse"] < found[name]["mse"]) for name in baselines},
    }


# ---------------------------------------------------------------------------------------------
# Backtests: metrics over folds

#: Point metrics of every forecaster, as metrics.json holds them.
POINT_METRICS = ("mae", "rmse", "mse", "mape", "smape", "mase", "scaled_mse", "scaled_mae")


def _mean_metrics(items: list[Any]) -> Any:
    """Mean over folds of numbers, lists of numbers and mappings of them (None skipped)."""
    first = items[0]
    if isinstance(first, dict):
        return {key: _mean_metrics([item[key] for item in items]) for key in first}
    if isinstance(first, list):
        return [float(v) for v in np.mean(np.asarray(items, dtype="float64"), axis=0)]
    numbers = [v for v in items if isinstance(v, int | float) and not isinstance(v, bool)]
    return float(np.mean(numbers)) if numbers else None


def _std_metrics(items: list[dict[str, Any]]) -> dict[str, float | None]:
    out = {}
    for name in POINT_METRICS:
        numbers = [item[name] for item in items if item.get(name) is not None]
        out[name] = float(np.std(numbers)) if numbers else None
    return out


def _root_of_mean_mse(metrics: dict[str, Any]) -> dict[str, Any]:
    """RMSE as the root of the mean MSE (a mean of roots would understate it)."""
    out = {**metrics, "rmse": float(np.sqrt(metrics["mse"]))}
    if "per_target" in metrics:
        out["per_target"] = {k: _root_of_mean_mse(v) for k, v in metrics["per_target"].items()}
    return out


def aggregate_folds(tests: list[dict[str, Any]]) -> dict[str, Any]:
    """The mean (and spread) over folds of the model's and the naive baseline's metrics.

    Args:
        tests: Each fold's test metrics, as :func:`compare_with_baselines` returns them.

    RMSE is the root of the mean MSE, so with equally many windows per fold MAE, MSE and
    RMSE equal the figures over all backtest windows together.
    """
    who = [
        name for name in tests[0] if isinstance(tests[0][name], dict) and "mse" in tests[0][name]
    ]
    found = {name: _root_of_mean_mse(_mean_metrics([t[name] for t in tests])) for name in who}
    model, naive = found["model"], found["naive"]
    return {
        "test": {
            "n_windows": int(sum(t["n_windows"] for t in tests)),
            **found,
            "skill_mse": (1.0 - model["mse"] / naive["mse"]) if naive["mse"] > 0 else None,
            "beats_naive": bool(model["mse"] < naive["mse"]),
            "beats": {name: bool(model["mse"] < found[name]["mse"]) for name in who[1:]},
            "folds_beating_naive": int(sum(t["beats_naive"] for t in tests)),
        },
        "std": {name: _std_metrics([t[name] for t in tests]) for name in who},
    }
