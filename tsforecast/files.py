"""Writing files so that no reader ever sees one half-written."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from tsforecast.errors import ConfigError, RunError


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a new file beside ``path`` and rename it into place.

    The temporary file is opened exclusively (like ``tempfile.mkstemp``) but with the
    usual permissions, so files stay readable as the umask allows.
    """
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "x", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def expand_globs(arguments: list[str] | tuple[str, ...]) -> list[str]:
    """Arguments with quoted glob patterns (``'runs/*'``) expanded in sorted order; an
    argument that matches nothing, or is no pattern, is kept as given. Repeats are dropped."""
    import glob

    out: list[str] = []
    for argument in arguments:
        matches = sorted(glob.glob(argument)) if glob.has_magic(argument) else []
        out.extend(matches or [argument])
    return list(dict.fromkeys(out))


class LockHeld(Exception):
    """Another process holds the lock; ``pid`` names it where the system tells."""

    def __init__(self, pid: int | None) -> None:
        super().__init__(pid)
        self.pid = pid


class DirectoryLock:
    """An exclusive advisory lock on a directory, held by one process at a time.

    It is a ``flock`` on the directory's own descriptor, so it needs no lock file, and the
    system releases it when the process ends, however it ends.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now, or raise :class:`LockHeld` naming the holder's pid."""
        import fcntl

        fd = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockHeld(_flock_holder(self.path)) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None


def _flock_holder(path: Path) -> int | None:
    """The pid holding a flock on ``path``, read from ``/proc/locks`` (Linux), or None."""
    try:
        inode = os.stat(path).st_ino
        with open("/proc/locks", encoding="ascii") as locks:
            for line in locks:
                fields = line.split()
                # "1: FLOCK  ADVISORY  WRITE 12345 fd:01:123456 0 EOF"
                if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].endswith(f":{inode}"):
                    return int(fields[4])
    except (OSError, ValueError):
        return None
    return None


#: What marks a directory tsforecast wrote (the names of :mod:`tsforecast.runs`): a run
#: (its metrics or model beside its config, or a FAILED marker), a backtest or a tune.
_OWNED_ALONE = ("backtest.json", "search.yaml", "tune.json", "trials.csv")
_OWNED_WITH_CONFIG = ("metrics.json", "model.keras", "FAILED", ".backup", "scaler.json")


def owning_directory(path: str | Path) -> Path | None:
    """The run, backtest or tune directory ``path`` is (or lies inside), or None."""
    target = Path(path).resolve()
    for folder in (target, *target.parents):
        try:
            if not folder.is_dir():
                continue
            if any((folder / name).exists() for name in _OWNED_ALONE):
                return folder
            if (folder / "config.yaml").is_file() and any(
                (folder / name).exists() for name in _OWNED_WITH_CONFIG
            ):
                return folder
        except OSError:
            continue
    return None


def check_outside(path: str | Path, runs: list[Path], option: str) -> None:
    """Refuse to write ``path`` inside a run directory, the one being read (``runs``) or
    any other run, backtest or tune directory: every file there is that directory's.

    Raises:
        ConfigError: naming the option and the directory.
    """
    target = Path(path).resolve()
    for run in runs:
        folder = Path(run).resolve()
        if target == folder or folder in target.parents:
            raise ConfigError(
                f"{option} {path} is inside the run directory {folder}, whose files must not "
                "be overwritten; write it elsewhere."
            )
    owner = owning_directory(target)
    if owner is not None:
        raise ConfigError(
            f"{option} {path} is inside {owner}, a directory tsforecast wrote, whose files "
            "must not be overwritten; write it elsewhere."
        )


def write_output(path: str | Path, content: str | bytes, runs: list[Path], option: str) -> None:
    """Write a file the user named (``--output``, ``--html``), never into a run directory.

    Raises:
        ConfigError: when ``path`` lies inside one of ``runs``.
        RunError: when it cannot be written.
    """
    check_outside(path, runs, option)
    text = content if isinstance(content, str) else content.decode()
    try:
        write_atomically(Path(path), text)
    except OSError as exc:
        raise RunError(f"Cannot write {path}: {exc.strerror or exc}.") from None
