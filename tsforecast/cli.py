"""Command-line interface: thin click commands over the library.

TensorFlow is imported only inside the commands that train or predict, so ``--help``,
``--version``, ``validate`` and ``compare`` (without ``--plot``) answer at once.

Exit status of every command: 0 success, 1 a data or run error, 2 a config or usage error,
3 the work succeeded but a quality gate (``--fail-if-worse-than``, ``--max-metric``) failed,
130 interrupted.
"""

from __future__ import annotations

import contextlib
import glob
import json
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
from tsforecast.errors import ConfigError, RunError, TsForecastError

SUMMARY_METRICS = ("mae", "rmse", "mse", "mase", "smape", "scaled_mse", "scaled_mae")
#: Kept in step with tsforecast.gates.GATE_FAILED_EXIT_CODE (a test checks).
GATE_FAILED = 3
#: Parsed ``--max-metric`` thresholds and whether ``--fail-if-worse-than naive`` was given.
Gates = tuple[tuple, bool]


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


def _expand(arguments: tuple[str, ...]) -> list[str]:
    """Arguments with quoted glob patterns (``'configs/*.yaml'``) expanded, in order."""
    out: list[str] = []
    for argument in arguments:
        matches = sorted(glob.glob(argument)) if glob.has_magic(argument) else []
        out.extend(matches or [argument])
    return list(dict.fromkeys(out))


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, allow_nan=False))


def _aligned(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    )


def _epoch_progress(prefix: str = "") -> Callable[[int, int, dict[str, float]], None]:
    def progress(epoch: int, epochs: int, logs: dict[str, float]) -> None:
        losses = "  ".join(f"{k}={v:.5g}" for k, v in logs.items() if "loss" in k)
        click.echo(f"{prefix}epoch {epoch}/{epochs}  {losses}", err=True)

    return progress


def gate_options(command: Callable) -> Callable:
    """``--fail-if-worse-than`` and ``--max-metric``, shared by train and backtest."""
    command = click.option(
        "--max-metric",
        "max_metrics",
        multiple=True,
        metavar="PART.METRIC=LIMIT",
        help=f"Exit {GATE_FAILED} when the metric exceeds LIMIT, e.g. test.mase=1.0 (repeatable).",
    )(command)
    return click.option(
        "--fail-if-worse-than",
        "worse_than",
        metavar="naive",
        help=f"Exit {GATE_FAILED} when the model's test MSE is worse than the naive baseline's.",
    )(command)


def _parse_gates(worse_than: str | None, max_metrics: tuple[str, ...]) -> Gates:
    from tsforecast.gates import parse_threshold

    if worse_than is not None and worse_than != "naive":
        raise ConfigError(f"--fail-if-worse-than accepts only naive; got '{worse_than}'.")
    return tuple(parse_threshold(text) for text in max_metrics), worse_than == "naive"


def _report_gates(failures: list[str]) -> None:
    for failure in failures:
        click.echo(f"Gate failed: {failure}.", err=True)


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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tsforecast")
def main() -> None:
    """Train, evaluate and reload Keras time-series forecasters from one YAML file."""


def _train_config(
    path: str,
    overrides: tuple[str, ...],
    quiet: bool,
    gates: Gates,
    resume_dir: str | None = None,
) -> tuple[dict[str, Any], Any]:
    """Train one config; its summary record and the training result."""
    from tsforecast.config import load_config
    from tsforecast.gates import check_gates

    config = load_config(path, overrides)
    _quiet_tensorflow()
    from tsforecast.training import train as train_model

    result = train_model(config, progress=None if quiet else _epoch_progress(), resume=resume_dir)
    record: dict[str, Any] = {
        "config": path,
        "status": "ok",
        "run_dir": None if result.run_dir is None else str(result.run_dir),
        "seconds": round(result.seconds, 3),
        "gates_failed": [],
        "error": None,
        "metrics": {
            part: result.metrics[part] for part in ("val", "test") if part in result.metrics
        },
    }
    if result.run_dir is None:
        record["status"] = "worker"
    else:
        record["gates_failed"] = check_gates(result.metrics, *gates)
        if record["gates_failed"]:
            record["status"] = "gate_failed"
    return record, result


def _error_record(path: str, exc: BaseException) -> dict[str, Any]:
    message = str(exc) if isinstance(exc, TsForecastError) else f"{type(exc).__name__}: {exc}"
    return {
        "config": path,
        "status": "error",
        "run_dir": None,
        "seconds": None,
        "gates_failed": [],
        "error": message,
        "exit_code": exc.exit_code if isinstance(exc, TsForecastError) else 1,
        "metrics": {},
    }


def _exit_code(records: list[dict[str, Any]]) -> int:
    errors = [r for r in records if r["status"] == "error"]
    if errors:
        return errors[0]["exit_code"] if len(records) == 1 else 1
    return GATE_FAILED if any(r["status"] == "gate_failed" for r in records) else 0


def _train_report(records: list[dict[str, Any]]) -> dict[str, Any]:
    code = _exit_code(records)
    return {"command": "train", "ok": code == 0, "exit_code": code, "runs": records}


def batch_table(records: list[dict[str, Any]]) -> str:
    """One line per config: status, test metrics beside naive, and run directory or error."""
    rows = [("config", "status", "test mse", "naive mse", "test mase", "skill", "seconds", "run")]
    for r in records:
        test = r["metrics"].get("test")
        figures = ["-"] * 4
        if test:
            figures = [
                _format(test["model"]["mse"]),
                _format(test["naive"]["mse"]),
                _format(test["model"]["mase"]),
                _format(test["skill_mse"]),
            ]
        where = r["run_dir"] or r["error"] or ""
        seconds = "-" if r["seconds"] is None else f"{r['seconds']:.1f}"
        rows.append((r["config"], r["status"].replace("_", " "), *figures, seconds, where))
    counts = {s: sum(r["status"] == s for r in records) for s in ("ok", "gate_failed", "error")}
    return (
        _aligned(rows)
        + f"\n{len(records)} configs: {counts['ok']} ok, {counts['gate_failed']} failed a quality "
        f"gate, {counts['error']} failed."
    )


def _batch_errors() -> tuple[type[BaseException], ...]:
    """What one config of a batch may fail with without stopping the others."""
    import tensorflow as tf

    return (
        TsForecastError,
        tf.errors.OpError,
        ArithmeticError,
        LookupError,
        OSError,
        RuntimeError,
        TypeError,
        ValueError,
    )


@main.command()
@click.argument("config_paths", metavar="CONFIG...", nargs=-1)
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key."
)
@click.option(
    "--resume",
    "resume_dir",
    metavar="RUN_DIR",
    help="Continue the interrupted run in RUN_DIR (same config) from its last backed-up epoch.",
)
@click.option("--quiet", "-q", is_flag=True, help="Do not report each epoch.")
@gate_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of tables.")
@reports_errors
def train(
    config_paths: tuple[str, ...],
    overrides: tuple[str, ...],
    resume_dir: str | None,
    quiet: bool,
    worse_than: str | None,
    max_metrics: tuple[str, ...],
    as_json: bool,
) -> None:
    """Train each CONFIG's model and write a run directory for it.

    With one CONFIG the run directory is printed as the last line. Several (for example
    configs/*.yaml) train one after another, continuing past failures, and a summary table
    ends the output. A run stopped by Ctrl-C, SIGTERM or a crash continues with --resume
    (one CONFIG) and ends exactly as an uninterrupted run would.

    Exit status: 0 trained (and passed every gate); 1 a data or run error (with several
    CONFIGs: any config failed); 2 a config or usage error; 3 trained, but a quality gate
    failed.
    """
    gates = _parse_gates(worse_than, max_metrics)
    paths = _expand(config_paths)
    if not paths:
        raise ConfigError("train needs at least one CONFIG file.")
    if resume_dir is not None and len(paths) != 1:
        raise ConfigError("--resume continues one run; give exactly one CONFIG with it.")
    if len(paths) == 1:
        _train_single(paths[0], overrides, quiet, gates, as_json, resume_dir)
    else:
        _train_batch(paths, overrides, quiet, gates, as_json)


def _exit_with(records: list[dict[str, Any]]) -> None:
    code = _exit_code(records)
    if code:
        sys.exit(code)


def _train_single(
    path: str,
    overrides: tuple[str, ...],
    quiet: bool,
    gates: Gates,
    as_json: bool,
    resume_dir: str | None = None,
) -> None:
    try:
        record, result = _train_config(path, overrides, quiet, gates, resume_dir)
    except TsForecastError as exc:
        if as_json:
            _echo_json(_train_report([_error_record(path, exc)]))
        raise
    if as_json:
        _echo_json(_train_report([record]))
    elif record["status"] == "worker":
        click.echo("This worker trained its share; the chief writes the run directory.", err=True)
    else:
        click.echo(summary_table(result.metrics))
        _report_gates(record["gates_failed"])
        click.echo(f"Trained in {result.seconds:.1f} s. Run directory:")
        click.echo(str(result.run_dir))
    _exit_with([record])


def _train_batch(
    paths: list[str], overrides: tuple[str, ...], quiet: bool, gates: Gates, as_json: bool
) -> None:
    records = []
    for i, path in enumerate(paths, start=1):
        click.echo(f"[{i}/{len(paths)}] {path}", err=True)
        _quiet_tensorflow()
        try:
            record, _ = _train_config(path, overrides, quiet, gates)
        except _batch_errors() as exc:
            record = _error_record(path, exc)
            click.echo(f"Error: {path}: {record['error']}", err=True)
        else:
            _report_gates(record["gates_failed"])
        records.append(record)
    if as_json:
        _echo_json(_train_report(records))
    else:
        click.echo(batch_table(records))
    _exit_with(records)


@main.command()
@click.argument("config_path", metavar="CONFIG")
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key."
)
@reports_errors
def validate(config_path: str, overrides: tuple[str, ...]) -> None:
    """Check CONFIG without reading data or training.

    A search section is checked too.
    """
    from tsforecast.search import load_search

    config, search = load_search(config_path, overrides)
    data = config.data.path or config.data.source
    output = os.path.abspath(os.path.expanduser(config.output.dir))
    line = f"{config_path}: valid ({config.model.type}, data {data}, runs in {output})."
    if search is not None:
        keys = ", ".join(p.path for p in search.params)
        line += f" Search: {search.settings.algorithm} over {keys}."
    click.echo(line)


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


@main.command()
@click.argument("suite", type=click.Choice(["homl", "ett", "all"]))
@click.option("--quick", is_flag=True, help="Few epochs, one horizon, few series: a smoke test.")
@click.option(
    "--benchmarks",
    "bench_dir",
    default="benchmarks",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder holding the suite manifests and their configs.",
)
@click.option(
    "--results",
    "results_dir",
    type=click.Path(file_okay=False),
    help="Where results.json and RESULTS.md go (default: the benchmarks folder; "
    "runs/bench-quick with --quick).",
)
@click.option(
    "--runs",
    "runs_dir",
    default="runs/bench",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Parent folder of the benchmark run directories.",
)
@reports_errors
def bench(suite: str, quick: bool, bench_dir: str, results_dir: str | None, runs_dir: str) -> None:
    """Re-run published benchmark tables (SUITE: homl, ett or all) and write RESULTS.md."""
    from pathlib import Path

    _quiet_tensorflow()
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # many short runs in one process trigger retracing notes
    from tsforecast.bench import SUITES
    from tsforecast.bench import bench as run_bench

    suites = list(SUITES) if suite == "all" else [suite]
    if results_dir is None:
        results_dir = "runs/bench-quick" if quick else bench_dir
    records = run_bench(
        suites,
        Path(bench_dir),
        Path(results_dir),
        Path(runs_dir).resolve(),
        quick=quick,
        progress=lambda message: click.echo(message, err=True),
    )
    for record in records:
        if record["status"] != "ok":
            ours = record["status"]
        else:
            ours = f"{record['metric']} {record['ours']:.4g}"
            if record["published"] is not None:
                ours += f" (published {record['published']:.4g})"
        click.echo(
            f"{record['suite']}  {record['dataset']}  {record['task']}  {record['model']}: {ours}"
        )
    click.echo(f"Wrote {Path(results_dir) / 'RESULTS.md'} and {Path(results_dir) / 'results.json'}")


def backtest_table(summary: dict[str, Any]) -> str:
    """Per-fold test metrics beside naive, their mean, and a verdict."""
    rows = [("fold", "origin", "windows", "mse", "naive mse", "mae", "naive mae", "mase", "skill")]

    def figures(test: dict[str, Any]) -> tuple[str, ...]:
        model, naive = test["model"], test["naive"]
        return (
            str(test["n_windows"]),
            _format(model["mse"]),
            _format(naive["mse"]),
            _format(model["mae"]),
            _format(naive["mae"]),
            _format(model["mase"]),
            _format(test["skill_mse"]),
        )

    for fold in summary["folds"]:
        rows.append((str(fold["fold"]), str(fold["origin"]), *figures(fold["test"])))
    mean = summary["aggregate"]["test"]
    rows.append(("mean", "", *figures(mean)))
    verdict = "beats" if mean["beats_naive"] else "does NOT beat"
    return (
        _aligned(rows)
        + f"\nOn average the model {verdict} the naive baseline (MSE); it beats it in "
        f"{mean['folds_beating_naive']} of {len(summary['folds'])} folds."
    )


@main.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--folds", default=5, show_default=True, help="Number of folds.")
@click.option(
    "--step",
    type=int,
    default=None,
    help="Forecast origins per fold, i.e. rows between fold origins (default: the test "
    "split's windows divided by --folds).",
)
@click.option(
    "--refit",
    is_flag=True,
    help="Refit the scaler and the model for every fold (default: fit once, before the first).",
)
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key."
)
@click.option("--quiet", "-q", is_flag=True, help="Do not report each epoch.")
@gate_options
@click.option("--json", "as_json", is_flag=True, help="Print backtest.json instead of tables.")
@reports_errors
def backtest(
    config_path: str,
    folds: int,
    step: int | None,
    refit: bool,
    overrides: tuple[str, ...],
    quiet: bool,
    worse_than: str | None,
    max_metrics: tuple[str, ...],
    as_json: bool,
) -> None:
    """Rolling-origin evaluation of CONFIG, fold by fold.

    Each fold forecasts from later origins than the one before and fits only on data
    before its first origin. Prints each fold's test
    metrics beside the naive baseline and their mean; the backtest directory is the last
    line. Gates apply to the mean over folds (exit status as for train).
    """
    from tsforecast.config import load_config
    from tsforecast.gates import check_gates

    gates = _parse_gates(worse_than, max_metrics)
    config = load_config(config_path, overrides)
    _quiet_tensorflow()
    from tsforecast.backtest import backtest as run_backtest

    def progress(fold: int, n_folds: int, epoch: int, epochs: int, logs: dict) -> None:
        _epoch_progress(f"fold {fold}/{n_folds}  ")(epoch, epochs, logs)

    result = run_backtest(
        config, folds, step=step, refit=refit, progress=None if quiet else progress
    )
    failures = check_gates(result.summary["aggregate"], *gates)
    if as_json:
        _echo_json({"backtest_dir": str(result.path), "gates_failed": failures, **result.summary})
    else:
        click.echo(backtest_table(result.summary))
        _report_gates(failures)
        click.echo(f"Backtested in {result.seconds:.1f} s. Backtest directory:")
        click.echo(str(result.path))
    if failures:
        sys.exit(GATE_FAILED)


@main.command()
@click.argument("run_dirs", metavar="RUN_DIR...", nargs=-1)
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    metavar="table|markdown|csv|json",
    help="Leaderboard format.",
)
@click.option(
    "--sort-by",
    default="test.mse",
    show_default=True,
    metavar="PART.METRIC",
    help="Rank by this metric, e.g. test.mase, val.mse or test.skill_mse (higher first).",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    help="Also draw the runs' forecasts over their shared test window into this PNG.",
)
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@reports_errors
def compare(
    run_dirs: tuple[str, ...], fmt: str, sort_by: str, plot_path: str | None, as_json: bool
) -> None:
    """Rank finished runs beside the naive baseline.

    RUN_DIR... may be a glob such as 'runs/*'; paths that are not finished runs are
    skipped with a note on standard error.
    """
    from tsforecast.compare import FORMATS, leaderboard, plot_forecasts, read_runs, render
    from tsforecast.gates import parse_metric

    fmt = "json" if as_json else fmt
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}; got '{fmt}'.")
    metric = parse_metric(sort_by, "--sort-by")
    if not run_dirs:
        raise ConfigError("compare needs at least one RUN_DIR.")
    runs, skipped = read_runs(run_dirs)
    for reason in skipped:
        click.echo(f"Skipped: {reason}", err=True)
    if plot_path is not None:
        _quiet_tensorflow()
        try:
            plot_forecasts(runs, plot_path)
        except OSError as exc:
            raise ConfigError(f"Cannot write {plot_path}: {exc.strerror}.") from None
        click.echo(f"Wrote the forecasts of {len(runs)} runs to {plot_path}", err=True)
    click.echo(render(leaderboard(runs, metric), fmt), nl=False)


@main.command()
@click.argument("config_path", metavar="[CONFIG]", required=False)
@click.option("--resume", "resume_dir", metavar="DIR", help="Continue the search in DIR.")
@click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key."
)
@click.option("--quiet", "-q", is_flag=True, help="Do not report each trial.")
@click.option("--json", "as_json", is_flag=True, help="Print tune.json instead of tables.")
@reports_errors
def tune(
    config_path: str | None,
    resume_dir: str | None,
    overrides: tuple[str, ...],
    quiet: bool,
    as_json: bool,
) -> None:
    """Search CONFIG's search space with KerasTuner.

    Trials are compared on validation loss only. Writes a tune directory holding
    trials.csv and best_config.yaml (train it with `tsforecast train`); the directory is
    the last line. An interrupted search continues with --resume DIR.
    """
    _quiet_tensorflow()
    from tsforecast.tuning import SUMMARY
    from tsforecast.tuning import tune as run_tune

    def progress(row: dict[str, Any]) -> None:
        loss = row["val_loss"]
        outcome = f"val_loss={loss:.5g}" if loss is not None else f"failed: {row['error']}"
        click.echo(f"trial {row['trial']}: {outcome}", err=True)

    result = run_tune(
        config_path, overrides, resume=resume_dir, progress=None if quiet else progress
    )
    if as_json:
        click.echo((result.path / SUMMARY).read_text(encoding="utf-8"), nl=False)
        return
    shown = result.trials.head(10)
    if not shown["error"].astype(bool).any():
        shown = shown.drop(columns="error")
    click.echo(shown.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4g}"))
    click.echo(
        f"Best val_loss {result.best_val_loss:.5g} of {len(result.trials)} trials in "
        f"{result.seconds:.1f} s. Train it with: tsforecast train "
        f"{result.path / 'best_config.yaml'}"
    )
    click.echo("Tune directory:")
    click.echo(str(result.path))
