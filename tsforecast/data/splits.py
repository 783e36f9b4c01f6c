"""Chronological train / validation / test splits of every series, or of whole series."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsforecast.config import SplitConfig
from tsforecast.data.loading import SeriesTable
from tsforecast.errors import DataError

PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitBounds:
    """Per-series row boundaries: train ``[offset, train_end)``, val ``[train_end, val_end)``,
    test ``[val_end, next offset)``."""

    train_end: np.ndarray
    val_end: np.ndarray

    def train_mask(self, n_rows: int, offsets: np.ndarray) -> np.ndarray:
        """Boolean mask of the train rows of every series."""
        mask = np.zeros(n_rows, dtype=bool)
        for lo, hi in zip(offsets[:-1], self.train_end, strict=True):
            mask[lo:hi] = True
        return mask

    def part_range(self, part: str, offsets: np.ndarray, i: int) -> tuple[int, int]:
        """Rows ``[lo, hi)`` of ``part`` in series ``i``."""
        return {
            "train": (int(offsets[i]), int(self.train_end[i])),
            "val": (int(self.train_end[i]), int(self.val_end[i])),
            "test": (int(self.val_end[i]), int(offsets[i + 1])),
        }[part]


def subject(table: SeriesTable, i: int) -> str:
    """``Series 'a'`` in a table of many series, else ``The series``."""
    return f"Series {table.series_name(i)}" if table.ids is not None else "The series"


def share_rows(share: float | int, n: int) -> int:
    """Rows (or series) a split share stands for: a fraction of ``n`` rounded half to even
    (Python's ``round``), or a count as given."""
    return round(share * n) if isinstance(share, float) else int(share)


def split_bounds(
    table: SeriesTable,
    split: SplitConfig,
    width: int,
    horizon: int,
    min_inputs: int | None = None,
) -> SplitBounds:
    """Split each series chronologically, or whole series with ``split.by: series``.

    Validation and test windows may read the preceding rows as input, but their targets
    lie wholly inside their split. Every split must be able to hold a window of
    ``width`` input steps and ``horizon`` targets; with ``min_inputs`` (windows padded on
    the left), a series needs only ``min_inputs`` rows before its validation split and
    contributes the training windows it can.
    """
    if split.by == "series":
        return _series_bounds(table, split, (min_inputs or width) + horizon, min_inputs)
    train_end, val_end = [], []
    need = width + horizon if min_inputs is None else min_inputs
    for i in range(table.n_series):
        lo, hi = int(table.offsets[i]), int(table.offsets[i + 1])
        n = hi - lo
        n_val, n_test = share_rows(split.val, n), share_rows(split.test, n)
        n_train = n - n_val - n_test
        name = subject(table, i)
        if n_train < need:
            what = (
                f"window.input_width + window.horizon ({need}). Use a shorter window, "
                "window.min_inputs (to pad short series),"
                if min_inputs is None
                else f"window.min_inputs ({need}). Use a smaller window.min_inputs,"
            )
            raise DataError(
                f"{name} has {n} rows; its train split ({n_train} rows) is shorter than "
                f"{what} smaller data.split shares or a longer series."
            )
        for part, size in (("validation", n_val), ("test", n_test)):
            if size < horizon:
                raise DataError(
                    f"{name} has {n} rows; its {part} split ({size} rows) is shorter "
                    f"than window.horizon ({horizon})."
                )
        train_end.append(lo + n_train)
        val_end.append(lo + n_train + n_val)
    return SplitBounds(np.asarray(train_end, np.int64), np.asarray(val_end, np.int64))


def _series_bounds(
    table: SeriesTable, split: SplitConfig, need: int, min_inputs: int | None
) -> SplitBounds:
    """Whole series per split, in table order: train first, then validation, then test.

    A train series is all train rows (``train_end = val_end = end``), a validation series
    all validation rows (``train_end = start, val_end = end``), a test series all test rows.
    """
    n = table.n_series
    n_val, n_test = share_rows(split.val, n), share_rows(split.test, n)
    n_train = n - n_val - n_test
    for part, size in (("train", n_train), ("validation", n_val), ("test", n_test)):
        if size < 1:
            raise DataError(
                f"The data has {n} series; data.split (by series, val {split.val}, "
                f"test {split.test}) leaves {max(size, 0)} for {part}. Each split needs at "
                "least one series."
            )
    lengths = np.diff(table.offsets)
    short = np.flatnonzero(lengths < need)
    if short.size:
        i = int(short[0])
        window = "window.input_width" if min_inputs is None else "window.min_inputs"
        raise DataError(
            f"{subject(table, i)} has {int(lengths[i])} rows, fewer than "
            f"{window} + window.horizon ({need}); with data.split.by: series every "
            "series must hold a whole window."
        )
    starts, ends = table.offsets[:-1], table.offsets[1:]
    part = np.repeat([0, 1, 2], [n_train, n_val, n_test])
    train_end = np.where(part == 0, ends, starts)
    val_end = np.where(part == 2, starts, ends)
    return SplitBounds(train_end.astype(np.int64), val_end.astype(np.int64))


def truncated(
    table: SeriesTable, ends: np.ndarray, train_end: np.ndarray, val_end: np.ndarray
) -> tuple[SeriesTable, SplitBounds]:
    """Every series cut at row ``ends[i]`` (absolute rows), and the split with train and
    validation ending at ``train_end`` and ``val_end`` in the cut table's rows: nothing
    after ``ends`` is there to be read."""
    import dataclasses

    starts = table.offsets[:-1]
    keep = np.concatenate([np.arange(lo, end) for lo, end in zip(starts, ends, strict=True)])
    offsets = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
    cut = dataclasses.replace(
        table,
        values=table.values[keep],
        offsets=offsets,
        times=None if table.times is None else table.times[keep],
    )
    shift = offsets[:-1] - starts
    return cut, SplitBounds(train_end + shift, val_end + shift)
