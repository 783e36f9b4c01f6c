"""Compile, fit and evaluate a model, and write the run directory."""

from __future__ import annotations

import hashlib
import math
import os
import platform
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
from tsforecast.data.windowing import batches_per_epoch, window_dataset
from tsforecast.errors import RunError, RunInterrupted, TsForecastError
from tsforecast.models import registry
from tsforecast.runs import BACKUP, HISTORY, METRICS, PLOTS, RUN_FORMAT, RunDir

#: ``progress(epoch, epochs, logs)`` is called after every epoch.
Progress = Callable[[int, int, dict[str, float]], None]

PREDICT_BATCH = 1024


@dataclass(frozen=True)
class TrainResult:
    """What a finished training run returns."""

    run_dir: Path
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
    callbacks: list[Any] = [keras.callbacks.TerminateOnNaN()]
    replay = []
    if stopping.enabled:
        # The best weights come from the backup, which survives an interruption.
        early = keras.callbacks.EarlyStopping(
            monitor=stopping.monitor, patience=stopping.patience, min_delta=stopping.min_delta
        )
        callbacks.append(early)
        replay.append(early)
    saver = TrainingBackup(run.file(BACKUP), stopping.monitor, fingerprint, state, replay)
    callbacks.append(saver)

    class HistoryFile(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            run.write_text(HISTORY, _history_csv(saver.history))

    callbacks.append(HistoryFile())
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


def data_fingerprint(prepared: PreparedData) -> str:
    """A hash of the scaled series and window starts: a resumed run must see the same data."""
    digest = hashlib.sha256()
    digest.update(np.ascontiguousarray(prepared.scaled).tobytes())
    for part in sorted(prepared.starts):
        digest.update(part.encode())
        digest.update(np.ascontiguousarray(prepared.starts[part]).tobytes())
    return digest.hexdigest()


def _fit(model: Any, prepared: PreparedData, config: Config, run: RunDir, progress) -> Any:
    """Fit, resuming from the run's backup when it has one; return the TrainingBackup."""
    from tsforecast.resume import initial_epoch, read_state

    training = config.training
    fingerprint = data_fingerprint(prepared)
    state = read_state(run.file(BACKUP), fingerprint)
    first = initial_epoch(state, training.epochs)
    n_targets = prepared.table.n_targets
    train = window_dataset(
        prepared.scaled,
        prepared.starts["train"],
        config.window,
        n_targets,
        training.batch_size,
        shuffle=training.shuffle,
        seed=training.seed,
        epochs=range(first, training.epochs),
    )
    val = window_dataset(
        prepared.scaled, prepared.starts["val"], config.window, n_targets, training.batch_size
    )
    callbacks, backup = _callbacks(config, run, progress, fingerprint, state)
    model.fit(
        train,
        validation_data=val,
        epochs=training.epochs,
        initial_epoch=first,
        steps_per_epoch=batches_per_epoch(len(prepared.starts["train"]), training.batch_size),
        shuffle=False,  # the dataset shuffles every epoch by (seed, epoch)
        callbacks=callbacks,
        verbose=0,
    )
    bad = [i for i, logs in enumerate(backup.history) if not math.isfinite(logs["loss"])]
    if bad:
        raise RunError(
            f"Training loss became NaN or infinite at epoch {bad[0] + 1}; lower "
            "training.optimizer.learning_rate, set training.optimizer.clipnorm or check the data."
        )
    best = backup.best_weights_path
    if training.early_stopping.restore_best_weights and best is not None:
        model.load_weights(best)
    return backup


def _versions() -> dict[str, str]:
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
    resume: str | Path | None = None,
) -> TrainResult:
    """Train the configured model and write a complete run directory.

    Data problems are raised before the run directory is created; any later failure
    leaves a ``FAILED`` marker in it. Training backs itself up at every epoch end, so a
    run stopped by SIGINT, SIGTERM or SIGKILL resumes from its last completed epoch and
    ends exactly as if it had never stopped.

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
    if run is None:
        run = RunDir.create(config)
    else:
        run.clear_failed()
    try:
        run.write_config(config)  # first, so that a run stopped at any point can be resumed
        return _train_into(run, config, prepared, progress, started)
    except KeyboardInterrupt:
        message = (
            f"Training was interrupted; continue it with --resume {run.path} "
            "(the same config, from the last completed epoch)."
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
    run: RunDir, config: Config, prepared: PreparedData, progress, started: float
) -> TrainResult:
    import keras

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keras.backend.clear_session()  # fresh layer names, so a backup restores by name
    seed_everything(config.training.seed, config.training.deterministic)
    table = prepared.table
    spec = registry.get(config.model.type)
    shape = registry.ModelShape(
        input_width=config.window.input_width,
        horizon=config.window.horizon,
        n_inputs=len(table.columns),
        n_targets=table.n_targets,
    )
    model = registry.build_model(config.model.type, config.model.params, shape)
    run.check_free_space(model.count_params())
    model.compile(
        optimizer=make_optimizer(config.training.optimizer), loss=make_loss(config.training.loss)
    )
    run.write_scaler(prepared.scaler)
    epochs_trained, best_epoch = 0, None
    if spec.trainable and model.trainable_weights:
        backup = _fit(model, prepared, config, run, progress)
        epochs_trained = len(backup.history)
        if backup.best_epoch is not None:
            best_epoch = backup.best_epoch + 1
        run.write_text(HISTORY, _history_csv(backup.history))
    else:
        run.write_text(HISTORY, "epoch,loss,val_loss\n")
    run.save_model(model)
    history_frame = pd.read_csv(run.file(HISTORY))
    plots.learning_curve(history_frame, run.file(PLOTS) / "learning_curve.png")

    results: dict[str, Any] = {}
    for part in ("val", "test"):
        scaled_forecast = predict_scaled(model, prepared, config, part)
        if not np.isfinite(scaled_forecast).all():
            raise RunError(
                f"The trained model forecasts NaN or infinite values on the {part} split; "
                "check the data for extreme values or lower training.optimizer.learning_rate."
            )
        results[part] = evaluation.compare_with_naive(
            prepared, part, scaled_forecast, config.window
        )
        if part == "test":
            _forecast_plot(prepared, config, scaled_forecast, run.file(PLOTS) / "forecast.png")

    metrics = {
        "model": config.model.type,
        **results,
        "training": {
            "epochs_trained": epochs_trained,
            "best_epoch": best_epoch,
            "parameters": int(model.count_params()),
            "train_windows": len(prepared.starts["train"]),
        },
        "run": {
            "format": RUN_FORMAT,
            "columns": list(table.columns),
            "targets": list(table.columns[: table.n_targets]),
            "n_series": table.n_series,
            "versions": _versions(),
        },
    }
    run.write_json(METRICS, metrics)
    run.remove_backup()
    return TrainResult(run.path, metrics, time.perf_counter() - started)
