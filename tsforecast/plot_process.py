"""Draw figures in a second Python process, so that they cost the run almost no time.

Drawing is pure Python and holds the interpreter lock, and importing matplotlib alone
takes most of a second. Keras' training loop of a small model keeps one core busy with
Python too, so a thread cannot draw or import beside it, but a process can: training
starts the process, which imports matplotlib while the model trains, and the figures are
then drawn there while the run evaluates its splits.

The process is plain ``python -c`` started by ``subprocess``, talking pickles over its
standard input and output. ``multiprocessing``'s spawn would re-import the caller's main
script in the child, which runs a user's unguarded script a second time.

If the process cannot start or dies, figures are drawn in this process instead, so a
figure never depends on it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

#: Run by ``python -c``; ``serve`` answers requests until its input closes.
_CHILD = "import sys; sys.path[:] = {path!r}; from tsforecast.plot_process import serve; serve()"

_lock = threading.Lock()
_process: subprocess.Popen | None = None
_owner = 0  # the pid that started ``_process``: a forked child must not share its pipes


def start() -> None:
    """Start the drawing process, if it is not running, so that it loads matplotlib now."""
    with _lock:
        _running()


def draw(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``function(*args, **kwargs)`` in the drawing process and return its result.

    A ``function`` that cannot be sent there (not importable by name, or with arguments
    that cannot be pickled) is called here. An exception it raises is raised here. Calls
    from several threads take turns; the process draws one figure at a time.
    """
    try:
        request = pickle.dumps((function, args, kwargs), pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        request = None  # a function defined inside another, say: draw it here
    with _lock:
        process = _running() if request is not None else None
        if process is not None:
            try:
                process.stdin.write(request)
                process.stdin.flush()
                ok, value = pickle.load(process.stdout)
            except (OSError, EOFError, pickle.PickleError):
                _stop(process)  # a dead or broken process: draw here instead
            except BaseException:
                _stop(process)  # interrupted: its next answer would be this call's
                raise
            else:
                if ok:
                    return value
                raise value
    return function(*args, **kwargs)


def pid() -> int | None:
    """The drawing process's id; None when this process has none running."""
    return _process.pid if _ours(_process) and _process.poll() is None else None


def stop() -> None:
    """End the drawing process, if this process started one; the next call starts another."""
    with _lock:
        if _ours(_process):
            _stop(_process)


def _ours(process: subprocess.Popen | None) -> bool:
    """Whether ``process`` is one that this process started (not one a parent forked from)."""
    return process is not None and _owner == os.getpid()


def _running() -> subprocess.Popen | None:
    """The live drawing process, started if needed; None if it cannot start."""
    global _process, _owner
    if not _ours(_process) or _process.poll() is not None:
        _process = None
    if _process is None and sys.executable:
        # the same import path as here, so that it imports this very tsforecast
        code = _CHILD.format(path=list(sys.path))
        try:
            _process = subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal signals the caller, not it
            )
        except OSError:
            return None
        _owner = os.getpid()
    return _process


def _stop(process: subprocess.Popen) -> None:
    """End the process; it holds no work between calls, so it is simply killed."""
    global _process
    if _process is process:
        _process = None
    process.kill()
    process.wait()
    for pipe in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            pipe.close()


@atexit.register
def _stop_at_exit() -> None:
    # without the lock: a thread that holds it at exit must not keep this process alive
    process = _process
    if _ours(process):
        _stop(process)


def serve() -> None:
    """The drawing process: answer pickled ``(function, args, kwargs)`` until input ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.nice(10)  # background work: a model training on every core comes first
    requests = sys.stdin.buffer
    # answers go to the original standard output; anything printed goes where standard
    # error goes (nowhere)
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _warm_up()
    while True:
        try:
            function, args, kwargs = pickle.load(requests)
        except EOFError:
            return
        try:
            answer = (True, function(*args, **kwargs))
        except Exception as exc:  # raised again in the caller, whatever it is
            answer = (False, exc)
        try:
            data = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
        except (pickle.PickleError, TypeError, AttributeError):
            data = pickle.dumps((False, RuntimeError(repr(answer[1]))))
        answers.write(data)
        answers.flush()


def _warm_up() -> None:
    """Load what every figure needs (matplotlib, its fonts, date axes) before the first
    request arrives, by drawing a tiny figure."""
    import io

    import numpy as np

    from tsforecast import plots

    fig = plots._figure(figsize=(1, 1))
    ax = fig.subplots()
    ax.plot(np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[h]"), [1, 2], label="a")
    ax.legend()
    ax.set_title("a")
    fig.savefig(io.BytesIO(), format="png", dpi=10)
