"""From a data config to scaled series and the window starts of every split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsforecast.config import Config
from tsforecast.data.loading import SeriesTable, load_table
from tsforecast.data.scaling import Scaler
from tsforecast.data.splits import PARTS, SplitBounds, split_bounds
from tsforecast.data.windows import window_starts
from tsforecast.errors import DataError


@dataclass(frozen=True)
class PreparedData:
    """Everything training and evaluation read about the data.

    Attributes:
        table: The validated series in original units.
        bounds: Per-series split boundaries.
        scaler: Fitted on train rows only.
        scaled: ``(n_rows, n_inputs)`` float32 scaled series.
        starts: Window start rows for ``train``, ``val`` and ``test``.
        mase_scale: Per-target mean absolute one-step change on train rows (MASE's scale).
    """

    table: SeriesTable
    bounds: SplitBounds
    scaler: Scaler
    scaled: np.ndarray
    starts: dict[str, np.ndarray]
    mase_scale: np.ndarray


def _mase_scale(table: SeriesTable, bounds: SplitBounds) -> np.ndarray:
    steps = []
    for lo, hi in zip(table.offsets[:-1], bounds.train_end, strict=True):
        steps.append(np.abs(np.diff(table.values[lo:hi, : table.n_targets], axis=0)))
    scale = np.concatenate(steps).mean(axis=0)
    return np.where(scale > 0, scale, 1.0)


def scale_values(scaler: Scaler, table: SeriesTable) -> np.ndarray:
    """The table's values scaled, as the float32 the models compute in.

    Raises:
        DataError: naming the column and value of one that is not finite in float32, e.g.
            one far outside the train range.
    """
    scaled = scaler.transform(table.values)
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = np.asarray(scaled, dtype=np.float64).astype(np.float32)
    bad = ~np.isfinite(scaled)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"Column '{table.columns[col]}' holds {table.values[row, col]:g}, too far outside "
            "the range of its train split to scale in float32; rescale the data."
        )
    return scaled


def prepare_data(config: Config, table: SeriesTable | None = None) -> PreparedData:
    """Load, split and scale the configured data; fit nothing outside the train split."""
    table = table if table is not None else load_table(config.data)
    window = config.window
    bounds = split_bounds(table, config.data.split, window.input_width, window.horizon)
    return prepare_split(config, table, bounds)


def prepare_split(
    config: Config, table: SeriesTable, bounds: SplitBounds, scaler: Scaler | None = None
) -> PreparedData:
    """Scale ``table`` and find the windows of each part of the given split.

    Args:
        config: The config (its window and scaler kind).
        table: The series.
        bounds: Where train, validation and test begin in each series.
        scaler: A scaler fitted earlier; when None, one is fitted on the train rows.
    """
    if scaler is None:
        train_rows = bounds.train_mask(len(table.values), table.offsets)
        scaler = Scaler(config.data.scaler).fit(table.values[train_rows])
    width, horizon = config.window.input_width, config.window.horizon
    return PreparedData(
        table=table,
        bounds=bounds,
        scaler=scaler,
        scaled=scale_values(scaler, table),
        starts={p: window_starts(table.offsets, bounds, width, horizon, p) for p in PARTS},
        mase_scale=_mase_scale(table, bounds),
    )
