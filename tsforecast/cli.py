"""Command-line interface: thin click commands over the library.

TensorFlow is imported only inside the commands that train or predict, so ``--help``,
``--version`` and ``validate`` answer at once.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from tsforecast import __version__
from tsforecast.errors import TsForecastError

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


def reports_errors(command: Callable) -> Callable:
    """Turn library errors into one ``Error: ...`` line and the error's exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TsForecastError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Error: interrupted.", err=True)
            sys.exit(130)

    return wrapper


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
    interval = test["model"].get("interval")
    if interval is not None:
        levels = interval["levels"]
        lines.append(
            f"The {levels[0]:g}-{levels[-1]:g} quantile interval (nominal "
            f"{interval['nominal_coverage']:.0%}) covers {interval['coverage']:.1%} of test "
            f"values; mean width {interval['mean_width']:.4g}."
        )
    return "\n".join(lines)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tsforecast")
def main() -> None:
    """Train, evaluate and reload Keras time-series forecasters from one YAML file."""


@main.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key."
)
@click.option("--quiet", "-q", is_flag=True, help="Do not report each epoch.")
@reports_errors
def train(config_path: str, overrides: tuple[str, ...], quiet: bool) -> None:
    """Train the model that CONFIG describes and write a run directory.

    The run directory is printed as the last line.
    """
    from tsforecast.config import load_config

    config = load_config(config_path, overrides)
    _quiet_tensorflow()
    from tsforecast.training import train as train_model

    def progress(epoch: int, epochs: int, logs: dict[str, float]) -> None:
        losses = "  ".join(f"{k}={v:.5g}" for k, v in logs.items() if "loss" in k)
        click.echo(f"epoch {epoch}/{epochs}  {losses}", err=True)

    result = train_model(config, progress=None if quiet else progress)
    click.echo(summary_table(result.metrics))
    click.echo(f"Trained in {result.seconds:.1f} s. Run directory:")
    click.echo(str(result.run_dir))


@main.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key."
)
@reports_errors
def validate(config_path: str, overrides: tuple[str, ...]) -> None:
    """Check CONFIG without reading data or training."""
    from tsforecast.config import load_config

    config = load_config(config_path, overrides)
    click.echo(f"{config_path}: valid ({config.model.type}, data {config.data.path}).")


@main.command()
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(file_okay=False))
@click.option(
    "--input",
    "input_path",
    type=click.Path(dir_okay=False),
    help="New data with the run's columns (default: the training file).",
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the forecast CSV here (default: standard output).",
)
@reports_errors
def predict(run_dir: str, input_path: str | None, output_path: str | None) -> None:
    """Forecast the next horizon steps of every series with a trained run."""
    _quiet_tensorflow()
    from tsforecast.forecasting import predict as forecast

    frame = forecast(run_dir, input_path)
    if output_path is None:
        click.echo(frame.to_csv(index=False), nl=False)
        return
    try:
        frame.to_csv(output_path, index=False)
    except OSError as exc:
        click.echo(f"Error: cannot write {output_path}: {exc.strerror}.", err=True)
        sys.exit(1)
    click.echo(f"Wrote {len(frame)} forecast rows to {output_path}")
