"""Chronological splits and lazy (input_width -> horizon) windows.

A window is identified by its start row ``s`` in the stacked series: inputs are rows
``[s, s + input_width)`` and targets rows ``[s + input_width, s + input_width + horizon)``.
Seq-to-seq models also get a target at input steps ``t``: rows ``s + t + 1 .. s + t + horizon``
(for the last step, the window's own targets).
Only these start indices are kept in memory; tf.data gathers each batch of windows from
the series array on the fly, like ``keras.utils.timeseries_dataset_from_array`` does for
one series, but over many series and split boundaries at once.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from tsforecast.config import SplitConfig, WindowConfig
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


def _subject(table: SeriesTable, i: int) -> str:
    """``Series 'a'`` in a table of many series, else ``The series``."""
    return f"Series {table.series_name(i)}" if table.ids is not None else "The series"


def _rows(share: float | int, n: int) -> int:
    return round(share * n) if isinstance(share, float) else int(share)


def split_bounds(table: SeriesTable, split: SplitConfig, window: WindowConfig) -> SplitBounds:
    """Split each series chronologically, or whole series with ``split.by: series``.

    Validation and test windows may read the preceding rows as input, but their targets
    lie wholly inside their split. Every split must be able to hold a window.
    """
    if split.by == "series":
        return _series_bounds(table, split, window)
    width, horizon = window.input_width, window.horizon
    train_end, val_end = [], []
    for i in range(table.n_series):
        lo, hi = int(table.offsets[i]), int(table.offsets[i + 1])
        n = hi - lo
        n_val, n_test = _rows(split.val, n), _rows(split.test, n)
        n_train = n - n_val - n_test
        name = _subject(table, i)
        need = width + horizon
        if n_train < need:
            raise DataError(
                f"{name} has {n} rows; its train split ({n_train} rows) is shorter than "
                f"window.input_width + window.horizon ({need}). Use a shorter window, "
                "smaller data.split shares or a longer series."
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


def _series_bounds(table: SeriesTable, split: SplitConfig, window: WindowConfig) -> SplitBounds:
    """Whole series per split, in table order: train first, then validation, then test.

    A train series is all train rows (``train_end = val_end = end``), a validation series
    all validation rows (``train_end = start, val_end = end``), a test series all test rows.
    """
    n = table.n_series
    n_val, n_test = _rows(split.val, n), _rows(split.test, n)
    n_train = n - n_val - n_test
    for part, size in (("train", n_train), ("validation", n_val), ("test", n_test)):
        if size < 1:
            raise DataError(
                f"The data has {n} series; data.split (by series, val {split.val}, "
                f"test {split.test}) leaves {max(size, 0)} for {part}. Each split needs at "
                "least one series."
            )
    need = window.input_width + window.horizon
    lengths = np.diff(table.offsets)
    short = np.flatnonzero(lengths < need)
    if short.size:
        i = int(short[0])
        raise DataError(
            f"Series {table.series_name(i)} has {int(lengths[i])} rows, fewer than "
            f"window.input_width + window.horizon ({need}); with data.split.by: series every "
            "series must hold a whole window."
        )
    starts, ends = table.offsets[:-1], table.offsets[1:]
    part = np.repeat([0, 1, 2], [n_train, n_val, n_test])
    train_end = np.where(part == 0, ends, starts)
    val_end = np.where(part == 2, starts, ends)
    return SplitBounds(train_end.astype(np.int64), val_end.astype(np.int64))


def window_starts(
    table: SeriesTable, bounds: SplitBounds, window: WindowConfig, part: str
) -> np.ndarray:
    """Start rows of every window whose targets lie wholly inside ``part`` of each series."""
    width, horizon = window.input_width, window.horizon
    chunks = []
    for i in range(table.n_series):
        lo, hi = int(table.offsets[i]), int(table.offsets[i + 1])
        first_target, end = {
            "train": (lo + width, int(bounds.train_end[i])),
            "val": (int(bounds.train_end[i]), int(bounds.val_end[i])),
            "test": (int(bounds.val_end[i]), hi),
        }[part]
        first_target = max(first_target, lo + width)
        chunks.append(np.arange(first_target - width, end - horizon - width + 1, dtype=np.int64))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.int64)


def last_window_starts(table: SeriesTable, width: int) -> np.ndarray:
    """Start row of the last full input window of each series (for forecasting the future)."""
    lengths = np.diff(table.offsets)
    short = np.flatnonzero(lengths < width)
    if short.size:
        name = _subject(table, int(short[0]))
        raise DataError(
            f"{name} has {int(lengths[short[0]])} rows; forecasting needs the last "
            f"window.input_width ({width}) rows."
        )
    return (table.offsets[1:] - width).astype(np.int64)


#: The last series converted by :func:`series_tensor`: (weak reference to it, its tensor).
_converted: tuple[Any, Any] = (None, None)


def series_tensor(values: np.ndarray) -> Any:
    """``values`` as a float32 tensor, converted once for the datasets built from it.

    Every dataset of a run (train, validation, each evaluation chunk) gathers from the same
    series; converting it for each would hold a copy of the whole series per dataset.
    """
    global _converted
    import tensorflow as tf

    ref, tensor = _converted
    if ref is not None and ref() is values:
        return tensor
    tensor = tf.convert_to_tensor(values, dtype=tf.float32)
    _converted = (weakref.ref(values), tensor)
    return tensor


def window_dataset(
    values: np.ndarray,
    starts: np.ndarray,
    window: WindowConfig,
    n_targets: int,
    batch_size: int,
    *,
    with_targets: bool = True,
    target_steps: tuple[int, ...] | None = None,
    order: EpochOrder | None = None,
):
    """A tf.data pipeline of ``(inputs, targets)`` batches gathered lazily from ``values``.

    Args:
        values: ``(n_rows, n_inputs)`` scaled float32 series, targets in the first columns.
        starts: Window start rows.
        window: Input width and horizon.
        n_targets: Leading columns of ``values`` that are targets.
        batch_size: Windows per batch.
        with_targets: Yield only inputs when False (for prediction).
        target_steps: Input steps that each get the next ``horizon`` rows as targets, for
            seq-to-seq models: targets are then ``(batch, len(target_steps), horizon,
            n_targets)``. None gives the window's targets, ``(batch, horizon, n_targets)``.
        order: The window order of the epoch being trained, for training datasets: each
            pass then reads the windows in the order this holds when it starts. None reads
            ``starts`` in order.
    """
    import tensorflow as tf

    series = series_tensor(values)
    # int32 row indices where they fit: tf.gather is faster with them
    index_type = tf.int32 if len(values) < 2**31 else tf.int64
    input_offsets = tf.range(window.input_width, dtype=index_type)
    if target_steps is None:
        # (horizon,): rows after the window
        target_offsets = tf.range(
            window.input_width, window.input_width + window.horizon, dtype=index_type
        )
    else:
        # (n_steps, horizon): the horizon rows after each chosen input step
        steps = np.asarray(target_steps, dtype=np.int64)
        if steps.min() < 0 or steps.max() >= window.input_width:
            raise ValueError(f"target_steps must lie in [0, {window.input_width})")
        offsets = steps[:, None] + 1 + np.arange(window.horizon)
        target_offsets = tf.constant(offsets, dtype=index_type)

    # sliced once here: slicing inside gather() would copy the whole series every batch
    target_series = series if n_targets == series.shape[1] else series[:, :n_targets]

    def gather(batch_starts):
        batch_starts = tf.cast(batch_starts, index_type)
        # (batch,) -> (batch, input_width, n_inputs)
        inputs = tf.gather(series, batch_starts[:, None] + input_offsets)
        if not with_targets:
            return inputs
        # (batch,) -> (batch, horizon, n_targets), or (batch, n_steps, horizon, n_targets)
        index = tf.reshape(batch_starts, [-1] + [1] * len(target_offsets.shape)) + target_offsets
        targets = tf.gather(target_series, index)
        return inputs, targets

    n_windows = len(starts)
    # batch i is a slice of the start rows (of the order variable, read when the batch is
    # made), gathered in the same map: one tf.data stage per batch, none per window
    rows = order.variable if order is not None else tf.constant(np.asarray(starts, np.int64))

    def batch(i):
        lo = i * batch_size
        return gather(rows[lo : tf.minimum(lo + batch_size, n_windows)])

    dataset = tf.data.Dataset.range(batches_per_epoch(n_windows, batch_size))
    dataset = dataset.map(batch, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


class EpochOrder:
    """The order in which one epoch reads the training windows, shuffled by ``(seed, epoch)``.

    Every epoch's order depends on the seed and the epoch number alone, so training resumed
    at any epoch sees exactly the batches an uninterrupted run sees. It lives in a
    ``tf.Variable`` that :func:`window_dataset` slices batches from; :meth:`callback` sets
    it at the start of each epoch, before ``fit`` starts its pass over the dataset.

    Args:
        starts: Window start rows.
        shuffle: Shuffle them every epoch; else every epoch reads them in order.
        seed: Shuffle seed.
    """

    def __init__(self, starts: np.ndarray, shuffle: bool, seed: int | None) -> None:
        import tensorflow as tf

        self.starts = tf.constant(np.asarray(starts, dtype=np.int64))
        self.shuffle = shuffle
        self.seed = 0 if seed is None else seed
        self.variable = tf.Variable(self.of_epoch(0), trainable=False)

    def of_epoch(self, epoch: int) -> Any:
        """The start rows in the order epoch ``epoch`` reads them."""
        import tensorflow as tf

        if not self.shuffle:
            return self.starts
        seed = tf.constant([self.seed, epoch], dtype=tf.int64)
        return tf.random.experimental.stateless_shuffle(self.starts, seed=seed)

    def set_epoch(self, epoch: int) -> None:
        self.variable.assign(self.of_epoch(epoch))

    def callback(self) -> Any:
        """A Keras callback that sets the order at the start of every epoch."""
        import keras

        order = self

        class SetEpochOrder(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                order.set_epoch(epoch)

        return SetEpochOrder()


def batches_per_epoch(n_windows: int, batch_size: int) -> int:
    """Batches in one pass over ``n_windows`` windows (the last one may be short)."""
    return -(-n_windows // batch_size)


def gather_targets(values: np.ndarray, starts: np.ndarray, window: WindowConfig, n_targets: int):
    """``(n_windows, horizon, n_targets)`` targets of the given windows, as numpy."""
    index = starts[:, None] + window.input_width + np.arange(window.horizon)
    return values[index, :n_targets]


def last_inputs(values: np.ndarray, starts: np.ndarray, width: int, n_targets: int) -> np.ndarray:
    """``(n_windows, n_targets)`` last observed target value of each window."""
    return values[starts + width - 1, :n_targets]
