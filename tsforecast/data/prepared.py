"""From a data config to scaled series and the window starts of every split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tsforecast.config import Config
from tsforecast.data.loading import SeriesTable, load_table
from tsforecast.data.pipeline import WindowSource
from tsforecast.data.scaling import Scaler
from tsforecast.data.splits import PARTS, SplitBounds, split_bounds
from tsforecast.data.windows import series_of, window_starts
from tsforecast.errors import DataError
from tsforecast.models.covariates import encode_categories


@dataclass(frozen=True)
class PreparedData:
    """Everything training and evaluation read about the data.

    Attributes:
        table: The validated series in original units.
        bounds: Per-series split boundaries.
        scaler: Fitted on train rows only.
        scaled: ``(n_rows, n_inputs)`` float32 scaled series.
        starts: Window start rows for ``train``, ``val`` and ``test``.
        mase_scale: ``(n_series, n_targets)`` each series' mean absolute one-step change on
            its train rows (MASE's scale).
        width: Input steps of the windows at ``starts``.
    """

    table: SeriesTable
    bounds: SplitBounds
    scaler: Scaler
    scaled: np.ndarray
    starts: dict[str, np.ndarray]
    mase_scale: np.ndarray
    width: int

    def source(self) -> WindowSource:
        """What the datasets gather windows from: the scaled values and covariates, the
        categories looked up in the vocabularies of the training series."""
        return window_source(self.scaler, self.table, self.scaled, self.vocabularies())

    def vocabularies(self) -> tuple[tuple[str, ...], ...]:
        """Per categorical static column, the sorted names its training series hold."""
        if self.table.static is None:
            return ()
        seen = self.table.static.categorical[self.training_series()]
        return tuple(tuple(sorted({str(v) for v in column})) for column in seen.T)

    def periods(self) -> dict[str, dict[str, Any]]:
        """Per split: its first and last timestamps (as the data writes them; None without
        a time column), its rows and its windows, over every series."""
        table, out = self.table, {}
        for part in PARTS:
            spans = [self.bounds.part_range(part, table.offsets, i) for i in range(table.n_series)]
            spans = [(lo, hi) for lo, hi in spans if hi > lo]
            first = last = None
            if table.times is not None and spans:
                times = pd.DatetimeIndex(
                    [table.times[lo] for lo, _ in spans] + [table.times[hi - 1] for _, hi in spans]
                )
                ends = [times.min(), times.max()]
                first, last = (
                    table.time_style.write(pd.DatetimeIndex(ends)) if table.time_style else ends
                )
                first, last = str(first), str(last)
            out[part] = {
                "first": first,
                "last": last,
                "rows": int(sum(hi - lo for lo, hi in spans)),
                "windows": len(self.starts[part]),
            }
        return out

    def training_series(self) -> np.ndarray:
        """The series that have training rows."""
        return np.flatnonzero(self.bounds.train_end > self.table.offsets[:-1])

    def _series(self, starts: np.ndarray) -> np.ndarray | None:
        """Where the scaler's statistics of each window's series are (None: global)."""
        index = self.scaler.series_index(self.table.ids)
        if index is None:
            return None
        return index[series_of(self.table.offsets, starts, self.width)]

    def scale_targets(self, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Target forecasts ``(n_windows, ..., n_targets)`` in original units, scaled."""
        return self.scaler.scale_targets(values, self._series(starts))

    def inverse(self, scaled: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """Scaled target forecasts ``(n_windows, ..., n_targets)`` of the windows at
        ``starts``, in original units."""
        return self.scaler.inverse_targets(scaled, self._series(starts))


def _mase_scale(table: SeriesTable, bounds: SplitBounds) -> np.ndarray:
    """``(n_series, n_targets)``: each series' mean absolute one-step change on its train
    rows (MASE's scale); the pooled one for a series with none (held out whole)."""
    steps = [
        np.abs(np.diff(table.values[lo:hi, : table.n_targets], axis=0))
        for lo, hi in zip(table.offsets[:-1], bounds.train_end, strict=True)
    ]
    pooled = np.concatenate(steps).mean(axis=0)
    scales = np.stack([s.mean(axis=0) if len(s) else pooled for s in steps])
    scales = np.where(scales > 0, scales, np.where(pooled > 0, pooled, 1.0))
    return scales


def window_source(
    scaler: Scaler,
    table: SeriesTable,
    scaled: np.ndarray,
    vocabularies: tuple[tuple[str, ...], ...] = (),
) -> WindowSource:
    """The scaled values of ``table``, its scaled statics and its categories as indices into
    ``vocabularies`` (the model's), as windows are gathered from."""
    static = categories = row_series = None
    if table.static is not None:
        row_series = table.series_of_rows()
        if table.static.numeric_names:
            static = scaler.transform_static(table.static.numeric).astype(np.float32)
        if table.static.categorical_names:
            categories = encode_categories(table.static.categorical, vocabularies)
    return WindowSource(scaled, table.n_past, row_series, static, categories, table.offsets)


def describe_cell(table: SeriesTable, row: int, column: int) -> str:
    """A cell of the table for messages: its column, and its timestamp (as the data writes
    it) or position in its series."""
    i = int(np.searchsorted(table.offsets, row, side="right")) - 1
    name = f"series '{table.ids[i]}'" if table.ids is not None else "the series"
    if table.times is not None and table.time_style is not None:
        when = table.time_style.write(pd.DatetimeIndex(table.times[row : row + 1]))[0]
        return f"column '{table.columns[column]}' at {when} in {name}"
    return f"column '{table.columns[column]}' at row {row - table.offsets[i] + 1} of {name}"


def scale_values(scaler: Scaler, table: SeriesTable) -> np.ndarray:
    """The table's values transformed and scaled, as the float32 the models compute in.

    Raises:
        DataError: naming the column and value of one that is not finite in float32, e.g.
            one far outside the train range, or of a series the scaler has no statistics of.
    """
    index = scaler.series_index(table.ids)
    rows = None if index is None else index[table.series_of_rows()]
    scaled = scaler.transform(table.values, rows)
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


def fit_scaler(config: Config, table: SeriesTable, bounds: SplitBounds) -> Scaler:
    """The scaler of ``config`` fitted on the training rows (and series) of ``table``.

    Raises:
        DataError: naming the first target value a transform cannot take.
    """
    data = config.data
    scaler = Scaler(data.scaler, data.scaler_scope, data.transform, table.n_targets)
    scaler.check_transformable(
        table.values[:, : table.n_targets], lambda row, col: describe_cell(table, row, col)
    )
    train_rows = bounds.train_mask(len(table.values), table.offsets)
    training_series = np.flatnonzero(bounds.train_end > table.offsets[:-1])
    static = None
    if table.static is not None:
        static = table.static.numeric[training_series]
    return scaler.fit(
        table.values[train_rows],
        table.series_of_rows()[train_rows],
        table.ids or ("0",),
        static,
    )


def prepare_data(config: Config, table: SeriesTable | None = None) -> PreparedData:
    """Load, split and scale the configured data; fit nothing outside the train split."""
    table = table if table is not None else load_table(config.data)
    window = config.window
    bounds = split_bounds(
        table, config.data.split, window.input_width, window.horizon, window.min_inputs
    )
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
    scaler = scaler if scaler is not None else fit_scaler(config, table, bounds)
    window = config.window
    width, horizon = window.input_width, window.horizon
    return PreparedData(
        table=table,
        bounds=bounds,
        scaler=scaler,
        scaled=scale_values(scaler, table),
        starts={
            p: window_starts(table.offsets, bounds, width, horizon, p, window.observed)
            for p in PARTS
        },
        mase_scale=_mase_scale(table, bounds),
        width=width,
    )
