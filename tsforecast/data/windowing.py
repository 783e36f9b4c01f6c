"""Chronological splits and lazy (input_width -> horizon) windows.

A window is identified by its start row ``s`` in the stacked series: inputs are rows
``[s, s + input_width)`` and targets rows ``[s + input_width, s + input_width + horizon)``.
Seq-to-seq models also get a target at input steps ``t``: rows ``s + t + 1 .. s + t + horizon``
(for the last step, the window's own targets).
Only these start indices are kept in memory; tf.data gathers each batch of windows from
the series array on the fly, like ``keras.utils.timeseries_dataset_from_array`` does for
one series, but over many series and split boundaries at once. Where memory allows, the
gathers read a blocked copy of the series (:class:`BlockedSeries`), a few times the
series' size rather than the windows' hundreds.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
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


#: What was made from the last series seen: (weak reference to it, {kind: what was made}).
_made: tuple[Any, dict] = (None, {})


def _once_per_series(values: np.ndarray, kind: Any, make: Callable[[], Any]) -> Any:
    """``make()``, made once for the datasets built from ``values``.

    Every dataset of a run (train, validation, each evaluation chunk) gathers from the same
    series; converting it for each would hold a copy of the whole series per dataset.
    """
    global _made
    ref, made = _made
    if ref is None or ref() is not values:
        made = {}
        _made = (weakref.ref(values), made)
    if kind not in made:
        made[kind] = make()
    return made[kind]


def series_tensor(values: np.ndarray) -> Any:
    """``values`` as a float32 tensor, converted once for the datasets built from it."""
    import tensorflow as tf

    return _once_per_series(
        values, "series", lambda: tf.convert_to_tensor(values, dtype=tf.float32)
    )


#: Rows per block that :class:`BlockedSeries` tries, largest first.
BLOCK_ROWS = (8, 4, 2)
#: The most memory, in bytes, that the blocked copies of one series may take.
BLOCKED_BYTES = 32 * 2**20


class BlockedSeries:
    """The series kept as ``block`` copies, shifted by 0 .. block - 1 rows and cut into
    blocks of ``block`` rows, so that a window is read as a few long runs of memory.

    A window's rows ``[s, s + k)``, with ``block`` dividing ``k``, are the ``k / block``
    consecutive blocks of copy ``s % block`` from block ``s // block``. Gathering them takes
    ``block`` times fewer indices than gathering the rows one by one, and the time of a
    gather goes with its indices, not with the bytes of a short row. The copies cost
    ``block`` times the series' memory.
    """

    def __init__(self, values: np.ndarray, block: int) -> None:
        import tensorflow as tf

        n_rows, n_cols = values.shape
        self.block, self.n_cols = block, n_cols
        self.n_blocks = -(-n_rows // block)
        # (block * n_blocks, block * n_cols): row shift * n_blocks + q holds the rows
        # shift + q * block .. shift + (q + 1) * block - 1. Each copy is written in place,
        # so making them takes no memory beyond the result; rows past the end stay zero
        # and no window reads them.
        blocks = np.zeros((block * self.n_blocks, block * n_cols), np.float32)
        for shift in range(block):
            rows = max(0, min(self.n_blocks * block, n_rows - shift))
            copy = blocks[shift * self.n_blocks : (shift + 1) * self.n_blocks].reshape(-1)
            copy[: rows * n_cols] = values[shift : shift + rows].reshape(-1)
        self.blocks = tf.convert_to_tensor(blocks)

    def reads(self, offset: int, length: int) -> bool:
        """Whether rows ``[s + offset, s + offset + length)`` can be read in blocks."""
        return offset % self.block == 0 and length % self.block == 0

    def first_blocks(self, starts: Any) -> Any:
        """The block holding each start row and the ``block - 1`` rows after it."""
        return (starts % self.block) * self.n_blocks + starts // self.block

    def gather(self, first: Any, offset: int, length: int) -> Any:
        """Rows ``[s + offset, s + offset + length)`` for every start ``s``, given its
        :meth:`first_blocks`: ``(batch,) -> (batch, length, n_cols)``."""
        import tensorflow as tf

        blocks = np.arange(offset // self.block, (offset + length) // self.block)
        index = first[:, None] + tf.constant(blocks, dtype=first.dtype)
        # (batch, length / block, block * n_cols) -> (batch, length, n_cols)
        return tf.reshape(tf.gather(self.blocks, index), [-1, length, self.n_cols])


def block_rows(values: np.ndarray, input_width: int) -> int:
    """Rows per block for windows of ``input_width`` rows of ``values``: the largest of
    :data:`BLOCK_ROWS` that divides the width and keeps the copies within
    :data:`BLOCKED_BYTES`, else 1 (rows are gathered one by one)."""
    series_bytes = values.shape[0] * values.shape[1] * 4
    for block in BLOCK_ROWS:
        if input_width % block == 0 and block * series_bytes <= BLOCKED_BYTES:
            return block
    return 1


def blocked_series(values: np.ndarray, block: int) -> BlockedSeries:
    """The :class:`BlockedSeries` of ``values``, made once for the datasets built from it."""
    return _once_per_series(values, ("blocked", block), lambda: BlockedSeries(values, block))


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

    width, horizon = window.input_width, window.horizon
    series = series_tensor(values)
    block = block_rows(values, width)
    blocked = blocked_series(values, block) if block > 1 else None
    # int32 row indices where they fit: tf.gather is faster with them
    index_type = tf.int32 if len(values) + block * block < 2**31 else tf.int64
    if target_steps is not None:
        # (n_steps, horizon): the horizon rows after each chosen input step
        steps = np.asarray(target_steps, dtype=np.int64)
        if steps.min() < 0 or steps.max() >= width:
            raise ValueError(f"target_steps must lie in [0, {width})")
        step_offsets = tf.constant(steps[:, None] + 1 + np.arange(horizon), dtype=index_type)

    def rows(source, batch_starts, offset, length):
        # (batch,) -> (batch, length, n_columns of source): rows one by one
        offsets = tf.constant(np.arange(offset, offset + length), dtype=index_type)
        return tf.gather(source, batch_starts[:, None] + offsets)

    # sliced once here: slicing inside gather() would copy the whole series every batch
    target_series = series if n_targets == series.shape[1] else series[:, :n_targets]
    targets_in_blocks = (
        blocked is not None
        and target_steps is None
        and n_targets == series.shape[1]
        and blocked.reads(width, horizon)
    )

    # no autograph: these functions have no tensor-dependent Python control flow, and
    # converting them costs more than half a second per run
    @tf.autograph.experimental.do_not_convert
    def gather(batch_starts):
        batch_starts = tf.cast(batch_starts, index_type)
        # (batch,) -> (batch, input_width, n_inputs)
        if blocked is not None:
            first = blocked.first_blocks(batch_starts)
            inputs = blocked.gather(first, 0, width)
        else:
            inputs = rows(series, batch_starts, 0, width)
        if not with_targets:
            return inputs
        # (batch,) -> (batch, horizon, n_targets), or (batch, n_steps, horizon, n_targets)
        if target_steps is not None:
            targets = tf.gather(target_series, batch_starts[:, None, None] + step_offsets)
        elif targets_in_blocks:
            targets = blocked.gather(first, width, horizon)
        else:
            targets = rows(target_series, batch_starts, width, horizon)
        return inputs, targets

    n_windows = len(starts)
    n_batches = batches_per_epoch(n_windows, batch_size)
    whole = n_windows // batch_size

    @tf.autograph.experimental.do_not_convert
    def batches(ordered):
        # (n_windows,) start rows -> batches of them, the short last one after the whole
        # ones, each gathered by one parallel map: no tf.data stage per window
        dataset = tf.data.Dataset.from_tensor_slices(
            tf.reshape(ordered[: whole * batch_size], [whole, batch_size])
        )
        if n_windows % batch_size:
            last = ordered[whole * batch_size :]
            dataset = dataset.concatenate(tf.data.Dataset.from_tensors(last))
        return dataset.map(gather, num_parallel_calls=tf.data.AUTOTUNE)

    if order is None:
        dataset = batches(tf.constant(np.asarray(starts, np.int64)))
    else:
        # each pass reads the order variable once, when it starts
        read = tf.autograph.experimental.do_not_convert(lambda _: order.variable.read_value())
        dataset = tf.data.Dataset.from_tensors(0).map(read)
        dataset = dataset.flat_map(batches)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(n_batches))
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
