"""tf.data pipelines of windows gathered lazily from the series.

Only window start rows are kept in memory; each batch of windows is gathered from the one
series tensor by the row offsets of :mod:`tsforecast.data.windows`, like
``keras.utils.timeseries_dataset_from_array`` does for one series, but over many series
and split boundaries at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsforecast.data.windows import input_offsets, target_offsets


def batches_per_epoch(n_windows: int, batch_size: int) -> int:
    """Batches in one pass over ``n_windows`` windows (the last one may be short)."""
    return -(-n_windows // batch_size)


def series_tensor(values: np.ndarray) -> Any:
    """``(n_rows, n_columns)`` values as the float32 tensor the datasets gather from.

    Convert once and pass the tensor to every dataset of a run, so that they share it.
    """
    import tensorflow as tf

    return tf.convert_to_tensor(values, dtype=tf.float32)


def window_dataset(
    series: Any,
    starts: np.ndarray,
    width: int,
    batch_size: int,
    *,
    horizon: int = 0,
    n_targets: int = 0,
    target_steps: tuple[int, ...] | None = None,
    order: EpochOrder | None = None,
) -> Any:
    """A tf.data pipeline of ``(inputs, targets)`` batches, or of inputs alone.

    Args:
        series: ``(n_rows, n_inputs)`` scaled float32 series (a tensor from
            :func:`series_tensor`, or an array), targets in the first columns.
        starts: Window start rows.
        width: Input steps per window.
        batch_size: Windows per batch.
        horizon: Target steps per window; 0 yields inputs only (for prediction).
        n_targets: Leading columns of ``series`` that are targets.
        target_steps: Input steps that each get the next ``horizon`` rows as targets, for
            seq-to-seq models: targets are then ``(batch, len(target_steps), horizon,
            n_targets)``. None gives the window's targets, ``(batch, horizon, n_targets)``.
        order: The window order of the epoch being trained, for training datasets: each
            pass then reads the windows in the order this holds when it starts. None reads
            ``starts`` in order.
    """
    import tensorflow as tf

    series = tf.convert_to_tensor(series, dtype=tf.float32)
    index_type = tf.int32 if series.shape[0] < 2**31 else tf.int64  # int32 gathers are faster
    at_inputs = tf.constant(input_offsets(width), dtype=index_type)
    if horizon:
        at_targets = tf.constant(target_offsets(width, horizon, target_steps), dtype=index_type)
        # sliced once here: slicing inside gather() would copy the series every batch
        target_series = series if n_targets == series.shape[1] else series[:, :n_targets]

    # no autograph: nothing here depends on tensor values, and converting costs a second
    @tf.autograph.experimental.do_not_convert
    def gather(batch_starts):
        batch_starts = tf.cast(batch_starts, index_type)
        # (batch,) -> (batch, width, n_inputs)
        window = tf.gather(series, batch_starts[:, None] + at_inputs)
        if not horizon:
            return window
        # (batch,) -> (batch, horizon, n_targets), or (batch, n_steps, horizon, n_targets)
        rows = tf.reshape(batch_starts, [-1] + [1] * len(at_targets.shape)) + at_targets
        return window, tf.gather(target_series, rows)

    n_windows = len(starts)
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
        dataset = tf.data.Dataset.from_tensors(0).map(read).flat_map(batches)
        cardinality = batches_per_epoch(n_windows, batch_size)
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(cardinality))
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
