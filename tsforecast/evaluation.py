"""Forecast metrics on the original and scaled scales, always beside the naive baseline."""

from __future__ import annotations

from typing import Any

import numpy as np

from tsforecast.data.dataset import PreparedData
from tsforecast.data.windowing import gather_targets, last_inputs
from tsforecast.models.heads import Forecast

#: Values with a smaller magnitude are left out of MAPE (it divides by them).
MAPE_EPSILON = 1e-8


def _mape(error: np.ndarray, actual: np.ndarray) -> float | None:
    usable = np.abs(actual) > MAPE_EPSILON
    if not usable.any():
        return None
    return float(100.0 * np.mean(np.abs(error[usable]) / np.abs(actual[usable])))


def _smape(forecast: np.ndarray, actual: np.ndarray) -> float | None:
    denominator = np.abs(actual) + np.abs(forecast)
    usable = denominator > MAPE_EPSILON
    if not usable.any():
        return None
    return float(100.0 * np.mean(2.0 * np.abs(forecast - actual)[usable] / denominator[usable]))


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
    step and target; MASE averages each target's MAE over its mean absolute one-step change
    on the train split; ``scaled_mse``/``scaled_mae`` are on the scaled data, as published
    tables report them.
    """
    error = forecast - actual
    scaled_error = scaled_forecast - scaled_actual
    mae_per_target = np.abs(error).mean(axis=(0, 1))
    mse_per_target = np.square(error).mean(axis=(0, 1))
    metrics: dict[str, Any] = {
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt(np.square(error).mean())),
        "mse": float(np.square(error).mean()),
        "mape": _mape(error, actual),
        "smape": _smape(forecast, actual),
        "mase": float(np.mean(mae_per_target / mase_scale)),
        "scaled_mse": float(np.square(scaled_error).mean()),
        "scaled_mae": float(np.abs(scaled_error).mean()),
        "mae_by_step": [float(v) for v in np.abs(error).mean(axis=(0, 2))],
    }
    if len(target_names) > 1:
        metrics["per_target"] = {
            name: {
                "mae": float(mae_per_target[i]),
                "rmse": float(np.sqrt(mse_per_target[i])),
                "mse": float(mse_per_target[i]),
                "mase": float(mae_per_target[i] / mase_scale[i]),
            }
            for i, name in enumerate(target_names)
        }
    return metrics


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
    lower, upper = quantiles[..., 0], quantiles[..., -1]
    error = scaled_actual[..., None] - scaled_quantiles
    q = np.asarray(levels)
    return {
        "levels": [float(v) for v in levels],
        "nominal_coverage": float(levels[-1] - levels[0]),
        "coverage": float(np.mean((actual >= lower) & (actual <= upper))),
        "mean_width": float(np.mean(upper - lower)),
        "pinball": float(np.mean(np.maximum(q * error, (q - 1.0) * error))),
        "crossing": float(np.mean(np.any(np.diff(quantiles, axis=-1) < 0, axis=-1))),
    }


def naive_forecast(scaled: np.ndarray, starts: np.ndarray, window: Any, n_targets: int):
    """Scaled last-value forecasts ``(n_windows, horizon, n_targets)`` of the given windows."""
    last = last_inputs(scaled, starts, window.input_width, n_targets)
    return np.repeat(last[:, None, :], window.horizon, axis=1)


def compare_with_naive(
    prepared: PreparedData, part: str, scaled_forecast: np.ndarray | Forecast, window: Any
) -> dict[str, Any]:
    """Model and naive metrics for one split, and whether the model beats the last value.

    Args:
        prepared: The prepared data.
        part: ``val`` or ``test``.
        scaled_forecast: Point forecasts ``(n_windows, horizon, n_targets)`` on the scaled
            data, or a Forecast whose quantiles, if any, add ``interval`` metrics.
        window: The window config.
    """
    quantiles = None
    if isinstance(scaled_forecast, Forecast):
        quantiles = scaled_forecast
        scaled_forecast = scaled_forecast.point
    table, scaler = prepared.table, prepared.scaler
    n_targets = table.n_targets
    targets = slice(0, n_targets)
    starts = prepared.starts[part]
    scaled_actual = gather_targets(prepared.scaled, starts, window, n_targets).astype("float64")
    actual = gather_targets(table.values, starts, window, n_targets)
    names = table.columns[:n_targets]
    naive_scaled = naive_forecast(prepared.scaled, starts, window, n_targets).astype("float64")

    def metrics_of(scaled_pred: np.ndarray) -> dict[str, Any]:
        original = scaler.inverse_transform(scaled_pred, targets)
        return point_metrics(
            actual, original, prepared.mase_scale, scaled_actual, scaled_pred, names
        )

    model = metrics_of(np.asarray(scaled_forecast, dtype="float64"))
    if quantiles is not None and quantiles.quantiles is not None:
        scaled_q = np.asarray(quantiles.quantiles, dtype="float64")
        # the scaler maps each column affinely, so it maps every level alike: move the level
        # axis in front of the targets to invert, then back
        original_q = np.moveaxis(
            scaler.inverse_transform(np.moveaxis(scaled_q, -1, -2), targets), -2, -1
        )
        model["interval"] = interval_metrics(
            actual, original_q, quantiles.levels, scaled_actual, scaled_q
        )
    naive = metrics_of(naive_scaled)
    return {
        "n_windows": len(starts),
        "model": model,
        "naive": naive,
        "skill_mse": (1.0 - model["mse"] / naive["mse"]) if naive["mse"] > 0 else None,
        "beats_naive": bool(model["mse"] < naive["mse"]),
    }
