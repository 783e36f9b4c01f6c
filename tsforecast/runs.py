"""The run directory: creating it, writing every artifact atomically, loading it back.

A run is complete when ``metrics.json`` exists, which is written last. A run that failed
holds a ``FAILED`` file with the error. Artifacts are written under temporary names and
renamed into place, so no file is ever seen half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tsforecast.config import Config, dump_config, load_config
from tsforecast.data.scaling import Scaler
from tsforecast.errors import RunError

#: Bumped when the layout of a run directory changes incompatibly.
RUN_FORMAT = 1
MIN_FREE_BYTES = 50 * 1024 * 1024

CONFIG = "config.yaml"
MODEL = "model.keras"
SCALER = "scaler.json"
HISTORY = "history.csv"
METRICS = "metrics.json"
FAILED = "FAILED"
PLOTS = "plots"
REQUIRED = (CONFIG, MODEL, SCALER, METRICS)


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class RunDir:
    """A run directory being written."""

    path: Path

    @classmethod
    def create(cls, config: Config) -> RunDir:
        """Make a new, uniquely named run directory under ``config.output.dir``.

        Raises:
            RunError: if the output folder cannot be written or the disk is nearly full.
        """
        parent = Path(config.output.dir).expanduser()
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunError(f"Cannot create output directory {parent}: {exc.strerror}.") from None
        if not os.access(parent, os.W_OK | os.X_OK):
            raise RunError(f"Output directory {parent} is not writable.")
        free = shutil.disk_usage(parent).free
        if free < MIN_FREE_BYTES:
            raise RunError(
                f"Only {free // (1024 * 1024)} MiB free in {parent}; a run needs at least "
                f"{MIN_FREE_BYTES // (1024 * 1024)} MiB."
            )
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
            (path / PLOTS).mkdir()
            return cls(path.resolve())
        raise RunError(f"Could not find a free run directory name under {parent}.")

    def file(self, name: str) -> Path:
        return self.path / name

    def write_text(self, name: str, text: str) -> None:
        _atomic_write(self.path / name, text)

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(data, indent=2, allow_nan=False) + "\n")

    def write_config(self, config: Config) -> None:
        self.write_text(CONFIG, dump_config(config))

    def write_scaler(self, scaler: Scaler) -> None:
        self.write_json(SCALER, scaler.to_dict())

    def save_model(self, model: Any) -> None:
        """Save a Keras model as ``model.keras`` via a temporary file."""
        tmp = self.path / ".model.tmp.keras"
        model.save(tmp)
        os.replace(tmp, self.path / MODEL)

    def mark_failed(self, message: str) -> None:
        """Leave a ``FAILED`` marker (never raises: it runs while handling an error)."""
        with contextlib.suppress(OSError):
            self.write_text(FAILED, message.rstrip() + "\n")


def run_status(path: Path) -> str | None:
    """Why ``path`` is not a usable run, or None when it is complete."""
    if not path.is_dir():
        return f"Run directory not found: {path}"
    if (path / FAILED).exists():
        reason = (path / FAILED).read_text(encoding="utf-8", errors="replace").strip()
        return f"Run {path} failed and cannot be used: {reason.splitlines()[0] if reason else ''}"
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        return f"Run {path} is unfinished or damaged: {missing[0]} is missing."
    return None


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
    try:
        metrics = json.loads((path / METRICS).read_text(encoding="utf-8"))
        fmt = metrics["run"]["format"]
    except (OSError, ValueError, KeyError, TypeError):
        raise RunError(f"Run {path} has an unreadable {METRICS}.") from None
    if fmt != RUN_FORMAT:
        raise RunError(
            f"Run {path} was written in run format {fmt}; this version of tsforecast reads "
            f"format {RUN_FORMAT}. Retrain it with this version."
        )
    config = load_config(path / CONFIG)
    try:
        scaler = Scaler.from_dict(json.loads((path / SCALER).read_text(encoding="utf-8")))
    except ValueError:
        raise RunError(f"Run {path} has an unreadable {SCALER}.") from None
    if len(scaler.offset_) != len(config.data.target_columns) + len(config.data.feature_columns):
        raise RunError(f"Run {path}: {SCALER} does not match the columns in {CONFIG}.")
    return LoadedRun(path, config, scaler, load_model(path / MODEL), metrics)


def load_model(path: Path) -> Any:
    """Load a ``.keras`` file with ``safe_mode=True`` and this package's layers registered."""
    import keras

    from tsforecast.models import layers, losses  # noqa: F401  (registers custom objects)

    try:
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except (OSError, ValueError, TypeError, KeyError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"Cannot load model {path}: {first}") from None
