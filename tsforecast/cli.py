"""Command-line interface: thin click commands over the library.

Keras (on JAX) is imported only inside the commands that train or predict, and TensorFlow
only by ``export``, so ``--help``, ``--version``, ``validate`` and ``compare`` (without
``--plot``) answer at once.

Exit status of every command: 0 success, 1 a data or run error, 2 a config or usage error,
3 the work succeeded but a quality gate (``--fail-if-worse-than``, ``--max-metric``) failed,
130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from tsforecast import __version__
from tsforecast.console import (
    Group,
    batch_start,
    echo_json,
    fold_progress,
    one_line,
    quiet_engine,
    quiet_tensorflow,
    report,
    report_gates,
    reports_errors,
    training_progress,
    trial_progress,
)
from tsforecast.errors import GATE_FAILED_EXIT_CODE as GATE_FAILED
from tsforecast.errors import ConfigError, TsForecastError

overrides_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config key."
)
quiet_option = click.option("--quiet", "-q", is_flag=True, help="Do not report each epoch.")


def folder_option(flag: str, dest: str, default: str | None, help: str) -> Callable:
    return click.option(flag, dest, default=default, type=click.Path(file_okay=False), help=help)


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
        metavar="BASELINE",
        help=f"Exit {GATE_FAILED} when the model's test MSE is worse than the baseline's: "
        "naive, seasonal_naive, or ets, theta, arima (with evaluation.baselines).",
    )(command)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tsforecast")
def main() -> None:
    """Train, evaluate and reload Keras time-series forecasters from one YAML file."""


@main.command()
@click.argument("config_paths", metavar="CONFIG...", nargs=-1)
@overrides_option
@click.option("--resume", "resume_dir", metavar="RUN_DIR", help="Continue the run in RUN_DIR.")
@quiet_option
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
    from tsforecast.config import load_config
    from tsforecast.files import expand_globs
    from tsforecast.gates import parse_gates

    gates = parse_gates(worse_than, max_metrics)
    paths = expand_globs(config_paths)
    if not paths:
        raise ConfigError("train needs at least one CONFIG file.")
    if resume_dir is not None and len(paths) != 1:
        raise ConfigError("--resume continues one run; give exactly one CONFIG with it.")
    progress = None if quiet else training_progress()
    config = load_config(paths[0], overrides) if len(paths) == 1 else None  # errors first
    quiet_engine()
    from tsforecast.commands import train as commands
    from tsforecast.reports import batch_table, train_summary

    if config is None:
        records = commands.train_many(
            paths, overrides, gates, progress=progress, starting=batch_start, finished=report
        )
    else:
        try:
            record = commands.train_config(
                paths[0], config, gates, progress=progress, resume=resume_dir
            )
        except TsForecastError as exc:
            if as_json:
                echo_json(commands.batch_report([commands.error_record(paths[0], exc)]))
            raise
        report(record)
        records = [record]
    if as_json:
        echo_json(commands.batch_report(records))
    elif config is None:
        click.echo(batch_table(records))
    elif record["run_dir"] is not None:  # a worker of a cluster writes no run directory
        click.echo(train_summary(record))
    sys.exit(commands.exit_code(records))


@main.command()
@click.argument("data_path", metavar="DATA")
@click.option("--horizon", type=click.IntRange(min=1), help="Steps to forecast.")
@click.option("--time-column", help="The timestamp column, when init cannot tell.")
@click.option("--target", "targets", multiple=True, help="A column to forecast (repeatable).")
@click.option("--id-column", help="The column naming the series of a long table.")
@click.option("--output", "-o", "output_path", help="Write the config here (default: stdout).")
@reports_errors
def init(
    data_path: str,
    horizon: int | None,
    time_column: str | None,
    targets: tuple[str, ...],
    id_column: str | None,
    output_path: str | None,
) -> None:
    """Draft a commented config for the CSV or Parquet file DATA.

    Infers the time column and its frequency, the series id column, the targets and
    inputs, a window and a split suited to them, and writes model.type auto.
    """
    from tsforecast.commands.init import draft_config, save

    folder = Path(output_path).parent if output_path else Path.cwd()
    found = dict(time_column=time_column, id_column=id_column, targets=targets)
    draft = draft_config(data_path, config_dir=folder, horizon=horizon, **found)
    if output_path is None:
        click.echo(draft.text, nl=False)
        return
    save(draft, output_path)
    click.echo("\n".join(draft.summary))
    click.echo(f"Wrote {output_path}; train it with: tsforecast train {output_path}")


@main.command()
@click.argument("run_dir", metavar="RUN_DIR")
@click.option(
    "--format", "fmt", default="saved_model", show_default=True, help="saved_model|tflite"
)
@click.option("--output", "output_path", required=True, help="The SavedModel folder or file.")
@reports_errors
def export(run_dir: str, fmt: str, output_path: str) -> None:
    """Export RUN_DIR as a SavedModel or a TFLite file that forecasts in original units.

    Scaling and target transforms are inside; tsforecast.json beside it names the inputs.
    """
    quiet_tensorflow()
    from tsforecast.commands.export import export as write

    described = write(run_dir, fmt, output_path)
    inputs = ", ".join(described["inputs"])
    click.echo(f"Wrote {output_path}: its 'serve' signature takes {inputs}.")


@main.command()
@click.argument("config_path", metavar="CONFIG")
@overrides_option
@reports_errors
def validate(config_path: str, overrides: tuple[str, ...]) -> None:
    """Check CONFIG without reading data or training.

    A search section is checked too.
    """
    from tsforecast.reports import validation_line
    from tsforecast.search_space import load_search

    click.echo(validation_line(config_path, *load_search(config_path, overrides)))


@main.command()
@click.argument("run_dir", metavar="RUN_DIR")
@click.option("--input", "input_path", help="New data (default: the training file).")
@click.option("--future", "future_path", help="The known-future columns' values ahead.")
@click.option("--output", "output_path", help="Write the forecast CSV here (default: stdout).")
@click.option("--strict", is_flag=True, help="Refuse input of another frequency than the run's.")
@reports_errors
def predict(
    run_dir: str,
    input_path: str | None,
    future_path: str | None,
    output_path: str | None,
    strict: bool,
) -> None:
    """Forecast the next horizon steps of every series with the trained run RUN_DIR."""
    from tsforecast.files import check_outside, write_output

    if output_path is not None:
        check_outside(output_path, [Path(run_dir)], "--output")
    quiet_engine()
    from tsforecast.commands.predict import predict as forecast

    prediction = forecast(run_dir, input_path, future_path=future_path, strict=strict)
    for warning in prediction.warnings:
        click.echo(f"Warning: {one_line(warning)}", err=True)
    text = prediction.frame.to_csv(index=False)
    if output_path is None:
        click.echo(text, nl=False)
        return
    write_output(output_path, text, [Path(run_dir)], "--output")
    click.echo(f"Wrote {len(prediction.frame)} forecast rows to {output_path}")


@main.command()
@click.argument("suite", type=click.Choice(["homl", "ett", "classical", "m3", "all"]))
@click.option("--quick", is_flag=True, help="Few epochs, one horizon, few series: a smoke test.")
@click.option("--only", metavar="DATASET/TASK", help="Run one row (or DATASET's rows) only.")
@folder_option("--benchmarks", "bench_dir", "benchmarks", "The suite manifests and configs.")
@folder_option("--results", "results_dir", None, "For RESULTS.md (default: --benchmarks).")
@folder_option("--runs", "runs_dir", "runs/bench", "Parent of the benchmark run directories.")
@reports_errors
def bench(suite: str, quick: bool, only: str | None, **folders: str) -> None:
    """Re-run benchmark tables (SUITE: homl, ett, classical, m3 or all) and write RESULTS.md.

    `m3` is the M3 competition (3,003 series; `--only yearly|quarterly|monthly|other`),
    `auto` beside statsforecast's models and the published table; `all` leaves it out.
    """
    quiet_engine()
    from tsforecast.commands.bench import SUITES
    from tsforecast.commands.bench import bench as run_bench
    from tsforecast.reports import bench_line

    bench_dir = folders["bench_dir"]
    results_dir = folders["results_dir"] or ("runs/bench-quick" if quick else bench_dir)
    if suite == "m3":
        from tsforecast.commands.bench import render
        from tsforecast.commands.competition import bench_m3
        from tsforecast.reports import m3_lines

        stored = bench_m3(
            Path(results_dir),
            Path(folders["runs_dir"]).resolve() / "m3",
            only=only,
            quick=quick,
            progress=lambda message: click.echo(message, err=True),
        )
        click.echo("\n".join(m3_lines(stored)))
        written = render(Path(bench_dir), Path(results_dir))
        click.echo(f"Wrote {written} and {Path(results_dir) / 'm3.json'}")
        return
    records = run_bench(
        list(SUITES) if suite == "all" else [suite],
        Path(bench_dir),
        Path(results_dir),
        Path(folders["runs_dir"]).resolve(),
        quick=quick,
        only=only,
        progress=lambda message: click.echo(message, err=True),
    )
    for record in records:
        click.echo(bench_line(record))
    click.echo(f"Wrote {Path(results_dir) / 'RESULTS.md'} and {Path(results_dir) / 'results.json'}")


@main.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--folds", default=5, show_default=True, help="Number of folds.")
@click.option("--step", type=int, help="Rows between fold origins (default: test / folds).")
@click.option("--refit", is_flag=True, help="Refit scaler and model for every fold.")
@overrides_option
@quiet_option
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
    from tsforecast.gates import check_gates, parse_gates

    gates = parse_gates(worse_than, max_metrics)
    config = load_config(config_path, overrides)
    quiet_engine()
    from tsforecast.commands.backtest import backtest as run_backtest
    from tsforecast.reports import backtest_table

    progress = None if quiet else fold_progress
    result = run_backtest(config, folds, step=step, refit=refit, progress=progress)
    failures = check_gates(result.summary["aggregate"], gates)
    if as_json:
        echo_json({"backtest_dir": str(result.path), "gates_failed": failures, **result.summary})
    else:
        click.echo(backtest_table(result.summary))
        report_gates(failures)
        click.echo(f"Backtested in {result.seconds:.1f} s. Backtest directory:")
        click.echo(str(result.path))
    if failures:
        sys.exit(GATE_FAILED)


@main.command()
@click.argument("run_dirs", metavar="RUN_DIR...", nargs=-1)
@click.option("--format", "fmt", default="table", help="table|markdown|csv|json (default: table)")
@click.option("--sort-by", default="test.mse", help="PART.METRIC to rank by (default: test.mse).")
@click.option("--plot", "plot_path", help="Also draw the runs' forecasts into this PNG.")
@click.option("--html", "html_path", help="Also write the leaderboard as an HTML page.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@reports_errors
def compare(
    run_dirs: tuple[str, ...],
    fmt: str,
    sort_by: str,
    plot_path: str | None,
    html_path: str | None,
    as_json: bool,
) -> None:
    """Rank finished runs beside the naive baseline.

    RUN_DIR... may be a glob such as 'runs/*'; paths that are not finished runs are
    skipped with a note on standard error.
    """
    from tsforecast.commands.compare import compare as rank
    from tsforecast.gates import parse_metric
    from tsforecast.reports import FORMATS
    from tsforecast.reports import leaderboard as render

    fmt = "json" if as_json else fmt
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}; got '{fmt}'.")
    metric = parse_metric(sort_by, "--sort-by")
    if not run_dirs:
        raise ConfigError("compare needs at least one RUN_DIR.")
    if plot_path is not None:
        quiet_engine()
    rows, skipped = rank(run_dirs, metric, plot=plot_path, html=html_path)
    for reason in skipped:
        click.echo(f"Skipped: {reason}", err=True)
    if plot_path is not None:
        runs = len({row["path"] for row in rows if row["path"]})
        click.echo(f"Wrote the forecasts of {runs} runs to {plot_path}", err=True)
    click.echo(render(rows, fmt), nl=False)


@main.command()
@click.argument("config_path", metavar="[CONFIG]", required=False)
@click.option("--resume", "resume_dir", metavar="DIR", help="Continue the search in DIR.")
@overrides_option
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
    quiet_engine()
    from tsforecast.commands.tune import tune as run_tune
    from tsforecast.reports import trials_table
    from tsforecast.runs import TUNE_SUMMARY

    progress = None if quiet else trial_progress
    result = run_tune(config_path, overrides, resume=resume_dir, progress=progress)
    if as_json:
        click.echo((result.path / TUNE_SUMMARY).read_text(encoding="utf-8"), nl=False)
        return
    click.echo(trials_table(result))
