"""Leaderboards of finished runs beside the naive baseline, and their forecasts drawn together.

Only ``metrics.json`` and ``config.yaml`` are read for a leaderboard, so it needs no
TensorFlow; drawing forecasts loads each run's model.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tsforecast import plots
from tsforecast.config import Config, load_config
from tsforecast.errors import ConfigError, RunError, TsForecastError
from tsforecast.files import expand_globs
from tsforecast.gates import BASELINES, MetricPath, parse_metric
from tsforecast.runs import BACKTEST, CONFIG, SEARCH, read_metrics, run_status

#: Metrics every leaderboard shows; the sort metric is added when it is not among them.
COLUMNS = ("test.mse", "test.mae", "test.rmse", "test.mase", "test.smape", "test.skill_mse")
NAIVE = "naive baseline"


@dataclass(frozen=True)
class RunSummary:
    """A finished run's config and metrics, read without its model."""

    path: Path
    config: Config
    metrics: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name


def read_run(path: Path) -> RunSummary:
    """Read a finished run's config and metrics.

    Raises:
        RunError: if ``path`` is not a finished run of this version's format.
    """
    problem = run_status(path)
    if problem:
        if (path / BACKTEST).is_file():
            problem = f"{path} is a backtest directory, not a run."
        elif (path / SEARCH).is_file():
            problem = f"{path} is a tune directory, not a run; train its best_config.yaml."
        raise RunError(problem)
    metrics = read_metrics(path)
    return RunSummary(path.resolve(), load_config(path / CONFIG), metrics)


def read_runs(arguments: list[str] | tuple[str, ...]) -> tuple[list[RunSummary], list[str]]:
    """Every finished run among the arguments, and why each other path was skipped.

    Raises:
        RunError: when no argument names a finished run.
    """
    runs, skipped = [], []
    paths = [Path(p) for p in expand_globs(arguments)]
    for path in paths:
        try:
            runs.append(read_run(path))
        except TsForecastError as exc:
            skipped.append(str(exc))
    if not runs:
        reasons = f" ({skipped[0]})" if len(skipped) == 1 else ""
        raise RunError(f"No finished run among the {len(paths)} paths given{reasons}.")
    return runs, skipped


#: What runs must share to be scored on the same test windows (hence the same naive
#: baseline): config key -> how to read it.
COMPARABLE = {
    "data.path": lambda c: c.data.path,
    "data.target_columns": lambda c: c.data.target_columns,
    "data.id_column": lambda c: c.data.id_column,
    "data.time_column": lambda c: c.data.time_column,
    "data.missing": lambda c: c.data.missing,
    "data.split": lambda c: c.data.split,
    "window.horizon": lambda c: c.window.horizon,
}


def comparability_key(config: Config) -> tuple:
    """Runs with equal keys share their test windows, hence their naive baseline."""
    return tuple(get(config) for get in COMPARABLE.values())


def compare(
    run_dirs: tuple[str, ...],
    sort_by: MetricPath,
    *,
    plot: str | None = None,
    html: str | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Rank the finished runs among ``run_dirs`` (globs allowed) within their groups.

    Args:
        run_dirs: Run directories or patterns.
        sort_by: The metric to rank by.
        plot: Also draw the runs' test forecasts into this PNG.
        html: Also write the leaderboard as an HTML page here.

    Returns:
        The leaderboard's rows (see :func:`leaderboard`) and why each other path was skipped.
    """
    from tsforecast.files import check_outside, write_output
    from tsforecast.html_pages import leaderboard_html

    runs, skipped = read_runs(run_dirs)
    paths = [run.path for run in runs]
    if plot is not None:
        check_outside(plot, paths, "--plot")
        try:
            plot_forecasts(runs, plot)
        except OSError as exc:
            raise ConfigError(f"Cannot write {plot}: {exc.strerror}.") from None
    rows = leaderboard(runs, sort_by)
    if html is not None:
        write_output(html, leaderboard_html(rows), paths, "--html")
    return rows, skipped


def group_title(config: Config) -> str:
    """What the runs of one comparable group share, in words."""
    data, split = config.data, config.data.split
    where = Path(data.path).name if data.path else data.source
    return (
        f"{where}, targets {', '.join(data.target_columns)}, split val {split.val} / test "
        f"{split.test} by {split.by}, horizon {config.window.horizon}"
    )


def _baseline_metrics(metrics: dict[str, Any], name: str) -> dict[str, Any]:
    """A run's metrics as if baseline ``name`` were its model (skill against naive kept)."""
    out = {}
    for part in ("val", "test"):
        if part in metrics and name in metrics[part]:
            figures, naive = metrics[part][name], metrics[part]["naive"]
            skill = 1.0 - figures["mse"] / naive["mse"] if naive["mse"] > 0 else None
            out[part] = {"model": figures, "naive": naive, "skill_mse": skill}
    return out


def leaderboard(runs: list[RunSummary], sort_by: MetricPath) -> list[dict[str, Any]]:
    """Rows of runs and their baselines, ranked within each group of runs scored on the
    same test windows (same data, split and horizon), best first by ``sort_by``.

    Each row holds ``group`` (its title), ``rank`` (within the group), ``run``, ``model``,
    ``path`` (None for a baseline), the figure of every column metric and of ``sort_by``
    (keyed by dotted path), ``metrics``, and ``alone``: whether the group holds one run.
    """
    columns = list(dict.fromkeys([*COLUMNS, sort_by.text]))
    paths = [parse_metric(c) for c in columns]
    groups: dict[tuple, list[RunSummary]] = {}
    for run in runs:
        groups.setdefault(comparability_key(run.config), []).append(run)

    def order(row: dict[str, Any]) -> tuple:
        value = row[sort_by.text]
        if value is None:
            return (1, 0.0)
        return (0, -value if sort_by.higher_is_better else value)

    rows = []
    for members in groups.values():
        title = group_title(members[0].config)
        group = [
            _row(run.name, run.config.model.type, str(run.path), run.metrics, paths)
            for run in members
        ]
        test = members[0].metrics["test"]
        for name in [b for b in BASELINES if b in test]:
            label = NAIVE if name == "naive" else f"{name.replace('_', ' ')} baseline"
            metrics = _baseline_metrics(members[0].metrics, name)
            group.append(_row(label, name, None, metrics, paths))
        group.sort(key=order)
        for rank, row in enumerate(group, start=1):
            row.update(rank=rank, group=title, alone=len(members) == 1)
        rows += group
    return rows


def _row(name, model, path, metrics, paths: list[MetricPath]) -> dict[str, Any]:
    row: dict[str, Any] = {"rank": 0, "run": name, "model": model, "path": path}
    for metric in paths:
        row[metric.text] = metric.value(metrics)
    row["metrics"] = {part: metrics[part] for part in ("val", "test") if part in metrics}
    return row


# ---------------------------------------------------------------------------------------------
# Forecasts of several runs over the same test window


def _check_comparable(runs: list[RunSummary]) -> None:
    first = runs[0]
    for run in runs[1:]:
        for key, get in COMPARABLE.items():
            if get(run.config) != get(first.config):
                raise ConfigError(
                    f"compare --plot needs runs over the same test window, but {first.name} "
                    f"and {run.name} differ in {key} ({_shown(get(first.config))} vs "
                    f"{_shown(get(run.config))})."
                )


def _shown(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if dataclasses.is_dataclass(value):
        return tuple(dataclasses.asdict(value).values())[:2]
    return value


def plot_forecasts(runs: list[RunSummary], path: str | Path, origins: int = 8) -> None:
    """Draw every run's test forecasts of the first series from the same origins.

    Origins are one horizon apart from the start of the test split, so the forecasts tile
    the window; the naive baseline is drawn dashed. A quantile run is drawn by its median.

    Raises:
        ConfigError: if the runs do not share their data, split and horizon.
    """
    from tsforecast.data import windows
    from tsforecast.data.loading import load_table
    from tsforecast.data.splits import split_bounds
    from tsforecast.forecasting import Predictor
    from tsforecast.runs import load_run

    _check_comparable(runs)
    config = runs[0].config
    width, horizon = config.window.input_width, config.window.horizon
    table = load_table(config.data)
    bounds = split_bounds(table, config.data.split, width, horizon, config.window.min_inputs)
    first, end = bounds.part_range("test", table.offsets, 0)
    at = windows.spaced_origins(first, windows.last_origin(end, horizon), horizon, origins)
    n_targets = table.n_targets
    positions = table.times if table.times is not None else np.arange(len(table.values))
    steps = at[:, None] + np.arange(horizon)  # (n_origins, horizon)
    forecasts = {}
    for summary in runs:
        run = load_run(summary.path)
        own_width = run.config.window.input_width
        starts = windows.starts_at(at, own_width)
        if (at - run.config.window.observed < table.offsets[0]).any():
            raise RunError(f"Run {summary.name}: its input window reaches before the series.")
        own = load_table(run.config.data)
        # (n_origins, width, n_inputs) -> (n_origins, horizon, n_targets)
        forecasts[summary.name] = Predictor.of_run(run).forecast(own, starts).point
    naive = np.repeat(
        windows.last_inputs(table.values, windows.starts_at(at, width), width, n_targets)[:, None],
        horizon,
        axis=1,
    )
    shown = slice(max(int(table.offsets[0]), first - horizon), int(steps[-1, -1]) + 1)
    series = f" of series {table.ids[0]}" if table.ids is not None else ""
    plots.compare_forecasts(
        positions[shown],
        table.values[shown, :n_targets],
        positions[steps],
        forecasts,
        naive,
        table.columns[:n_targets],
        f"Test forecasts{series} (horizon {horizon}, {len(at)} origins)",
        Path(path),
    )
