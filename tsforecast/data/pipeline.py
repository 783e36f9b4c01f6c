"""Batches of windows gathered lazily from the series with NumPy.

Only window start rows are kept in memory; each batch of windows is gathered from the one
series array by the row offsets of :mod:`tsforecast.data.windows`, like
``keras.utils.timeseries_dataset_from_array`` does for one series, but over many series
and split boundaries at once. A :class:`WindowBatches` is a ``keras.utils.PyDataset``, so
``fit``, ``evaluate`` and ``predict`` read it on any Keras backend without TensorFlow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from tsforecast import engine
from tsforecast.data.windows import input_offsets, padded_rows, series_of, target_offsets


@dataclass(frozen=True)
class WindowSource:
    """What windows are gathered from.

    Attributes:
        values: ``(n_rows, n_columns)`` scaled float32 values: the ``n_past`` columns of
            the input window (targets first), then the known-future covariates.
        n_past: Columns of the input window.
        row_series: ``(n_rows,)`` the series of each row, where there are statics.
        static: ``(n_series, n_static)`` scaled numeric statics, or None.
        categories: ``(n_series, n_categories)`` int32 category indices (see
            :func:`tsforecast.models.covariates.encode_categories`), or None.
        offsets: ``(n_series + 1,)`` where each series starts, so that windows reaching
            before their series are padded with its first row; None for one series
            whose windows never do.
        target_statistics: ``(n_series, n_targets, n_statistics)`` read beside every
            target value of a window's series (for the scale-free losses), or None.
    """

    values: np.ndarray
    n_past: int
    row_series: np.ndarray | None = None
    static: np.ndarray | None = None
    categories: np.ndarray | None = None
    offsets: np.ndarray | None = None
    target_statistics: np.ndarray | None = None

    @property
    def covariates(self) -> bool:
        n_columns = self.values.shape[1]
        return n_columns > self.n_past or self.static is not None or self.categories is not None


def batches_per_epoch(n_windows: int, batch_size: int) -> int:
    """Batches in one pass over ``n_windows`` windows (the last one may be short)."""
    return -(-n_windows // batch_size)


def padded_size(n: int, batch_size: int) -> int:
    """The batch size a short batch of ``n`` windows is padded to when forecasting: the next
    power of two, at most ``batch_size``, so that a compiled predict step is reused across
    calls instead of being compiled again for every new number of windows."""
    return min(batch_size, 1 << max(0, int(n - 1).bit_length()))


@dataclass(frozen=True)
class Split:
    """How data-parallel training splits each batch: over ``replicas`` devices held by
    ``processes`` processes, of which this is number ``process``; each process reads its
    contiguous share of every batch."""

    replicas: int
    process: int = 0
    processes: int = 1

    def share(self, batch: np.ndarray) -> np.ndarray:
        size = len(batch) // self.processes
        return batch[self.process * size : (self.process + 1) * size]


class EpochOrder:
    """The order in which one epoch reads the training windows, shuffled by ``(seed, epoch)``.

    Every epoch's order depends on the seed and the epoch number alone, so training resumed
    at any epoch sees exactly the batches an uninterrupted run sees. :meth:`callback` sets
    it at the start of each epoch, before ``fit`` reads the epoch's first batch.

    Args:
        starts: Window start rows.
        shuffle: Shuffle them every epoch; else every epoch reads them in order.
        seed: Shuffle seed.
    """

    def __init__(self, starts: np.ndarray, shuffle: bool, seed: int | None) -> None:
        self.starts = np.asarray(starts, dtype=np.int64)
        self.shuffle = shuffle
        self.seed = 0 if seed is None else seed
        self.current = self.of_epoch(0)

    def of_epoch(self, epoch: int) -> np.ndarray:
        """The start rows in the order epoch ``epoch`` reads them."""
        if not self.shuffle:
            return self.starts
        return np.random.default_rng([self.seed, epoch]).permutation(self.starts)

    def set_epoch(self, epoch: int) -> None:
        self.current = self.of_epoch(epoch)

    def callback(self) -> Any:
        """A Keras callback that sets the order at the start of every epoch."""
        order = self

        class SetEpochOrder(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                order.set_epoch(epoch)

        return SetEpochOrder()


class WindowBatches(keras.utils.PyDataset):
    """``(inputs, targets)`` batches of windows, or inputs alone (see :func:`window_dataset`).

    Batches are gathered when Keras asks for them, in this process (no worker threads), so
    the order of an epoch is the one its :class:`EpochOrder` holds when the epoch starts.
    """

    def __init__(
        self,
        source: WindowSource,
        starts: np.ndarray,
        width: int,
        batch_size: int,
        horizon: int,
        n_targets: int,
        target_steps: tuple[int, ...] | None,
        order: EpochOrder | None,
        with_targets: bool,
        pad: bool,
        split: Split | None = None,
    ) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        engine.without_tensorflow()
        self.source = source
        self.starts = np.asarray(starts, dtype=np.int64)
        self.split = split
        self.n_batches = batches_per_epoch(len(self.starts), batch_size)
        if split is not None and len(self.starts) % batch_size < split.replicas:
            self.n_batches = len(self.starts) // batch_size  # a last batch too short to split
        self.batch_size = batch_size
        self.order = order
        self.with_targets = with_targets
        self.pad = pad
        self.horizon = horizon
        values = source.values
        self.width = width
        n_columns, n_past = values.shape[1], source.n_past
        self.at_inputs = input_offsets(width)
        # sliced once here, not for every batch
        self.past = values if n_past == n_columns else np.ascontiguousarray(values[:, :n_past])
        self.future = None
        if n_columns > n_past:
            self.future = np.ascontiguousarray(values[:, n_past:])
            self.at_future = np.arange(width + horizon, dtype=np.int64)
        if with_targets:
            self.at_targets = target_offsets(width, horizon, target_steps)
            self.target_values = (
                values if n_targets == n_columns else np.ascontiguousarray(values[:, :n_targets])
            )

    def __len__(self) -> int:
        return self.n_batches

    def __getitem__(self, index: int) -> Any:
        ordered = self.starts if self.order is None else self.order.current
        batch = ordered[index * self.batch_size : (index + 1) * self.batch_size]
        if self.split is not None:
            # the short last batch cut to a multiple of the replicas
            batch = self.split.share(
                batch[: len(batch) // self.split.replicas * self.split.replicas]
            )
        if self.pad and len(batch) < self.batch_size:
            # repeats of the last window, dropped again by the caller (see padded_size)
            size = padded_size(len(batch), self.batch_size)
            batch = np.concatenate([batch, np.repeat(batch[-1:], size - len(batch))])
        return self.gather(batch)

    def gather(self, batch: np.ndarray) -> Any:
        """The inputs (and targets) of the windows starting at rows ``batch``."""
        source = self.source

        def rows(offsets: np.ndarray) -> np.ndarray:
            return padded_rows(batch[:, None] + offsets, batch, self.width, source.offsets)

        # (batch,) -> (batch, width, n_past)
        inputs: Any = self.past[rows(self.at_inputs)]
        if source.covariates:
            inputs = {"window": inputs}
            if self.future is not None:
                # (batch,) -> (batch, width + horizon, n_future)
                inputs["future"] = self.future[rows(self.at_future)]
            if source.static is not None or source.categories is not None:
                owner = source.row_series[batch + self.width - 1]  # (batch,)
                if source.static is not None:
                    inputs["static"] = source.static[owner]
                if source.categories is not None:
                    categories = source.categories[owner]  # (batch, n_categories)
                    for i in range(categories.shape[1]):
                        inputs[f"category_{i}"] = categories[:, i : i + 1]
        if not self.with_targets:
            return inputs
        # (batch,) -> (batch, horizon, n_targets), or (batch, n_steps, horizon, n_targets)
        rows = batch.reshape(-1, *[1] * self.at_targets.ndim) + self.at_targets
        targets = self.target_values[rows]
        statistics = source.target_statistics
        if statistics is not None:
            # (batch, n_targets, n_statistics) -> (batch, ..., n_targets, 1 + n_statistics)
            owner = statistics[series_of(source.offsets, batch, self.width)]
            owner = owner.reshape(len(batch), *[1] * self.at_targets.ndim, *owner.shape[1:])
            shape = (*targets.shape, owner.shape[-1])
            targets = np.concatenate([targets[..., None], np.broadcast_to(owner, shape)], axis=-1)
        return inputs, targets


def window_dataset(
    source: WindowSource | np.ndarray,
    starts: np.ndarray,
    width: int,
    batch_size: int,
    *,
    horizon: int = 0,
    n_targets: int = 0,
    target_steps: tuple[int, ...] | None = None,
    order: EpochOrder | None = None,
    with_targets: bool | None = None,
    pad: bool = False,
    split: Split | None = None,
) -> WindowBatches:
    """Batches of ``(inputs, targets)``, or of inputs alone, as a Keras ``PyDataset``.

    Inputs are the window ``(batch, width, n_past)``, or, where the source has covariates,
    a dict of it and the future covariates ``(batch, width + horizon, n_future)``, the
    statics ``(batch, n_static)`` and each category's index ``(batch, 1)`` (named as
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
        pad: Pad a short last batch to :func:`padded_size` windows (for forecasting).
        split: For data-parallel training: batches are cut to split across the replicas,
            and this process reads only its share of each.
    """
    if not isinstance(source, WindowSource):
        source = WindowSource(np.asarray(source, dtype=np.float32), int(np.shape(source)[1]))
    with_targets = bool(horizon) if with_targets is None else with_targets
    return WindowBatches(
        source,
        starts,
        width,
        batch_size,
        horizon,
        n_targets,
        target_steps,
        order,
        with_targets,
        pad,
        split,
    )
