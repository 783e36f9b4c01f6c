"""Compile, fit and evaluate a model, and write the run directory."""

from __future__ import annotations

import dataclasses
import math
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsforecast import __version__, evaluation, plots
from tsforecast.config import Config, OptimizerConfig
from tsforecast.data.dataset import PreparedData, prepare_data
from tsforecast.data.windowing import window_dataset
from tsforecast.distribution import Distribution, make_distribution, shard_by_data
from tsforecast.errors import RunError
from tsforecast.models import registry
from tsforecast.runs import HISTORY, METRICS, PLOTS, RUN_FORMAT, RunDir

#: ``progress(epoch, epochs, logs)`` is called after every epoch.
Progress = Callable[[int, int, dict[str, float]], None]

PREDICT_BATCH = 1024


@dataclass(frozen=True)
class TrainResult:
    """What a finished training run returns."""

    run_dir: Path | None  # None on a multi-worker process that is not the chief
    metrics: dict[str, Any]
    seconds: float


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed Python, NumPy and TensorFlow, and pick deterministic ops when asked."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_optimizer(config: OptimizerConfig) -> Any:
    """The Keras optimizer named by the config."""
    import keras

    common: dict[str, Any] = {"learning_rate": config.learning_rate}
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


def make_loss(name: str) -> Any:
    """The Keras loss for a ``training.loss`` name."""
    import keras

    return {
        "mse": keras.losses.MeanSquaredError,
        "mae": keras.losses.MeanAbsoluteError,
        "huber": keras.losses.Huber,
        "mape": keras.losses.MeanAbsolutePercentageError,
        "msle": keras.losses.MeanSquaredLogarithmicError,
    }[name]()


def build_compiled_model(config: Config, prepared: PreparedData) -> Any:
    """The configured model, built for the prepared data's columns and compiled."""
    table = prepared.table
    shape = registry.ModelShape(
        input_width=config.window.input_width,
        horizon=config.window.horizon,
        n_inputs=len(table.columns),
        n_targets=table.n_targets,
    )
    model = registry.build_model(config.model.type, config.model.params, shape)
    model.compile(
        optimizer=make_optimizer(config.training.optimizer), loss=make_loss(config.training.loss)
    )
    return model


def _callbacks(config: Config, run: RunDir, progress: Progress | None) -> list[Any]:
    import keras

    stopping = config.training.early_stopping
    callbacks = [
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.CSVLogger(str(run.file(HISTORY))),
        keras.callbacks.ModelCheckpoint(
            str(run.file(".best.weights.h5")),
            monitor=stopping.monitor,
            save_best_only=True,
            save_weights_only=True,
        ),
        keras.callbacks.BackupAndRestore(str(run.file(".backup")), delete_checkpoint=True),
    ]
    if stopping.enabled:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor=stopping.monitor,
                patience=stopping.patience,
                min_delta=stopping.min_delta,
                restore_best_weights=stopping.restore_best_weights,
            )
        )
    if config.training.tensorboard:
        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run.file("tensorboard"))))
    if progress is not None:
        epochs = config.training.epochs

        class Report(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                progress(epoch + 1, epochs, {k: float(v) for k, v in (logs or {}).items()})

        callbacks.append(Report())
    return callbacks


def predict_scaled(model: Any, prepared: PreparedData, config: Config, part: str) -> np.ndarray:
    """Scaled forecasts ``(n_windows, horizon, n_targets)`` for every window of ``part``."""
    dataset = window_dataset(
        prepared.scaled,
        prepared.starts[part],
        config.window,
        prepared.table.n_targets,
        max(config.training.batch_size, PREDICT_BATCH),
        with_targets=False,
    )
    return np.asarray(model.predict(dataset, verbose=0))


def fit_model(
    model: Any, prepared: PreparedData, config: Config, run: RunDir, progress: Progress | None
) -> Any:
    """Fit on the train windows, validating on the val windows; keep the best epoch's weights.

    History, checkpoints and TensorBoard logs go into ``run``.
    """
    training = config.training
    n_targets = prepared.table.n_targets
    train = window_dataset(
        prepared.scaled,
        prepared.starts["train"],
        config.window,
        n_targets,
        training.batch_size,
        shuffle=training.shuffle,
        seed=training.seed,
    )
    val = window_dataset(
        prepared.scaled, prepared.starts["val"], config.window, n_targets, training.batch_size
    )
    if training.distribute != "none":
        train, val = shard_by_data(train), shard_by_data(val)
    history = model.fit(
        train,
        validation_data=val,
        epochs=training.epochs,
        shuffle=False,  # the dataset reshuffles itself
        callbacks=_callbacks(config, run, progress),
        verbose=0,
    )
    losses = history.history.get("loss", [])
    bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
    if bad:
        raise RunError(
            f"Training loss became NaN or infinite at epoch {bad[0] + 1}; lower "
            "training.optimizer.learning_rate, set training.optimizer.clipnorm or check the data."
        )
    best = run.file(".best.weights.h5")
    if best.exists():
        model.load_weights(best)
        best.unlink()
    return history


def build_and_fit(
    config: Config,
    prepared: PreparedData,
    run: RunDir,
    progress: Progress | None = None,
    distribution: Distribution | None = None,
) -> tuple[Any, int]:
    """Seed, build, compile and fit a fresh model; return it and the epochs trained.

    Models without weights to fit (baselines) get an empty history. A model trained
    under a distribution strategy comes back as a plain copy, so predictions stay local
    and a saved model carries no distribution state.
    """
    seed_everything(config.training.seed, config.training.deterministic)
    distribution = distribution or make_distribution("none")
    with distribution.strategy.scope():
        model = build_compiled_model(config, prepared)
    epochs_trained = 0
    if registry.get(config.model.type).trainable and model.trainable_weights:
        history = fit_model(model, prepared, config, run, progress)
        epochs_trained = len(history.history.get("loss", []))
    else:
        run.write_text(HISTORY, "epoch,loss,val_loss\n")
    if distribution.distributed:
        plain = build_compiled_model(config, prepared)
        plain.set_weights(model.get_weights())
        model = plain
    return model, epochs_trained


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
    prepared: PreparedData, config: Config, scaled_forecast: np.ndarray, path: Path
) -> None:
    """Test-set forecasts of the first series from origins one horizon apart."""
    table, window = prepared.table, config.window
    n_targets = table.n_targets
    lo, hi = int(prepared.bounds.val_end[0] - window.input_width), int(table.offsets[1])
    starts = prepared.starts["test"]
    first = np.flatnonzero(starts < table.offsets[1])
    chosen = first[:: window.horizon][:12]
    positions = table.times if table.times is not None else np.arange(len(table.values))
    shown_end = min(hi, int(starts[chosen[-1]]) + window.input_width + window.horizon)
    targets = slice(0, n_targets)
    naive = evaluation.naive_forecast(prepared.scaled, starts[chosen], window, n_targets)
    origins = []
    for k, i in enumerate(chosen):
        at = int(starts[i]) + window.input_width
        origins.append(
            (
                positions[at : at + window.horizon],
                prepared.scaler.inverse_transform(scaled_forecast[i], targets),
                prepared.scaler.inverse_transform(naive[k], targets),
            )
        )
    series = f" of series {table.ids[0]}" if table.ids is not None else ""
    plots.forecast(
        positions[lo:shown_end],
        table.values[lo:shown_end, :n_targets],
        origins,
        table.columns[:n_targets],
        f"{config.model.type}: test forecasts{series} (horizon {window.horizon})",
        path,
    )


def train(
    config: Config,
    *,
    progress: Progress | None = None,
    prepared: PreparedData | None = None,
) -> TrainResult:
    """Train the configured model and write a complete run directory.

    Data problems are raised before the run directory is created; any later failure
    leaves a ``FAILED`` marker in it. With ``training.distribute: multi_worker`` only the
    chief writes a run directory; other workers return a result without one.

    Args:
        config: A validated config.
        progress: Called after every epoch.
        prepared: Data already prepared for this config (loaded from ``config.data`` if None).

    Returns:
        The run directory and its metrics.
    """
    started = time.perf_counter()
    prepared = prepared if prepared is not None else prepare_data(config)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    distribution = make_distribution(config.training.distribute)
    if not distribution.is_chief:
        with tempfile.TemporaryDirectory(prefix="tsforecast-worker-") as scratch:
            output = dataclasses.replace(config.output, dir=scratch)
            run = RunDir.create(dataclasses.replace(config, output=output))
            return _train_into(run, config, prepared, progress, started, distribution)
    run = RunDir.create(config)
    try:
        return _train_into(run, config, prepared, progress, started, distribution)
    except KeyboardInterrupt:
        run.mark_failed("Training was interrupted.")
        raise
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
    table = prepared.table
    run.write_config(config)
    run.write_scaler(prepared.scaler)
    model, epochs_trained = build_and_fit(config, prepared, run, progress, distribution)
    if not distribution.is_chief:
        return TrainResult(None, {}, time.perf_counter() - started)
    run.save_model(model)
    history_frame = pd.read_csv(run.file(HISTORY))
    plots.learning_curve(history_frame, run.file(PLOTS) / "learning_curve.png")

    results: dict[str, Any] = {}
    for part in ("val", "test"):
        scaled_forecast = predict_scaled(model, prepared, config, part)
        results[part] = evaluation.compare_with_naive(
            prepared, part, scaled_forecast, config.window
        )
        if part == "test":
            _forecast_plot(prepared, config, scaled_forecast, run.file(PLOTS) / "forecast.png")

    best_epoch = None
    if not history_frame.empty and "val_loss" in history_frame:
        best_epoch = int(history_frame["val_loss"].idxmin()) + 1
    metrics = {
        "model": config.model.type,
        **results,
        "training": {
            "epochs_trained": epochs_trained,
            "best_epoch": best_epoch,
            "parameters": int(model.count_params()),
            "train_windows": len(prepared.starts["train"]),
            "distribute": distribution.kind,
            "replicas": distribution.replicas,
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
    return TrainResult(run.path, metrics, time.perf_counter() - started)
