"""Crash-safe training backups, so that an interrupted fit resumes bit-identically.

``keras.callbacks.BackupAndRestore`` backs up the weights and the optimizer at every epoch
end and restores them when ``fit`` starts again. On its own it is not enough for a resumed
run to end exactly like an uninterrupted one: it writes its weights and its epoch counter
in place one after the other (a kill between or during the two leaves a backup that
restores the wrong epoch or does not load), it does not keep the random state of dropout
layers, and the other callbacks (the best weights so far, EarlyStopping's patience, the
epoch history) start again from nothing. :class:`TrainingBackup` keeps all of that, saving
the weights with Keras, in one consistent state::

    .backup/state.json              epochs done, history, best epoch, random state
    .backup/epoch-N.weights.h5      model and optimizer after N epochs
    .backup/best-epoch-M.npz        the best epoch's model weights, kept while it stays the best

``state.json`` is replaced atomically once the weight files it names are complete, so a
kill at any moment leaves the previous consistent backup.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from tsforecast.errors import RunError
from tsforecast.files import write_atomically

#: Bumped when the layout of a backup changes incompatibly.
BACKUP_FORMAT = 3
STATE = "state.json"


#: The names a backup gives its weight files; any other name in state.json is refused, so
#: that a backup never reads a file outside its folder.
WEIGHTS_NAME = re.compile(r"epoch-[0-9]+\.weights\.h5")
BEST_NAME = re.compile(r"best-epoch-[0-9]+\.npz")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _state_problem(state: Any, backup_dir: Path) -> str | None:
    """What is wrong with a state.json (beyond its format and fingerprints), or None."""
    history, best = state.get("history"), state.get("best")
    if not isinstance(history, list) or not history:
        return "its history is missing"
    for epoch, logs in enumerate(history, start=1):
        if not isinstance(logs, dict) or not all(_number(v) for v in logs.values()):
            return f"the history of epoch {epoch} is not a mapping of numbers"
        if "loss" not in logs:
            return f"the history of epoch {epoch} has no loss"
    done = state.get("epochs_done")
    if not isinstance(done, int) or isinstance(done, bool) or done != len(history):
        return "epochs_done does not match its history"
    if not isinstance(state.get("stopped"), bool) or not isinstance(
        state.get("random_state"), list
    ):
        return "it lacks its stop flag or random state"
    weights = state.get("weights")
    if not isinstance(weights, str) or not WEIGHTS_NAME.fullmatch(weights):
        return "it names no weights file of its own"
    import h5py

    if not h5py.is_hdf5(backup_dir / weights):
        return f"{weights} is missing or damaged"
    if best is None:
        return None
    if not (
        isinstance(best, dict)
        and isinstance(best.get("epoch"), int)
        and _number(best.get("value"))
        and isinstance(best.get("weights"), str)
        and BEST_NAME.fullmatch(best["weights"])
    ):
        return "its best epoch is malformed"
    try:
        _read_arrays(backup_dir / best["weights"])
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return f"{best['weights']} is missing or damaged"
    return None


def read_state(backup_dir: Path, fingerprint: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """The last consistent backup in ``backup_dir``, or None when there is none.

    Every name, number and file it refers to is checked before training starts.

    Args:
        backup_dir: The backup folder of a run.
        fingerprint: Identifies the prepared data; a backup of other data is refused.
        config: The config being trained, as plain data; a backup made under another
            config (say, with a ``config.yaml`` edited since) is refused.

    Raises:
        RunError: if the backup is damaged, of another format, data or config.
    """
    from tsforecast.config import config_difference

    path = backup_dir / STATE
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        fmt = state["format"]
    except (OSError, ValueError, KeyError, TypeError):
        raise RunError(f"The training backup {path} is unreadable; start a new run.") from None
    if fmt != BACKUP_FORMAT:
        raise RunError(
            f"The training backup in {backup_dir} has format {fmt!r}; this version of "
            f"tsforecast resumes format {BACKUP_FORMAT}. Start a new run."
        )
    difference = config_difference(state.get("config") or {}, config)
    if difference:
        raise RunError(
            f"The config changed since this run's backup was made ({difference} in the "
            "backup), so it cannot be resumed; restore the run's config.yaml or start a new run."
        )
    if state.get("fingerprint") != fingerprint:
        raise RunError(
            "The data differs from the data this run was trained on, so it cannot be resumed; "
            "restore the original data file or start a new run."
        )
    problem = _state_problem(state, backup_dir)
    if problem:
        raise RunError(
            f"The training backup in {backup_dir} is damaged ({problem}); start a new run."
        )
    return state


def initial_epoch_of(state: dict[str, Any] | None, epochs: int) -> int:
    """The epoch ``fit`` resumes at: after the last backed-up one, or none if it had stopped."""
    if state is None:
        return 0
    return epochs if state["stopped"] else min(int(state["epochs_done"]), epochs)


def _random_state(model: Any) -> list[Any]:
    """The seed-generator variables (dropout's random state): not among the weights."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


class TrainingBackup(keras.callbacks.Callback):
    """Back up everything a resumed ``fit`` needs at epoch ends; restore it on start.

    A backup is written at the end of the first epoch that ends ``interval`` seconds or more
    after the previous one (or after the start of ``fit``); ``interval=0`` backs up every
    epoch. A resumed run restarts after the last backed-up epoch and, since every epoch's
    shuffle depends on ``(seed, epoch)`` alone, still ends exactly like an uninterrupted one.

    The best epoch's weights are kept in memory, and written beside the backup when it
    is written.

    Place it after the callbacks in ``replay``: their state is rebuilt by replaying the
    backed-up epoch logs through their ``on_epoch_end`` (EarlyStopping's wait and best).

    Args:
        backup_dir: Folder for the backup, created when needed; None keeps the history and
            the best weights in memory only.
        monitor: Logged quantity whose lowest value marks the best epoch.
        fingerprint: Identifies the prepared data (see :func:`read_state`).
        config: The config being trained, as plain data (see :func:`read_state`).
        state: The backup to restore at the start of ``fit`` (from :func:`read_state`).
        replay: Callbacks whose state is a function of the epoch logs alone.
        interval: Least seconds between two backups.

    Attributes:
        history: Logs of every epoch so far, the resumed ones included.
        best_epoch: Zero-based epoch with the lowest ``monitor``, or None.
        best_weights: The weights of ``best_epoch`` (``model.get_weights()``), or None.
        backups: Epoch counts that this ``fit`` backed up at.
    """

    def __init__(
        self,
        backup_dir: Path | None,
        monitor: str,
        fingerprint: str,
        config: dict[str, Any],
        state: dict[str, Any] | None = None,
        replay: Sequence[Any] = (),
        interval: float = 0.0,
    ) -> None:
        super().__init__()
        self.backup_dir = None if backup_dir is None else Path(backup_dir)
        self.monitor = monitor
        self.fingerprint = fingerprint
        self.config = config
        self.state = state
        self.replay = tuple(replay)
        self.interval = interval
        self.history: list[dict[str, float]] = []
        self.best_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None
        self.backups: list[int] = []
        self._best_value = math.inf
        self._best_file: str | None = None  # the best weights' file in the last backup
        self._last_backup = time.monotonic()

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._last_backup = time.monotonic()
        state = self.state
        if state is None:
            return
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:
            optimizer.build(self.model.trainable_variables)
        try:
            self.model.load_weights(self.backup_dir / state["weights"])
            random_state = _random_state(self.model)
            for variable, value in zip(random_state, state["random_state"], strict=True):
                variable.assign(np.asarray(value, dtype=variable.dtype))
            best = state["best"]
            if best is not None:
                self.best_weights = _read_arrays(self.backup_dir / best["weights"])
        except (OSError, ValueError, TypeError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RunError(
                f"Cannot restore the training backup in {self.backup_dir}: {reason}"
            ) from None
        self.history = [dict(logs) for logs in state["history"]]
        if best is not None:
            self.best_epoch, self._best_value = best["epoch"], best["value"]
            self._best_file = best["weights"]
        for epoch, epoch_logs in enumerate(self.history):
            for callback in self.replay:
                callback.on_epoch_end(epoch, dict(epoch_logs))
        self.model.stop_training = False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = {key: float(value) for key, value in (logs or {}).items()}
        self.history.append(logs)
        if not math.isfinite(logs.get("loss", math.nan)):
            return  # a diverged model is not worth resuming; training stops with an error
        if logs.get(self.monitor, math.nan) < self._best_value:  # False for NaN
            self.best_epoch, self._best_value = epoch, logs[self.monitor]
            self.best_weights = self.model.get_weights()
            self._best_file = None
        if self.backup_dir is None:
            return
        if self.interval > 0 and time.monotonic() - self._last_backup < self.interval:
            return
        self._write(epoch + 1)
        self._last_backup = time.monotonic()

    def _write(self, done: int) -> None:
        """Write the backup after ``done`` epochs, then drop the files of the previous one."""
        self.backup_dir.mkdir(parents=True, exist_ok=True)
        name = f"epoch-{done}.weights.h5"
        tmp = self.backup_dir / f".{name}.tmp.weights.h5"
        self.model.save_weights(tmp)
        os.replace(tmp, self.backup_dir / name)
        best = None
        if self.best_weights is not None:
            if self._best_file is None:
                self._best_file = f"best-epoch-{self.best_epoch + 1}.npz"
                _write_arrays(self.backup_dir / self._best_file, self.best_weights)
            best = {"epoch": self.best_epoch, "value": self._best_value, "weights": self._best_file}
        state = {
            "format": BACKUP_FORMAT,
            "fingerprint": self.fingerprint,
            "config": self.config,
            "epochs_done": done,
            "weights": name,
            "stopped": bool(self.model.stop_training),
            "random_state": [
                keras.ops.convert_to_numpy(v).tolist() for v in _random_state(self.model)
            ],
            "history": self.history,
            "best": best,
        }
        write_atomically(self.backup_dir / STATE, json.dumps(state))
        self.backups.append(done)
        keep = {STATE, name, self._best_file}
        for path in self.backup_dir.iterdir():
            if path.name not in keep:
                path.unlink(missing_ok=True)


def _write_arrays(path: Path, arrays: list[np.ndarray]) -> None:
    """Save ``arrays`` in order as an ``.npz`` file, atomically."""
    tmp = path.with_name(f".{path.name}.tmp.npz")
    np.savez(tmp, *arrays)
    os.replace(tmp, path)


def _read_arrays(path: Path) -> list[np.ndarray]:
    """The arrays written by :func:`_write_arrays`, in order (no pickled objects)."""
    with np.load(path, allow_pickle=False) as npz:
        return [npz[f"arr_{i}"] for i in range(len(npz.files))]
