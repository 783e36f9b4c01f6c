"""Building, compiling and fitting a model: the one place ``fit`` is called.

``train``, ``backtest``, ``tune`` and ``bench`` all fit through :func:`fit`, so every model
gets the same datasets, callbacks, NaN guard, backups and best-epoch weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tsforecast.config import Config, OptimizerConfig, TrainingConfig, config_to_dict
from tsforecast.data.pipeline import EpochOrder, Split, batches_per_epoch, window_dataset
from tsforecast.data.prepared import PreparedData
from tsforecast.errors import RunError
from tsforecast.models import heads, registry
from tsforecast.models.common import DEFAULT_QUANTILES
from tsforecast.models.covariates import Covariates
from tsforecast.training.distribution import Distribution, make_distribution

#: Losses that read each window's scaling statistics beside its targets.
SCALE_FREE_LOSSES = ("mase", "smape")


@dataclass(frozen=True)
class Progress:
    """How a fit reports as it goes; either may be None.

    Attributes:
        epoch: ``epoch(epoch, epochs, logs)`` after every epoch (numbered from 1).
        batch: ``batch(epoch, epochs, step, steps, logs)`` after every batch, for a bar
            on an interactive terminal (it makes Keras wait for each batch's loss).
    """

    epoch: Callable[[int, int, dict[str, float]], None] | None = None
    batch: Callable[[int, int, int, int, dict[str, float]], None] | None = None


#: ``record(history)`` is called after every epoch with the logs of every epoch so far.
HistoryRecorder = Callable[[list[dict[str, float]]], None]


@dataclass(frozen=True)
class FitResult:
    """What fitting a model left behind.

    Attributes:
        history: Logs of every epoch, resumed ones included.
        best_epoch: Zero-based epoch with the lowest monitored loss, or None.
        keras_history: The ``History`` that Keras' ``fit`` returned (for KerasTuner).
    """

    history: list[dict[str, float]]
    best_epoch: int | None
    keras_history: Any = None


@dataclass(frozen=True)
class Trained:
    """A model built and fitted by :func:`build_and_fit`.

    Attributes:
        model: The whole model, float32 and on no distribution strategy.
        fit: How it was fitted; None for models without weights to fit (baselines).
        precision: The Keras dtype policy it trained in (see :func:`precision_policy`).
    """

    model: Any
    fit: FitResult | None
    precision: str


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and Keras' own random state (weights, dropout).

    What ``keras.utils.set_random_seed`` does, without its seeding of TensorFlow, which
    would import it: nothing that fits or forecasts runs on TensorFlow. JAX computes
    deterministically on the CPU; on a GPU ``deterministic`` picks XLA's deterministic
    kernels for the first fit of a process (see :func:`tsforecast.engine.deterministic`).
    """
    import random

    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator

    from tsforecast import engine

    engine.deterministic(deterministic)
    global_state.set_global_attribute("global_random_seed", seed)
    global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
    random.seed(seed)
    np.random.seed(seed)


def make_learning_rate(training: TrainingConfig, steps_per_epoch: int) -> Any:
    """The initial learning rate, or the Keras schedule that ``training.lr_schedule`` names.

    ``plateau`` is a callback (see :func:`_callbacks`), so it starts from the plain rate.
    """
    import keras

    schedule, rate = training.lr_schedule, training.optimizer.learning_rate
    if schedule.name == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(
            rate,
            decay_steps=schedule.decay_steps or steps_per_epoch,
            decay_rate=schedule.decay_rate,
            staircase=schedule.staircase,
        )
    if schedule.name == "cosine":
        return keras.optimizers.schedules.CosineDecay(
            rate,
            decay_steps=schedule.decay_steps or steps_per_epoch * training.epochs,
            alpha=schedule.alpha,
        )
    return rate


def make_optimizer(config: OptimizerConfig, learning_rate: Any = None) -> Any:
    """The Keras optimizer named by the config.

    Args:
        config: The optimizer section.
        learning_rate: A rate or Keras schedule replacing ``config.learning_rate``.
    """
    import keras

    rate = config.learning_rate if learning_rate is None else learning_rate
    common: dict[str, Any] = {"learning_rate": rate}
    if config.clipnorm is not None:
        common["clipnorm"] = config.clipnorm
    if config.name == "sgd":
        return keras.optimizers.SGD(momentum=config.momentum, nesterov=config.nesterov, **common)
    if config.name == "rmsprop":
        return keras.optimizers.RMSprop(momentum=config.momentum, **common)
    if config.name == "adagrad":
        return keras.optimizers.Adagrad(**common)
    if config.name == "adamw":
        decay = 0.004 if config.weight_decay is None else config.weight_decay
        return keras.optimizers.AdamW(weight_decay=decay, **common)
    return keras.optimizers.Adam(weight_decay=config.weight_decay, **common)


def make_loss(name: str, params: Any = None) -> Any:
    """The Keras loss for a ``training.loss`` name; ``pinball`` reads the quantile levels
    and ``nll`` the likelihood of the model's ``params``."""
    import keras

    if name == "pinball":
        from tsforecast.models.losses import PinballLoss

        return PinballLoss(getattr(params, "quantiles", DEFAULT_QUANTILES))
    if name == "nll":
        from tsforecast.models.distribution_head import DistributionNLL

        return DistributionNLL(getattr(params, "likelihood", "normal"))
    if name in SCALE_FREE_LOSSES:
        from tsforecast.models.losses import ScaleFreeLoss

        return ScaleFreeLoss(name)
    return {
        "mse": keras.losses.MeanSquaredError,
        "mae": keras.losses.MeanAbsoluteError,
        "huber": keras.losses.Huber,
        "mape": keras.losses.MeanAbsolutePercentageError,
        "msle": keras.losses.MeanSquaredLogarithmicError,
    }[name]()


def precision_policy(training: TrainingConfig) -> str:
    """The Keras dtype policy to train with: ``mixed_float16`` when asked for and a GPU is
    present, else ``float32`` (float16 arithmetic on a CPU is slower, not faster)."""
    if not training.mixed_precision:
        return "float32"
    from tsforecast import engine

    return "mixed_float16" if engine.gpus() else "float32"


def model_shape(config: Config, prepared: PreparedData) -> registry.ModelShape:
    """What the model of ``config`` reads and emits for the prepared series: its window,
    and its covariates (category vocabularies from the training series only)."""
    table = prepared.table
    n_static = 0 if table.static is None else len(table.static.numeric_names)
    categories = prepared.vocabularies()
    return registry.ModelShape(
        input_width=config.window.input_width,
        horizon=config.window.horizon,
        n_inputs=table.n_past,
        n_targets=table.n_targets,
        covariates=Covariates(table.n_future, n_static, categories, config.data.id_embedding),
    )


def target_layout(config: Config, prepared: PreparedData) -> heads.TargetLayout:
    """The targets the trained part of the configured model learns from each window."""
    return registry.target_layout(
        config.model.type, config.model.params, model_shape(config, prepared)
    )


def build_compiled_model(
    config: Config, prepared: PreparedData, policy: str = "float32"
) -> tuple[Any, Any]:
    """The configured model for the prepared data, and its trained part, compiled.

    The trained part is the model itself, except for a recursive head, where it is the
    one-step model that the whole model rolls forward. ``policy`` is the Keras dtype policy
    its layers compute in (see :func:`precision_policy`).
    """
    import keras

    params, training = config.model.params, config.training
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    try:
        model = registry.build_model(
            config.model.type,
            params,
            model_shape(config, prepared),
            registry.Preprocessing.from_data(config.data),
        )
    finally:
        keras.config.set_dtype_policy(previous)
    network = heads.trained_part(model, params)
    steps_per_epoch = batches_per_epoch(len(prepared.starts["train"]), training.batch_size)
    network.compile(
        optimizer=make_optimizer(training.optimizer, make_learning_rate(training, steps_per_epoch)),
        loss=make_loss(training.loss, params),
        jit_compile=training.jit_compile,
        steps_per_execution=training.steps_per_execution,
    )
    return model, network


def data_fingerprint(prepared: PreparedData) -> str:
    """A hash of the scaled series and window starts: a resumed run must see the same data."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(prepared.scaled).tobytes())
    for part in sorted(prepared.starts):
        digest.update(part.encode())
        digest.update(np.ascontiguousarray(prepared.starts[part]).tobytes())
    return digest.hexdigest()


def _callbacks(
    config: Config,
    backup: Any,
    progress: Progress | None,
    record: HistoryRecorder | None,
    tensorboard_dir: Path | None,
) -> tuple[list[Any], Any]:
    """The fit callbacks in the order they must run, and the NaN guard among them."""
    import keras

    training = config.training
    schedule = training.lr_schedule

    class StopOnNaN(keras.callbacks.Callback):
        """Stops at the end of an epoch whose loss is NaN or infinite, and remembers it.

        An epoch's loss is the mean over its batches, so one bad batch shows at the epoch
        end; checking there rather than after every batch keeps Keras from waiting for
        each batch's loss, which slows small models down.
        """

        bad_epoch: int | None = None

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.bad_epoch = self.bad_epoch or epoch + 1
                self.model.stop_training = True

    class LogLearningRate(keras.callbacks.Callback):
        """Logs the rate each epoch starts with (as ReduceLROnPlateau does for its own)."""

        def on_epoch_begin(self, epoch, logs=None):
            self.rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None and "learning_rate" not in logs:
                logs["learning_rate"] = self.rate

    class Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if record is not None:
                record(backup.history)
            if progress is not None and progress.epoch is not None:
                logs = {k: float(v) for k, v in (logs or {}).items()}
                progress.epoch(epoch + 1, training.epochs, logs)

    class ReportBatches(keras.callbacks.Callback):
        """Added only for a progress bar: it makes Keras wait for every batch's loss."""

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            logs = {k: float(v) for k, v in (logs or {}).items()}
            progress.batch(self.epoch, training.epochs, batch + 1, self.params["steps"], logs)

    guard = StopOnNaN()
    callbacks: list[Any] = [guard]
    if schedule.name == "plateau":
        # Its patience counter starts afresh when a run is resumed; the learning rate it
        # reached is restored with the optimizer.
        callbacks.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor=schedule.monitor,
                factor=schedule.factor,
                patience=schedule.patience,
                min_lr=schedule.min_lr,
            )
        )
    callbacks.append(LogLearningRate())  # before the backup, so the history holds the rate
    callbacks.extend(backup.replay)  # early stopping: its state is replayed on resume
    callbacks.append(backup)
    callbacks.append(Report())
    if progress is not None and progress.batch is not None:
        callbacks.append(ReportBatches())
    if tensorboard_dir is not None:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(tensorboard_dir)))
    return callbacks, guard


def target_statistics(prepared: PreparedData) -> np.ndarray:
    """``(n_series, n_targets, 3)``: each series' target offset and scale (original =
    scaled * scale + offset) and its mean absolute one-step change on its scaled training
    rows (the pooled one for a series with none), as the scale-free losses read them."""
    table, scaler = prepared.table, prepared.scaler
    n, k = table.n_series, table.n_targets
    index = scaler.series_index(table.ids)
    series = np.arange(n) if index is None else index
    offset = np.asarray(scaler.offset_)[..., :k] if index is None else scaler.offset_[series, :k]
    scale = np.asarray(scaler.scale_)[..., :k] if index is None else scaler.scale_[series, :k]
    steps = [
        np.abs(np.diff(prepared.scaled[lo:hi, :k], axis=0))
        for lo, hi in zip(table.offsets[:-1], prepared.bounds.train_end, strict=True)
    ]
    pooled = np.concatenate(steps).mean(axis=0)
    naive = np.stack([s.mean(axis=0) if len(s) else pooled for s in steps])
    naive = np.where(naive > 0, naive, np.where(pooled > 0, pooled, 1.0))
    return np.stack(
        [np.broadcast_to(offset, (n, k)), np.broadcast_to(scale, (n, k)), naive], axis=-1
    ).astype(np.float32)


def fit_datasets(
    prepared: PreparedData, config: Config, split: Split | None = None
) -> tuple[Any, Any, EpochOrder]:
    """The train and validation datasets, with targets laid out as the model's head needs,
    and the order of the train windows, whose callback must run in ``fit``; ``split`` for
    data-parallel training."""
    training = config.training
    source = prepared.source()
    if training.loss in SCALE_FREE_LOSSES:
        source = dataclasses.replace(source, target_statistics=target_statistics(prepared))
    layout = target_layout(config, prepared)
    order = EpochOrder(prepared.starts["train"], training.shuffle, training.seed)
    train, val = (
        window_dataset(
            source,
            prepared.starts[part],
            config.window.input_width,
            training.batch_size,
            horizon=layout.horizon,
            n_targets=prepared.table.n_targets,
            target_steps=layout.steps,
            order=order if part == "train" else None,
            split=split,
        )
        for part in ("train", "val")
    )
    return train, val, order


def fit(
    network: Any,
    prepared: PreparedData,
    config: Config,
    *,
    backup_dir: Path | None = None,
    progress: Progress | None = None,
    record: HistoryRecorder | None = None,
    tensorboard_dir: Path | None = None,
    split: Split | None = None,
    callbacks: Sequence[Any] = (),
    epochs: int | None = None,
    initial_epoch: int | None = None,
) -> FitResult:
    """Fit ``network`` (the trained part of the model) on the train windows.

    Validates on the val windows, stops early as configured, raises on a NaN loss and
    leaves the best epoch's weights in ``network`` (with ``restore_best_weights``).

    Args:
        network: The compiled trained part (see :func:`build_compiled_model`).
        prepared: The prepared data.
        config: The config.
        backup_dir: Back up there at epoch ends and resume from a backup found there;
            None keeps no backup.
        progress: Called after every epoch.
        record: Called after every epoch with the history so far.
        tensorboard_dir: Write TensorBoard logs there.
        split: How data-parallel training splits each batch (None: not distributed).
        callbacks: More Keras callbacks (KerasTuner's), run after these.
        epochs: Epochs to train up to, instead of ``training.epochs``.
        initial_epoch: Epoch to start at, instead of the backup's or 0.

    Raises:
        RunError: when the training loss becomes NaN or infinite, or a backup is unusable.
    """
    import keras

    from tsforecast.training.backup import TrainingBackup, initial_epoch_of, read_state

    training = config.training
    epochs = training.epochs if epochs is None else epochs
    fingerprint, plain = data_fingerprint(prepared), config_to_dict(config)
    state = read_state(backup_dir, fingerprint, plain) if backup_dir is not None else None
    first = initial_epoch_of(state, epochs) if initial_epoch is None else initial_epoch
    stopping = training.early_stopping
    replay = []
    if stopping.enabled:
        # The best weights come from the backup, which survives an interruption.
        replay.append(
            keras.callbacks.EarlyStopping(
                monitor=stopping.monitor, patience=stopping.patience, min_delta=stopping.min_delta
            )
        )
    backup = TrainingBackup(
        backup_dir,
        stopping.monitor,
        fingerprint,
        plain,
        state,
        replay,
        interval=training.backup_interval,
    )
    ours, guard = _callbacks(config, backup, progress, record, tensorboard_dir)
    train, val, order = fit_datasets(prepared, config, split)
    keras_history = network.fit(
        train,
        validation_data=val,
        epochs=epochs,
        initial_epoch=first,
        shuffle=False,  # the dataset shuffles every epoch by (seed, epoch)
        callbacks=[order.callback(), *ours, *callbacks],
        verbose=0,
    )
    bad_epoch = guard.bad_epoch
    if bad_epoch is None:  # a resumed run may have backed up a NaN epoch's logs
        bad = [i for i, logs in enumerate(backup.history) if not math.isfinite(logs["loss"])]
        bad_epoch = bad[0] + 1 if bad else None
    if bad_epoch is not None:
        raise RunError(
            f"Training loss became NaN or infinite in epoch {bad_epoch}; lower "
            "training.optimizer.learning_rate, set training.optimizer.clipnorm or check the data."
        )
    if stopping.restore_best_weights and backup.best_weights is not None:
        network.set_weights(backup.best_weights)
    return FitResult(backup.history, backup.best_epoch, keras_history)


def build_and_fit(
    config: Config,
    prepared: PreparedData,
    *,
    backup_dir: Path | None = None,
    progress: Progress | None = None,
    record: HistoryRecorder | None = None,
    tensorboard_dir: Path | None = None,
    distribution: Distribution | None = None,
    on_built: Callable[[Any], None] | None = None,
) -> Trained:
    """Seed, build, compile and fit a fresh model.

    ``on_built(model)`` is called between building and fitting (to check the disk has room
    for the model's files, say). Models without weights to fit (baselines) come back
    unfitted, with None. A model
    trained under a distribution strategy or in mixed precision comes back as a plain
    float32 copy, so predictions stay local and a saved model carries neither.
    """
    import keras

    keras.backend.clear_session()  # fresh layer names, so that a backup restores by name
    seed_everything(config.training.seed, config.training.deterministic)
    distribution = distribution or make_distribution("none")
    policy = precision_policy(config.training)
    split = None
    if distribution.distributed:
        distribution.check_batch(config.training.batch_size)
        split = Split(distribution.replicas, distribution.process, distribution.processes)
    with distribution.scope():
        model, network = build_compiled_model(config, prepared, policy)
        if on_built is not None:
            on_built(model)
        result = None
        if registry.get(config.model.type).trainable and model.trainable_weights:
            result = fit(
                network,
                prepared,
                config,
                backup_dir=backup_dir,
                progress=progress,
                record=record,
                tensorboard_dir=tensorboard_dir,
                split=split,
            )
        weights = model.get_weights()
    if distribution.distributed or policy != "float32":
        plain, _ = build_compiled_model(config, prepared)
        plain.set_weights(weights)
        model = plain
    return Trained(model, result, policy)
