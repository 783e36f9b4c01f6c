"""The run directory: creating it, writing every artifact atomically, loading it back.

A run is complete when ``metrics.json`` exists, which is written last. A run that failed
holds a ``FAILED`` file with the error. Artifacts are written under temporary names and
renamed into place, so no file is ever seen half-written.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tsforecast.config import (
    Config,
    config_difference,
    config_to_dict,
    dump_config,
    load_config,
)
from tsforecast.config.data import input_columns
from tsforecast.data.scaling import Scaler
from tsforecast.errors import ConfigError, RunError
from tsforecast.evaluation import POINT_METRICS
from tsforecast.files import DirectoryLock, LockHeld, write_atomically

#: Bumped when the layout of a run directory changes incompatibly: 2 when the models
#: began to take category indices instead of names (Keras on JAX has no string tensors).
RUN_FORMAT = 2
#: Formats this version loads (a format-1 run, unless its model reads names).
READABLE_FORMATS = (1, RUN_FORMAT)
MIN_FREE_BYTES = 50 * 1024 * 1024
#: Bytes written per model parameter at most: model.keras, and in the backup the weights
#: and optimizer slots of the last and of the best epoch, plus one being replaced.
BYTES_PER_PARAMETER = 4 * 10

CONFIG = "config.yaml"
MODEL = "model.keras"
SCALER = "scaler.json"
HISTORY = "history.csv"
METRICS = "metrics.json"
FAILED = "FAILED"
PLOTS = "plots"
BACKUP = ".backup"
TENSORBOARD = "tensorboard"
REPORT = "report.html"
CANDIDATES = "candidates.csv"  # model.type auto: every candidate's validation scores
REQUIRED = (CONFIG, MODEL, SCALER, METRICS)

# A backtest directory: its config, these, and a fold-K/ folder per model fitted.
BACKTEST = "backtest.json"  # written last
FOLDS_CSV = "folds.csv"

# A tune directory.
SEARCH = "search.yaml"  # the resolved base config and search section, for --resume
TUNER_STATE = "keras_tuner"
TRIALS = "trials.csv"
BEST_CONFIG = "best_config.yaml"
TUNE_SUMMARY = "tune.json"  # written last


def _check_writable(folder: Path, needed: int = MIN_FREE_BYTES) -> None:
    """Raise RunError unless ``folder`` can be written and has ``needed`` bytes free."""
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RunError(f"Output directory {folder} is not writable.")
    try:
        free = shutil.disk_usage(folder).free
    except OSError as exc:
        raise RunError(f"Cannot check the free space in {folder}: {exc.strerror}.") from None
    if free < needed:
        raise RunError(
            f"Only {free // (1024 * 1024)} MiB free in {folder}; this run needs at least "
            f"{-(-needed // (1024 * 1024))} MiB."
        )


def _freshly_made(path: Path) -> bool:
    """Whether ``path`` holds no more than :meth:`RunDir.create` and a ``FAILED`` marker."""
    names = {p.name for p in path.iterdir()}
    plots = path / PLOTS
    return names <= {PLOTS, FAILED} and (not plots.is_dir() or not any(plots.iterdir()))


@dataclass(frozen=True)
class RunDir:
    """A run directory, held by this process while it writes there.

    Only one process writes a run directory at a time: :meth:`create` and :meth:`reopen`
    take an exclusive lock on it, which :meth:`release` (or the process's end) gives up.
    A second writer gets one RunError naming the holder's pid.
    """

    path: Path
    lock: DirectoryLock | None = field(default=None, compare=False, repr=False)

    @classmethod
    def held(cls, path: Path) -> RunDir:
        """``path`` (an existing directory), locked for writing by this process.

        Raises:
            RunError: when another process writes there.
        """
        lock = DirectoryLock(path)
        try:
            lock.acquire()
        except LockHeld as held:
            holder = f"process {held.pid}" if held.pid is not None else "another process"
            raise RunError(
                f"{path} is being written by {holder}; wait for it to finish (or stop it) "
                "before writing there again."
            ) from None
        except OSError as exc:
            raise RunError(f"Cannot open {path}: {exc.strerror or exc}.") from None
        return cls(path.resolve(), lock)

    def release(self) -> None:
        """Give up the lock; another process may write here from now on."""
        if self.lock is not None:
            self.lock.release()

    @classmethod
    def create(cls, config: Config) -> RunDir:
        """Make a new, uniquely named run directory under ``config.output.dir``.

        Raises:
            RunError: if the output folder cannot be written or the disk is nearly full.
        """
        parent = Path(os.path.expanduser(config.output.dir))
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise RunError(
                f"Cannot create output directory {parent}: a file is in the way."
            ) from None
        except OSError as exc:
            raise RunError(f"Cannot create output directory {parent}: {exc.strerror}.") from None
        except ValueError:
            raise RunError(f"Cannot create output directory {parent!r}.") from None
        _check_writable(parent)
        prefix = config.output.name or config.model.type
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for attempt in range(1000):
            name = f"{prefix}-{stamp}" + (f"-{attempt}" if attempt else "")
            path = parent / name
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise RunError(f"Cannot create run directory {path}: {exc.strerror}.") from None
            run = cls.held(path)
            (path / PLOTS).mkdir()
            return run
        raise RunError(f"Could not find a free run directory name under {parent}.")

    @classmethod
    def reopen(cls, path: str | Path, config: Config) -> RunDir:
        """An unfinished run directory of ``config``, to resume training into.

        Raises:
            RunError: if ``path`` is not an unfinished run or cannot be written.
            ConfigError: if ``config`` differs from the run's ``config.yaml``.
        """
        path = Path(path)
        try:
            found = path.is_dir()
        except OSError:
            found = False
        if not found:
            raise RunError(f"Run directory not found: {path}")
        run = cls.held(path)  # first: a run that another process writes must not be read
        try:
            run._check_resumable(config)
            _check_writable(path)
            (path / PLOTS).mkdir(exist_ok=True)
        except BaseException:
            run.release()
            raise
        return run

    def _check_resumable(self, config: Config) -> None:
        path = self.path
        if (path / METRICS).is_file():
            raise RunError(f"Run {path} is complete; there is nothing to resume.")
        for name, kind in ((BACKTEST, "backtest"), (FOLDS_CSV, "backtest"), (SEARCH, "tune")):
            if (path / name).exists():
                raise RunError(
                    f"{path} is a {kind} directory, not a training run; train --resume "
                    "continues training runs only."
                )
        if not (path / CONFIG).is_file():
            # Stopped between making the directory and writing its config: start it afresh.
            if not _freshly_made(path):
                raise RunError(f"{path} has no {CONFIG}, so it is not a run directory.")
            return
        try:
            saved = load_config(path / CONFIG)
        except ConfigError as exc:
            raise RunError(f"Run {path} has a {CONFIG} that cannot be used: {exc}") from None
        difference = config_difference(saved, config)
        if difference:
            raise ConfigError(
                f"--resume needs the config the run was started with: {difference} in "
                f"{path / CONFIG}. Resume with: tsforecast train {path / CONFIG} --resume {path}"
            )

    def check_free_space(self, n_parameters: int) -> None:
        """Raise RunError before training when the disk cannot hold this model's files."""
        _check_writable(self.path, MIN_FREE_BYTES + BYTES_PER_PARAMETER * n_parameters)

    def clear_failed(self) -> None:
        """Remove the ``FAILED`` marker of a run about to be resumed."""
        (self.path / FAILED).unlink(missing_ok=True)

    def remove_backup(self) -> None:
        """Delete the training backup of a finished run."""
        shutil.rmtree(self.path / BACKUP, ignore_errors=True)

    def file(self, name: str) -> Path:
        return self.path / name

    def write_text(self, name: str, text: str) -> None:
        write_atomically(self.path / name, text)

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(data, indent=2, allow_nan=False) + "\n")

    def write_history(self, history: list[dict[str, float]]) -> None:
        """history.csv: one row per epoch, numbered from 0 like Keras' CSVLogger (just the
        header for a model that was not trained)."""
        import pandas as pd

        if not history:
            self.write_text(HISTORY, "epoch,loss,val_loss\n")
            return
        frame = pd.DataFrame(history)
        frame.insert(0, "epoch", range(len(frame)))
        self.write_text(HISTORY, frame.to_csv(index=False))

    def write_config(self, config: Config) -> None:
        self.write_text(CONFIG, dump_config(config))

    def write_scaler(self, scaler: Scaler) -> None:
        self.write_json(SCALER, scaler.to_dict())

    def save_model(self, model: Any) -> None:
        """Save a Keras model as ``model.keras`` via a temporary file."""
        from tsforecast import engine

        engine.without_tensorflow()
        tmp = self.path / ".model.tmp.keras"
        model.save(tmp)
        os.replace(tmp, self.path / MODEL)

    def mark_failed(self, message: str) -> None:
        """Leave a ``FAILED`` marker, unless the run is already complete, and remove the
        temporary files a write stopped halfway left behind.

        Never raises: it runs while handling an error.
        """
        with contextlib.suppress(OSError):
            for folder in (self.path, self.path / BACKUP):
                for leftover in folder.glob(".*tmp*") if folder.is_dir() else ():
                    leftover.unlink(missing_ok=True)
            if not (self.path / METRICS).exists():
                self.write_text(FAILED, message.rstrip() + "\n")


def run_status(path: Path) -> str | None:
    """Why ``path`` is not a usable run, or None when it is complete."""
    try:
        return _run_status(path)
    except OSError as exc:
        return f"Cannot read run directory {path}: {exc.strerror or exc}."


def _run_status(path: Path) -> str | None:
    if not path.exists():
        return f"Run directory not found: {path}"
    if not path.is_dir():
        return f"Not a run directory: {path}"
    if (path / FAILED).exists():
        try:
            reason = (path / FAILED).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            reason = ""
        return f"Run {path} failed and cannot be used: {reason.splitlines()[0] if reason else ''}"
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        return f"Run {path} is unfinished or damaged: {missing[0]} is missing."
    return None


def _digest(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def fingerprints(config: Config, scaler: Scaler, model: Any) -> dict[str, str]:
    """SHA-256 fingerprints of what a run is made of, for ``run.files`` in metrics.json:
    the config (but its ``output`` section), the fitted scaler, and the model's layers and
    weights. A run whose files no longer agree with them is refused when loaded."""
    import numpy as np

    plain = {k: v for k, v in config_to_dict(config).items() if k != "output"}
    layers = [f"{type(layer).__name__}:{layer.name}" for layer in model.layers]
    weights = [np.ascontiguousarray(w).tobytes() for w in model.get_weights()]
    return {
        CONFIG: _digest(json.dumps(plain, sort_keys=True).encode()),
        SCALER: _digest(json.dumps(scaler.to_dict(), sort_keys=True).encode()),
        MODEL: _digest(json.dumps(layers).encode(), *weights),
    }


def read_json(path: Path) -> Any:
    """A JSON file the tool wrote; NaN and infinities, which it never writes, are refused.

    Raises:
        ValueError: if the file is not such JSON. OSError: if it cannot be read.
    """

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not a number")

    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _metrics_problem(metrics: Any) -> str | None:
    """What is wrong with the shape of a metrics.json, or None when it is as written."""
    if not isinstance(metrics, dict):
        return "it is not a mapping"
    for part in ("val", "test"):
        section = metrics.get(part)
        if not isinstance(section, dict):
            return f"{part} is missing"
        n = section.get("n_windows")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            return f"{part}.n_windows is not a positive integer"
        for who in ("model", "naive"):
            figures = section.get(who)
            if not isinstance(figures, dict):
                return f"{part}.{who} is missing"
            for name in POINT_METRICS:
                value = figures.get(name)
                if not (_is_number(value) or (value is None and name in ("mape", "smape"))):
                    return f"{part}.{who}.{name} is not a finite number"
        if not (_is_number(section.get("skill_mse")) or section.get("skill_mse") is None):
            return f"{part}.skill_mse is not a finite number"
        if not isinstance(section.get("beats_naive"), bool):
            return f"{part}.beats_naive is not true or false"
    files = metrics["run"].get("files", {})
    if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
        return "run.files is not a mapping of file names to fingerprints"
    return None


def read_metrics(path: Path) -> dict[str, Any]:
    """The ``metrics.json`` of a finished run, checked to be of this version's run format
    and of the shape training writes.

    Raises:
        RunError: if it is unreadable, damaged or of another format.
    """
    try:
        metrics = read_json(path / METRICS)
    except (OSError, ValueError):
        raise RunError(f"Run {path} has an unreadable {METRICS}.") from None
    run = metrics.get("run") if isinstance(metrics, dict) else None
    fmt = run.get("format") if isinstance(run, dict) else None
    if not isinstance(fmt, int) or isinstance(fmt, bool):
        raise RunError(f"Run {path} has a damaged {METRICS}: run.format is not an integer.")
    if fmt not in READABLE_FORMATS:
        raise RunError(
            f"Run {path} was written in run format {fmt}; this version of tsforecast reads "
            f"formats {' and '.join(map(str, READABLE_FORMATS))}. Retrain it with this version."
        )
    problem = _metrics_problem(metrics)
    if problem:
        raise RunError(f"Run {path} has a damaged {METRICS}: {problem}.")
    return metrics


def _check_fingerprints(run: LoadedRun) -> None:
    """A run's config, scaler and model must be those it was trained with (runs written
    before fingerprints were recorded are not checked).

    Raises:
        RunError: naming the first file that changed.
    """
    recorded = run.metrics["run"].get("files", {})
    found = fingerprints(run.config, run.scaler, run.model)
    for name, digest in found.items():
        if name in recorded and recorded[name] != digest:
            raise RunError(
                f"Run {run.path}: {name} is not the file this run was trained with (it was "
                "changed or replaced after training); restore it or retrain."
            )


@dataclass(frozen=True)
class LoadedRun:
    """A finished run read back from disk."""

    path: Path
    config: Config
    scaler: Scaler
    model: Any
    metrics: dict[str, Any]


def load_run(path: str | Path) -> LoadedRun:
    """Load a complete run directory; the model is loaded with ``safe_mode=True``.

    Raises:
        RunError: if the run is missing, unfinished, failed, damaged or of another format.
    """
    path = Path(path)
    problem = run_status(path)
    if problem:
        raise RunError(problem)
    metrics = read_metrics(path)
    try:
        config = load_config(path / CONFIG)
    except ConfigError as exc:
        raise RunError(f"Run {path} has a {CONFIG} that cannot be used: {exc}") from None
    try:
        scaler = Scaler.from_dict(read_json(path / SCALER))
    except (OSError, ValueError):
        raise RunError(f"Run {path} has an unreadable {SCALER}.") from None
    if scaler.kind != config.data.scaler:
        raise RunError(f"Run {path}: {SCALER} is a {scaler.kind} scaler, not {config.data.scaler}.")
    if scaler.offset_.shape[-1] != len(input_columns(config.data)):
        raise RunError(f"Run {path}: {SCALER} does not match the columns in {CONFIG}.")
    model = load_model(path / MODEL)
    run = LoadedRun(path, config, scaler, model, metrics)
    _check_fingerprints(run)
    _check_model_shape(model, config, path)
    return run


def _check_model_shape(model: Any, config: Config, path: Path) -> None:
    """The model must map one input window to one forecast of the configured shape."""
    import numpy as np

    from tsforecast.models.heads import read_output

    window, n_targets = config.window, len(config.data.target_columns)
    n_past = n_targets + len(config.data.feature_columns)
    # (1, input_width, n_past) [and the covariates] -> (1, horizon, n_targets)
    inputs: Any = np.zeros((1, window.input_width, n_past))
    if isinstance(model.input, dict):
        if any("string" in str(tensor.dtype) for tensor in model.input.values()):
            raise RunError(
                f"Run {path} was written in run format 1 and its model reads category "
                f"names; this version of tsforecast reads format {RUN_FORMAT} for such runs. "
                "Retrain it with this version."
            )
        inputs = {
            name: np.zeros((1, *tensor.shape[1:]), dtype=str(tensor.dtype))
            for name, tensor in model.input.items()
        }
        inputs["window"] = np.zeros((1, window.input_width, n_past))
    try:
        raw = model.predict_on_batch(inputs)
        shape = read_output(raw, config.model.params).point.shape
    except (ValueError, TypeError, IndexError, KeyError):
        shape = None
    if shape != (1, window.horizon, n_targets):
        raise RunError(
            f"Run {path}: {MODEL} does not fit its {CONFIG} (it does not map "
            f"{window.input_width} steps of {n_past} columns to {window.horizon} steps of "
            f"{n_targets} targets)."
        )


def register_layers() -> None:
    """Import every module of :mod:`tsforecast.models`, registering each custom Keras class
    it declares, so that any saved model loads in a process that trained none."""
    import importlib
    import pkgutil

    import tsforecast.models as models

    for module in pkgutil.iter_modules(models.__path__):
        importlib.import_module(f"{models.__name__}.{module.name}")


def load_model(path: Path) -> Any:
    """Load a ``.keras`` file with ``safe_mode=True`` and this package's layers registered."""
    import zipfile

    import keras

    from tsforecast import engine

    engine.without_tensorflow()
    register_layers()

    if not zipfile.is_zipfile(path):
        raise RunError(f"Cannot load model {path}: it is not a Keras model file (damaged?).")
    try:
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except (OSError, ValueError, TypeError, KeyError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"Cannot load model {path}: {first}") from None
