"""tf.data pipelines of windows gathered lazily from the series.

Only window start rows are kept in memory; each batch of windows is gathered from the one
series tensor by the row offsets of :mod:`tsforecast.data.windows`, like
``keras.utils.timeseries_dataset_from_array`` does for one series, but over many series
and split boundaries at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tsforecast.data.windows import input_offsets, target_offsets


@dataclass(frozen=True)
class WindowSource:
    """What windows are gathered from.

    Attributes:
        values: ``(n_rows, n_columns)`` scaled float32 values (an array or a tensor): the
            ``n_past`` columns of the input window (targets first), then the known-future
            covariates.
        n_past: Columns of the input window.
        row_series: ``(n_rows,)`` the series of each row, where there are statics.
        static: ``(n_series, n_static)`` scaled numeric statics, or None.
        categories: ``(n_series, n_categories)`` category names, or None.
    """

    values: Any
    n_past: int
    row_series: Any = None
    static: Any = None
    categories: Any = None

    @property
    def covariates(self) -> bool:
        n_columns = self.values.shape[1]
        return n_columns > self.n_past or self.static is not None or self.categories is not None

    def tensors(self) -> WindowSource:
        """The same source held as tensors: convert once and hand it to every dataset of a
        run, so that they share it."""
        import tensorflow as tf

        def tensor(value: Any, dtype: Any) -> Any:
            return None if value is None else tf.convert_to_tensor(value, dtype=dtype)

        return WindowSource(
            tensor(self.values, tf.float32),
            self.n_past,
            tensor(self.row_series, tf.int32),
            tensor(self.static, tf.float32),
            tensor(self.categories, tf.string),
        )


def batches_per_epoch(n_windows: int, batch_size: int) -> int:
    """Batches in one pass over ``n_windows`` windows (the last one may be short)."""
    return -(-n_windows // batch_size)


def window_dataset(
    source: Any,
    starts: np.ndarray,
    width: int,
    batch_size: int,
    *,
    horizon: int = 0,
    n_targets: int = 0,
    target_steps: tuple[int, ...] | None = None,
    order: EpochOrder | None = None,
    with_targets: bool | None = None,
) -> Any:
    """A tf.data pipeline of ``(inputs, targets)`` batches, or of inputs alone.

    Inputs are the window ``(batch, width, n_past)``, or, where the source has covariates,
    a dict of it and the future covariates ``(batch, width + horizon, n_future)``, the
    statics ``(batch, n_static)`` and each category ``(batch, 1)`` (named as
    :mod:`tsforecast.models.covariates` names a model's inputs).

    Args:
        source: A :class:`WindowSource`, or the scaled values alone (no covariates).
        starts: Window start rows.
        width: Input steps per window.
        batch_size: Windows per batch.
        horizon: Steps ahead the model forecasts (targets, and future covariate rows).
        n_targets: Leading columns of the values that are targets.
        target_steps: Input steps that each get the next ``horizon`` rows as targets, for
            seq-to-seq models: targets are then ``(batch, len(target_steps), horizon,
            n_targets)``. None gives the window's targets, ``(batch, horizon, n_targets)``.
        order: The window order of the epoch being trained, for training datasets: each
            pass then reads the windows in the order this holds when it starts. None reads
            ``starts`` in order.
        with_targets: Yield targets too (default: when ``horizon`` is set).
    """
    import tensorflow as tf

    if not isinstance(source, WindowSource):
        source = WindowSource(source, int(np.shape(source)[1]))
    source = source.tensors() if not tf.is_tensor(source.values) else source
    with_targets = bool(horizon) if with_targets is None else with_targets
    series = source.values
    index_type = tf.int32 if series.shape[0] < 2**31 else tf.int64  # int32 gathers are faster
    at_inputs = tf.constant(input_offsets(width), dtype=index_type)
    n_columns, n_past = series.shape[1], source.n_past
    # sliced once here: slicing inside gather() would copy the series every batch
    past = series if n_past == n_columns else series[:, :n_past]
    if n_columns > n_past:
        future = series[:, n_past:]
        at_future = tf.constant(np.arange(width + horizon), dtype=index_type)
    if with_targets:
        at_targets = tf.constant(target_offsets(width, horizon, target_steps), dtype=index_type)
        target_series = series if n_targets == n_columns else series[:, :n_targets]

    # no autograph: nothing here depends on tensor values, and converting costs a second
    @tf.autograph.experimental.do_not_convert
    def gather(batch_starts):
        batch_starts = tf.cast(batch_starts, index_type)
        # (batch,) -> (batch, width, n_past)
        inputs = tf.gather(past, batch_starts[:, None] + at_inputs)
        if source.covariates:
            inputs = {"window": inputs}
            if n_columns > n_past:
                # (batch,) -> (batch, width + horizon, n_future)
                inputs["future"] = tf.gather(future, batch_starts[:, None] + at_future)
            if source.static is not None or source.categories is not None:
                owner = tf.gather(source.row_series, batch_starts)  # (batch,)
                if source.static is not None:
                    inputs["static"] = tf.gather(source.static, owner)
                if source.categories is not None:
                    categories = tf.gather(source.categories, owner)  # (batch, n_categories)
                    for i in range(source.categories.shape[1]):
                        inputs[f"category_{i}"] = categories[:, i : i + 1]
        if not with_targets:
            return inputs
        # (batch,) -> (batch, horizon, n_targets), or (batch, n_steps, horizon, n_targets)
        rows = tf.reshape(batch_starts, [-1] + [1] * len(at_targets.shape)) + at_targets
        return inputs, tf.gather(target_series, rows)

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
