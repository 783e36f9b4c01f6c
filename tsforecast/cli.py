"""Command-line interface: thin click commands over the library.

TensorFlow is imported only inside the commands that train or predict, so ``--help``,
``--version`` and ``validate`` answer at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import Any

import click

from tsforecast import __version__
from tsforecast.errors import RunError, TsForecastError

SUMMARY_METRICS = ("mae", "rmse", "mse", "mase", "smape", "scaled_mse", "scaled_mae")


def _quiet_tensorflow() -> None:
    """Import TensorFlow without its start-up log lines on standard error."""
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


def _quiet_libraries() -> None:
    """Keep library warnings and log lines off standard error, unless asked for with -W."""
    if not sys.warnoptions:
        warnings.simplefilter("ignore")
    for name in ("tensorflow", "absl", "keras"):
        logging.getLogger(name).setLevel(logging.ERROR)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
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
        _quiet_libraries()
        try:
            with _sigterm_as_interrupt():
                return command(*args, **kwargs)
        except TsForecastError as exc:
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Error: interrupted.", err=True)
            sys.exit(130)

    return wrapper


class _OneLineUsageError(click.UsageError):
    """A usage error shown like every other error: one ``Error: ...`` line."""

    def show(self, file: Any = None) -> None:
        hint = f" See '{self.ctx.command_path} --help'." if self.ctx is not None else ""
        click.echo(f"Error: {one_line(self.format_message())}{hint}", err=True)


class _Group(click.Group):
    """The command group; its usage errors (bad options, missing arguments) are one line."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _OneLineUsageError(exc.format_message(), exc.ctx) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            if isinstance(exc, _OneLineUsageError):
                raise
            raise _OneLineUsageError(exc.format_message(), exc.ctx) from None


def _format(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}"


def summary_table(metrics: dict[str, Any]) -> str:
    """Test metrics of the model beside the naive baseline, as aligned text."""
    test = metrics["test"]
    rows = [("metric", "model", "naive")]
    for name in SUMMARY_METRICS:
        rows.append((name, _format(test["model"][name]), _format(test["naive"][name])))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    verdict = "beats" if test["beats_naive"] else "does NOT beat"
    lines.append(
        f"On {test['n_windows']} test windows the model {verdict} the naive baseline (MSE)."
    )
    return "\n".join(lines)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tsforecast")
def main() -> None:
    """Train, evaluate and reload Keras time-series forecasters from one YAML file."""


@main.command()
@click.argument("config_path", metavar="CONFIG")
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key."
)
@click.option(
    "--resume",
    "resume_dir",
    metavar="RUN_DIR",
    help="Continue the interrupted run in RUN_DIR (same config) from its last completed epoch.",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not report each epoch.")
@reports_errors
def train(
    config_path: str, overrides: tuple[str, ...], resume_dir: str | None, quiet: bool
) -> None:
    """Train the model that CONFIG describes and write a run directory.

    The run directory is printed as the last line. A run stopped by Ctrl-C, SIGTERM or a
    crash continues with --resume and ends exactly as an uninterrupted run would.
    """
    from tsforecast.config import load_config

    config = load_config(config_path, overrides)
    _quiet_tensorflow()
    from tsforecast.training import train as train_model

    def progress(epoch: int, epochs: int, logs: dict[str, float]) -> None:
        losses = "  ".join(f"{k}={v:.5g}" for k, v in logs.items() if "loss" in k)
        click.echo(f"epoch {epoch}/{epochs}  {losses}", err=True)

    result = train_model(config, progress=None if quiet else progress, resume=resume_dir)
    click.echo(summary_table(result.metrics))
    click.echo(f"Trained in {result.seconds:.1f} s. Run directory:")
    click.echo(str(result.run_dir))


@main.command()
@click.argument("config_path", metavar="CONFIG")
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key."
)
@reports_errors
def validate(config_path: str, overrides: tuple[str, ...]) -> None:
    """Check CONFIG without reading data or training."""
    from tsforecast.config import load_config

    config = load_config(config_path, overrides)
    output = os.path.abspath(os.path.expanduser(config.output.dir))
    click.echo(
        f"{config_path}: valid ({config.model.type}, data {config.data.path}, runs in {output})."
    )


@main.command()
@click.argument("run_dir", metavar="RUN_DIR")
@click.option(
    "--input",
    "input_path",
    help="New data with the run's columns (default: the training file).",
)
@click.option(
    "--output",
    "output_path",
    help="Write the forecast CSV here (default: standard output).",
)
@reports_errors
def predict(run_dir: str, input_path: str | None, output_path: str | None) -> None:
    """Forecast the next horizon steps of every series with a trained run."""
    _quiet_tensorflow()
    from tsforecast.forecasting import predict as forecast
    from tsforecast.runs import write_atomically

    frame = forecast(run_dir, input_path)
    if output_path is None:
        click.echo(frame.to_csv(index=False), nl=False)
        return
    try:
        write_atomically(Path(output_path), frame.to_csv(index=False))
    except OSError as exc:
        raise RunError(f"Cannot write {output_path}: {exc.strerror or exc}.") from None
    click.echo(f"Wrote {len(frame)} forecast rows to {output_path}")
