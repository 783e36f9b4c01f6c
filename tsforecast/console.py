"""What the command line shows on the terminal: one-line errors, quiet libraries,
progress lines, and SIGTERM handled like Ctrl-C.

Used by :mod:`tsforecast.cli`; nothing here imports Keras or TensorFlow unless asked to.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from functools import wraps
from typing import Any

import click

from tsforecast.errors import TsForecastError


def quiet_engine() -> None:
    """Keep the log lines of JAX and XLA off standard error (such as the note that a GPU
    was found but no CUDA-enabled jaxlib is installed)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # XLA's C++ logging
    for name in ("jax", "jax._src.xla_bridge", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


def quiet_tensorflow() -> None:
    """Import TensorFlow (which only ``export`` uses) without its start-up log lines on
    standard error."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def one_line(message: str) -> str:
    """``message`` on one line: line breaks and other control characters escaped.

    Messages quote values from the user's files, which may hold any character.
    """
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in message.strip())


def quiet_libraries() -> None:
    """Keep library warnings and log lines off standard error, unless asked for with -W."""
    if not sys.warnoptions:
        warnings.simplefilter("ignore")
    for name in ("tensorflow", "absl", "keras", "jax"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Handle SIGTERM like Ctrl-C, so a stopped run is marked and can be resumed."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave the signal alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def reports_errors(command: Callable) -> Callable:
    """Turn library errors into one ``Error: ...`` line and the error's exit code.

    SIGTERM is handled like Ctrl-C, so a stopped training run is marked resumable.
    """

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        quiet_libraries()
        try:
            with sigterm_as_interrupt():
                return command(*args, **kwargs)
        except TsForecastError as exc:
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Error: interrupted.", err=True)
            sys.exit(130)
        except OSError as exc:  # a full disk, a race for one path, a dangling link
            click.echo(f"Error: {one_line(os_error_text(exc))}", err=True)
            sys.exit(1)

    return wrapper


def os_error_text(exc: OSError) -> str:
    """An operating system error in words: what failed, on which path."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"No space left to write{where}: {reason}. Free some space and run it again."
    return f"Cannot use{where}: {reason}."


class OneLineUsageError(click.UsageError):
    """A usage error shown like every other error: one ``Error: ...`` line."""

    def show(self, file: Any = None) -> None:
        hint = f" See '{self.ctx.command_path} --help'." if self.ctx is not None else ""
        click.echo(f"Error: {one_line(self.format_message())}{hint}", err=True)


class Group(click.Group):
    """The command group; its usage errors (bad options, missing arguments) are one line."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise OneLineUsageError(exc.format_message(), exc.ctx) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            if isinstance(exc, OneLineUsageError):
                raise
            raise OneLineUsageError(exc.format_message(), exc.ctx) from None


def training_progress(prefix: str = "") -> Any:
    """How a fit reports on standard error: a line per epoch, and, on an interactive
    terminal, a bar within each epoch (steps, rate, time left, loss)."""
    import time

    from tsforecast.training.fit import Progress

    started = {"at": 0.0, "last": 0.0}

    def epoch(epoch: int, epochs: int, logs: dict[str, float]) -> None:
        losses = "  ".join(f"{k}={v:.5g}" for k, v in logs.items() if "loss" in k)
        line = f"{prefix}epoch {epoch}/{epochs}  {losses}"
        click.echo(f"\r{line:<79}" if tty else line, err=True)

    def batch(epoch: int, epochs: int, step: int, steps: int, logs: dict[str, float]) -> None:
        now = time.monotonic()
        if step == 1:  # the rate is known from the second step on
            started["at"] = started["last"] = now
            return
        if step < steps and now - started["last"] < 0.1:
            return
        started["last"] = now
        rate = step / max(now - started["at"], 1e-9)
        left = (steps - step) / rate if rate > 0 else 0.0
        done = int(20 * step / steps)
        bar = "#" * done + "-" * (20 - done)
        loss = logs.get("loss", float("nan"))
        text = (
            f"{prefix}epoch {epoch}/{epochs} [{bar}] {step}/{steps}  {rate:.0f} steps/s  "
            f"ETA {left:.0f} s  loss={loss:.5g}"
        )
        click.echo(f"\r{text:<79}", err=True, nl=False)

    tty = sys.stderr.isatty()
    return Progress(epoch=epoch, batch=batch if tty else None)


def fold_progress(fold: int, n_folds: int) -> Any:
    """The progress of the fit of a backtest fold."""
    return training_progress(f"fold {fold}/{n_folds}  ")


def trial_progress(row: dict[str, Any]) -> None:
    """The line of a finished search trial."""
    loss = row["val_loss"]
    outcome = f"val_loss={loss:.5g}" if loss is not None else f"failed: {row['error']}"
    click.echo(f"trial {row['trial']}: {outcome}", err=True)


def echo_json(data: Any) -> None:
    """Print ``data`` as the commands' JSON (indented, no NaN)."""
    from tsforecast.reports import to_json

    click.echo(to_json(data))


def report_gates(failures: list[str]) -> None:
    """One ``Gate failed: ...`` line per failed quality gate, on standard error."""
    for failure in failures:
        click.echo(f"Gate failed: {failure}.", err=True)


def batch_start(i: int, n: int, path: str) -> None:
    """The line announcing config ``i`` of ``n`` in a batch."""
    click.echo(f"[{i}/{n}] {path}", err=True)


def report(record: dict[str, Any]) -> None:
    """What a trained config adds to standard error: its error, failed gates, or a note."""
    if record["status"] == "error":
        click.echo(f"Error: {record['config']}: {one_line(record['error'])}", err=True)
    elif record["status"] == "worker":
        click.echo("This worker trained its share; the chief writes the run directory.", err=True)
    report_gates(record["gates_failed"])
