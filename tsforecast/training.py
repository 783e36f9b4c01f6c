"""Compile, fit and evaluate a model, and write the run directory."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsforecast import __version__, evaluation, plot_process, plots
from tsforecast.config import Config, OptimizerConfig, TrainingConfig
from tsforecast.data.dataset import PreparedData, prepare_data
from tsforecast.data.loading import SeriesTable
from tsforecast.data.windowing import EpochOrder, batches_per_epoch, window_dataset
from tsforecast.distribution import Distribution, make_distribution, shard_by_data
from tsforecast.errors import RunError, RunInterrupted, TsForecastError
from tsforecast.models import heads, registry
from tsforecast.models.common import DEFAULT_QUANTILES
from tsforecast.runs import BACKUP, HISTORY, METRICS, PLOTS, RUN_FORMAT, RunDir

#: ``progress(epoch, epochs, logs)`` is called after every epoch.
Progress = Callable[[int, int, dict[str, float]], None]

PREDICT_BATCH = 1024

#: Whether this process has built a model: the first needs no clearing of Keras' state,
#: which costs a garbage collection of everything TensorFlow has loaded.
_models_built = False


@dataclass(frozen=True)
class TrainResult:
    """What a finished training run returns."""

    run_dir: Path | None  # None on a multi-worker process that is not the chief
    metrics: dict[str, Any]
    seconds: float


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and TensorFlow, and pick deterministic ops or not.

    Op determinism is process-wide, so it is switched off again for a config that does not
    ask for it after one that did (several configs trained in one process).
    """
    import keras
    import tensorflow as tf
    from tensorflow.python.framework import config as tf_config

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    else:
        tf_config.disable_op_determinism()  # no public API; tf.config only enables it


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


def make_loss(name: str, quantiles: tuple[float, ...] = DEFAULT_QUANTILES) -> Any:
    """The Keras loss for a ``training.loss`` name (``quantiles`` for ``pinball``)."""
    import keras

    if name == "pinball":
        from tsforecast.models.losses import PinballLoss

        return PinballLoss(quantiles)
    return {
        "mse": keras.losses.MeanSquaredError,
        "mae": keras.losses.MeanAbsoluteError,
        "huber": keras.losses.Huber,
        "mape": keras.losses.MeanAbsolutePercentageError,
        "msle": keras.losses.MeanSquaredLogarithmicError,
    }[name]()


def _nan_guard() -> Any:
    """Stops training at the end of an epoch whose loss is NaN or infinite, and remembers it.

    An epoch's loss is the mean over its batches, so one bad batch shows at the epoch end;
    checking there rather than after every batch keeps Keras from waiting for each batch's
    loss, which slows small models down.
    """
    import keras

    class StopOnNaN(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.bad_epoch: int | None = None

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.bad_epoch = self.bad_epoch or epoch + 1
                self.model.stop_training = True

    return StopOnNaN()


def _callbacks(
    config: Config,
    run: RunDir,
    progress: Progress | None,
    fingerprint: str,
    state: dict[str, Any] | None,
) -> tuple[list[Any], Any]:
    """The fit callbacks, and the TrainingBackup among them that holds the epoch history."""
    import keras

    from tsforecast.resume import TrainingBackup

    stopping = config.training.early_stopping
    schedule = config.training.lr_schedule

    class LogLearningRate(keras.callbacks.Callback):
        """Logs the rate each epoch starts with (as ReduceLROnPlateau does for its own)."""

        def on_epoch_begin(self, epoch, logs=None):
            rate = self.model.optimizer.learning_rate
            self.rate = float(keras.ops.convert_to_numpy(rate))

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None and "learning_rate" not in logs:
                logs["learning_rate"] = self.rate

    callbacks: list[Any] = [_nan_guard()]
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
    replay = []
    if stopping.enabled:
        # The best weights come from the backup, which survives an interruption.
        early = keras.callbacks.EarlyStopping(
            monitor=stopping.monitor, patience=stopping.patience, min_delta=stopping.min_delta
        )
        callbacks.append(early)
        replay.append(early)
    saver = TrainingBackup(
        run.file(BACKUP),
        stopping.monitor,
        fingerprint,
        state,
        replay,
        interval=config.training.backup_interval,
    )
    callbacks.append(saver)

    class HistoryFile(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            run.write_text(HISTORY, _history_csv(saver.history))

    callbacks.append(HistoryFile())
    if config.training.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run.file("tensorboard"))))
    if progress is not None:
        epochs = config.training.epochs

        class Report(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                progress(epoch + 1, epochs, {k: float(v) for k, v in (logs or {}).items()})

        callbacks.append(Report())
    return callbacks, saver


def _history_csv(history: list[dict[str, float]]) -> str:
    """history.csv: one row per epoch, numbered from 0 like Keras' CSVLogger."""
    frame = pd.DataFrame(history)
    frame.insert(0, "epoch", range(len(frame)))
    return frame.to_csv(index=False)


def model_shape(config: Config, table: SeriesTable) -> registry.ModelShape:
    """What the model of ``config`` reads and emits for the series in ``table``."""
    return registry.ModelShape(
        input_width=config.window.input_width,
        horizon=config.window.horizon,
        n_inputs=len(table.columns),
        n_targets=table.n_targets,
    )


def forecast_windows(
    model: Any, prepared: PreparedData, config: Config, starts: np.ndarray
) -> heads.Forecast:
    """Scaled forecasts of the windows starting at ``starts``, whatever the model's head."""
    dataset = window_dataset(
        prepared.scaled,
        starts,
        config.window,
        prepared.table.n_targets,
        max(config.training.batch_size, PREDICT_BATCH),
        with_targets=False,
    )
    return heads.read_output(model.predict(dataset, verbose=0), config.model.params)


def predict_forecast(
    model: Any, prepared: PreparedData, config: Config, part: str
) -> heads.Forecast:
    """Scaled forecasts of every window of ``part``, whatever the model's head."""
    return forecast_windows(model, prepared, config, prepared.starts[part])


def predict_scaled(model: Any, prepared: PreparedData, config: Config, part: str) -> np.ndarray:
    """Scaled point forecasts ``(n_windows, horizon, n_targets)`` for every window of ``part``."""
    return predict_forecast(model, prepared, config, part).point


def data_fingerprint(prepared: PreparedData) -> str:
    """A hash of the scaled series and window starts: a resumed run must see the same data."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(prepared.scaled).tobytes())
    for part in sorted(prepared.starts):
        digest.update(part.encode())
        digest.update(np.ascontiguousarray(prepared.starts[part]).tobytes())
    return digest.hexdigest()


def precision_policy(training: TrainingConfig) -> str:
    """The Keras dtype policy to train with: ``mixed_float16`` when asked for and a GPU is
    present, else ``float32`` (float16 arithmetic on a CPU is slower, not faster)."""
    if not training.mixed_precision:
        return "float32"
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "float32"


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
            model_shape(config, prepared.table),
            registry.Preprocessing.from_data(config.data),
        )
    finally:
        keras.config.set_dtype_policy(previous)
    network = heads.trained_part(model, params)
    steps_per_epoch = batches_per_epoch(len(prepared.starts["train"]), training.batch_size)
    network.compile(
        optimizer=make_optimizer(training.optimizer, make_learning_rate(training, steps_per_epoch)),
        loss=make_loss(training.loss, getattr(params, "quantiles", DEFAULT_QUANTILES)),
        jit_compile=training.jit_compile,
        steps_per_execution=training.steps_per_execution,
    )
    return model, network


def fit_datasets(prepared: PreparedData, config: Config) -> tuple[Any, Any, Any]:
    """The train and validation datasets, with targets laid out as the model's head needs,
    and the callback that numbers the train dataset's epochs.

    Every epoch's pass over the train dataset is shuffled by ``(seed, epoch)``; pass the
    callback to ``fit`` so that the dataset knows the epoch.
    """
    training = config.training
    n_targets = prepared.table.n_targets
    layout = registry.target_layout(
        config.model.type, config.model.params, model_shape(config, prepared.table)
    )
    window = dataclasses.replace(config.window, horizon=layout.horizon)
    order = EpochOrder(prepared.starts["train"], training.shuffle, training.seed)
    train = window_dataset(
        prepared.scaled,
        prepared.starts["train"],
        window,
        n_targets,
        training.batch_size,
        target_steps=layout.steps,
        order=order,
    )
    val = window_dataset(
        prepared.scaled,
        prepared.starts["val"],
        window,
        n_targets,
        training.batch_size,
        target_steps=layout.steps,
    )
    return train, val, order.callback()


def fit_model(
    network: Any, prepared: PreparedData, config: Config, run: RunDir, progress: Progress | None
) -> Any:
    """Fit ``network`` (the trained part of the model) on the train windows.

    Validates on the val windows, resumes from the run's backup when it has one, keeps the
    best epoch's weights and returns the TrainingBackup holding the epoch history.
    """
    from tsforecast.resume import initial_epoch, read_state

    training = config.training
    fingerprint = data_fingerprint(prepared)
    state = read_state(run.file(BACKUP), fingerprint)
    first = initial_epoch(state, training.epochs)
    train, val, numbering = fit_datasets(prepared, config)
    if training.distribute != "none":
        train, val = shard_by_data(train), shard_by_data(val)
    callbacks, backup = _callbacks(config, run, progress, fingerprint, state)
    network.fit(
        train,
        validation_data=val,
        epochs=training.epochs,
        initial_epoch=first,
        shuffle=False,  # the dataset shuffles every epoch by (seed, epoch)
        callbacks=[numbering, *callbacks],
        verbose=0,
    )
    bad_epoch = callbacks[0].bad_epoch
    if bad_epoch is None:
        bad = [i for i, logs in enumerate(backup.history) if not math.isfinite(logs["loss"])]
        bad_epoch = bad[0] + 1 if bad else None
    if bad_epoch is not None:
        raise RunError(
            f"Training loss became NaN or infinite in epoch {bad_epoch}; lower "
            "training.optimizer.learning_rate, set training.optimizer.clipnorm or check the data."
        )
    if training.early_stopping.restore_best_weights and backup.best_weights is not None:
        network.set_weights(backup.best_weights)
    return backup


def build_and_fit(
    config: Config,
    prepared: PreparedData,
    run: RunDir,
    progress: Progress | None = None,
    distribution: Distribution | None = None,
) -> tuple[Any, Any]:
    """Seed, build, compile and fit a fresh model; return it and the TrainingBackup.

    Models without weights to fit (baselines) get an empty history and no backup (None).
    A model trained under a distribution strategy or in mixed precision comes back as a
    plain float32 copy, so predictions stay local and a saved model carries neither.
    """
    import keras

    global _models_built
    if _models_built:  # fresh layer names, so a backup restores by name
        keras.backend.clear_session()
    _models_built = True
    seed_everything(config.training.seed, config.training.deterministic)
    distribution = distribution or make_distribution("none")
    policy = precision_policy(config.training)
    with distribution.strategy.scope():
        model, network = build_compiled_model(config, prepared, policy)
    run.check_free_space(model.count_params())
    backup = None
    if registry.get(config.model.type).trainable and model.trainable_weights:
        backup = fit_model(network, prepared, config, run, progress)
        run.write_text(HISTORY, _history_csv(backup.history))
    else:
        run.write_text(HISTORY, "epoch,loss,val_loss\n")
    if distribution.distributed or policy != "float32":
        plain, _ = build_compiled_model(config, prepared)
        plain.set_weights(model.get_weights())
        model = plain
    return model, backup


def versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {
        "tsforecast": __version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }


def _forecast_plot(
    prepared: PreparedData,
    config: Config,
    predict: Callable[[np.ndarray], heads.Forecast],
    path: Path,
) -> Callable[[], None]:
    """Test-set forecasts of the first series with test windows, from origins one horizon
    apart: forecast here, and returned as a function that draws them into ``path``."""
    table, window = prepared.table, config.window
    n_targets = table.n_targets
    starts = prepared.starts["test"]
    shown = int(np.searchsorted(table.offsets, starts[0], side="right")) - 1
    lo = max(int(prepared.bounds.val_end[shown]) - window.input_width, int(table.offsets[shown]))
    hi = int(table.offsets[shown + 1])
    first = np.flatnonzero((starts >= table.offsets[shown]) & (starts < hi))
    chosen = first[:: window.horizon][:12]
    forecast = predict(starts[chosen])
    positions = table.times if table.times is not None else np.arange(len(table.values))
    shown_end = min(hi, int(starts[chosen[-1]]) + window.input_width + window.horizon)
    targets = slice(0, n_targets)
    naive = evaluation.naive_forecast(prepared.scaled, starts[chosen], window, n_targets)

    def original(scaled: np.ndarray) -> np.ndarray:
        return prepared.scaler.inverse_transform(scaled, targets)

    origins = []
    for k, i in enumerate(chosen):
        at = int(starts[i]) + window.input_width
        band = None
        if forecast.quantiles is not None:
            band = (original(forecast.lower[k]), original(forecast.upper[k]))
        origins.append(
            (
                positions[at : at + window.horizon],
                original(forecast.point[k]),
                original(naive[k]),
                band,
            )
        )
    series = f" of series {table.ids[shown]}" if table.ids is not None else ""
    band_label = None
    if forecast.quantiles is not None:
        band_label = f"{forecast.levels[0]:g}-{forecast.levels[-1]:g} quantiles"
    return functools.partial(
        plots.forecast,
        positions[lo:shown_end],
        table.values[lo:shown_end, :n_targets],
        origins,
        table.columns[:n_targets],
        f"{config.model.type} ({heads.head_of(config.model.params)} head): test forecasts"
        f"{series} (horizon {window.horizon})",
        path,
        band_label=band_label,
    )


def train(
    config: Config,
    *,
    progress: Progress | None = None,
    prepared: PreparedData | None = None,
    resume: str | Path | None = None,
) -> TrainResult:
    """Train the configured model and write a complete run directory.

    Data problems are raised before the run directory is created; any later failure
    leaves a ``FAILED`` marker in it. Training backs itself up at epoch ends (at most every
    ``training.backup_interval`` seconds), so a run stopped by SIGINT, SIGTERM or SIGKILL
    resumes from its last backed-up epoch and ends exactly as if it had never stopped.
    With ``training.distribute: multi_worker`` only the chief writes a run directory;
    other workers return a result without one.

    Args:
        config: A validated config.
        progress: Called after every epoch.
        prepared: Data already prepared for this config (loaded from ``config.data`` if None).
        resume: An unfinished run directory of this config to continue, instead of a new one.

    Returns:
        The run directory and its metrics.

    Raises:
        RunInterrupted: on KeyboardInterrupt (SIGINT, or SIGTERM where the caller maps it).
    """
    import tensorflow as tf

    started = time.perf_counter()
    run = RunDir.reopen(resume, config) if resume is not None else None
    prepared = prepared if prepared is not None else prepare_data(config)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    distribution = make_distribution(config.training.distribute)
    if config.output.plots and distribution.is_chief:
        plot_process.start()  # it loads matplotlib while the model trains
    if not distribution.is_chief:
        with tempfile.TemporaryDirectory(prefix="tsforecast-worker-") as scratch:
            output = dataclasses.replace(config.output, dir=scratch)
            run = RunDir.create(dataclasses.replace(config, output=output))
            return _train_into(run, config, prepared, progress, started, distribution)
    if run is None:
        run = RunDir.create(config)
    else:
        run.clear_failed()
    try:
        run.write_config(config)  # first, so that a run stopped at any point can be resumed
        return _train_into(run, config, prepared, progress, started, distribution)
    except KeyboardInterrupt:
        message = (
            f"Training was interrupted; continue it with --resume {run.path} "
            "(the same config, from the last backed-up epoch)."
        )
        run.mark_failed(message)
        raise RunInterrupted(message) from None
    except TsForecastError as exc:
        run.mark_failed(str(exc))
        raise
    except OSError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = f"Cannot write the run directory {run.path}: {reason}"
        run.mark_failed(message)
        raise RunError(message) from None
    except (MemoryError, tf.errors.ResourceExhaustedError):
        message = (
            "Out of memory building or training the model; make the model smaller or lower "
            "training.batch_size or window.input_width."
        )
        run.mark_failed(message)
        raise RunError(message) from None
    except Exception as exc:
        run.mark_failed(f"{type(exc).__name__}: {exc}")
        raise


def _train_into(
    run: RunDir,
    config: Config,
    prepared: PreparedData,
    progress,
    started: float,
    distribution: Distribution,
) -> TrainResult:
    table, params = prepared.table, config.model.params
    run.write_scaler(prepared.scaler)
    model, backup = build_and_fit(config, prepared, run, progress, distribution)
    if not distribution.is_chief:
        return TrainResult(None, {}, time.perf_counter() - started)
    epochs_trained = 0 if backup is None else len(backup.history)
    best_epoch = None
    if backup is not None and backup.best_epoch is not None:
        best_epoch = backup.best_epoch + 1
    history_frame = pd.read_csv(run.file(HISTORY))

    def predictor(part: str) -> Callable[[np.ndarray], heads.Forecast]:
        def predict(starts: np.ndarray) -> heads.Forecast:
            forecast = forecast_windows(model, prepared, config, starts)
            if not np.isfinite(forecast.point).all():
                raise RunError(
                    f"The trained model forecasts NaN or infinite values on the {part} split; "
                    "check the data for extreme values or lower "
                    "training.optimizer.learning_rate."
                )
            return forecast

        return predict

    results: dict[str, Any] = {}
    # The plots are drawn by the drawing process while the model is saved and the splits
    # are evaluated here; a thread waits for its answers.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tsforecast-plots") as pool:
        drawings = []
        folder = run.file(PLOTS)
        if config.output.plots:
            curve = folder / "learning_curve.png"
            drawings.append(
                pool.submit(plot_process.draw, plots.learning_curve, history_frame, curve)
            )
        run.save_model(model)
        if config.output.plots:
            draw = _forecast_plot(prepared, config, predictor("test"), folder / "forecast.png")
            drawings.append(pool.submit(plot_process.draw, draw))
        for part in ("val", "test"):
            results[part] = evaluation.compare_with_naive(
                prepared, part, predictor(part), config.window
            )
        for drawing in drawings:
            drawing.result()

    metrics = {
        "model": config.model.type,
        **results,
        "architecture": {
            "head": heads.head_of(params),
            "input_width": config.window.input_width,
            # Input steps one forecast sees; null when the model reads the whole window.
            "receptive_field": registry.receptive_field(
                config.model.type, params, config.window.input_width
            ),
        },
        "training": {
            "epochs_trained": epochs_trained,
            "best_epoch": best_epoch,
            "parameters": int(model.count_params()),
            "train_windows": len(prepared.starts["train"]),
            "distribute": distribution.kind,
            "replicas": distribution.replicas,
            "precision": precision_policy(config.training),
            "jit_compile": bool(heads.trained_part(model, params).jit_compile),
        },
        "run": {
            "format": RUN_FORMAT,
            "columns": list(table.columns),
            "targets": list(table.columns[: table.n_targets]),
            "n_series": table.n_series,
            "versions": versions(),
        },
    }
    run.write_json(METRICS, metrics)
    run.remove_backup()
    return TrainResult(run.path, metrics, time.perf_counter() - started)
