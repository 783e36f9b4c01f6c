"""Rolling-origin backtests: evaluate a config from several forecast origins in turn.

Fold ``k`` of ``F`` owns ``step`` consecutive forecast origins of every series (an origin
is the first forecast step of a window); the folds tile the end of each series, the last
ending with the last window that fits. Each fold is the config's own split laid over the
series cut at the fold's end: the ``step`` origins are its test windows, the
``data.split.val`` rows right before its first origin its validation rows, everything
earlier its train rows. Nothing after the first origin of a fold is fitted for that fold:

- with ``refit``, every fold fits its own scaler and model on its own train rows
  (validation rows steer early stopping, as in ``train``);
- without, the scaler and model of fold 1 forecast every later fold: a model deployed
  once, fed newer inputs as they arrive.

By default ``step`` divides the windows of the config's test split evenly among the folds.
Every fold then has as many windows, so the aggregate (the mean over folds; RMSE as the
root of the mean MSE) is also the figure over all backtest windows for MAE, MSE and RMSE.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsforecast import plots, selection
from tsforecast.commands.train import evaluate, versions
from tsforecast.config import Config
from tsforecast.data import windows
from tsforecast.data.loading import SeriesTable, load_table
from tsforecast.data.prepared import PreparedData, prepare_split
from tsforecast.data.splits import split_bounds, subject, truncated
from tsforecast.errors import ConfigError, DataError
from tsforecast.evaluation import POINT_METRICS, aggregate_folds
from tsforecast.models import registry
from tsforecast.runs import BACKTEST, FOLDS_CSV, PLOTS, TENSORBOARD, RunDir
from tsforecast.training.distribution import Distribution, make_distribution
from tsforecast.training.fit import FitResult, Progress, Trained, build_and_fit

#: ``progress(fold, folds)``: how the fit of each fold reports (see training.fit.Progress).
FoldProgress = Callable[[int, int], Progress]


@dataclass(frozen=True)
class FoldPlan:
    """Where one fold cuts every series (absolute rows of the full table).

    Attributes:
        index: 1-based fold number.
        train_end: Per series, the end of the fold's train rows.
        origin: Per series, the fold's first forecast origin (end of its validation rows).
        end: Per series, the end of the rows the fold reads (its last window's last target).
    """

    index: int
    train_end: np.ndarray
    origin: np.ndarray
    end: np.ndarray


@dataclass(frozen=True)
class BacktestResult:
    """What a finished backtest returns."""

    path: Path
    summary: dict[str, Any]
    seconds: float


def plan_folds(
    table: SeriesTable, config: Config, folds: int, step: int | None = None
) -> list[FoldPlan]:
    """Cut every series into ``folds`` rolling-origin folds of ``step`` origins each.

    Raises:
        ConfigError: for a non-positive ``folds`` or ``step``.
        DataError: when a series is too short for the folds, naming it.
    """
    if folds < 1:
        raise ConfigError(f"--folds must be a positive integer; got {folds}.")
    if step is not None and step < 1:
        raise ConfigError(f"--step must be a positive integer; got {step}.")
    window = config.window
    # the config's split must hold
    bounds = split_bounds(
        table, config.data.split, window.input_width, window.horizon, window.min_inputs
    )
    starts, ends = table.offsets[:-1], table.offsets[1:]
    n_val = bounds.val_end - bounds.train_end
    steps = np.full(table.n_series, step or 0, dtype=np.int64)
    if step is None:
        test_windows = windows.origins_between(bounds.val_end, ends, window.horizon)
        steps = test_windows // folds
        short = np.flatnonzero(steps < 1)
        if short.size:
            i = int(short[0])
            raise DataError(
                f"{subject(table, i)}: its test split holds "
                f"{int(test_windows[i])} windows, fewer than "
                f"--folds {folds}; use fewer folds or set --step."
            )
    # Origins of fold k: [first + k * step, first + (k + 1) * step); the last is the last
    # origin whose horizon still fits.
    first = windows.last_origin(ends, window.horizon) + 1 - folds * steps
    train_end = first - n_val
    need = window.input_width + window.horizon if window.min_inputs is None else window.observed
    short = np.flatnonzero(train_end - starts < need)
    if short.size:
        i = int(short[0])
        what = (
            f"window.input_width + window.horizon ({need})"
            if window.min_inputs is None
            else f"window.min_inputs ({need})"
        )
        raise DataError(
            f"{subject(table, i)} has {int(ends[i] - starts[i])} rows; {folds} folds "
            f"of {int(steps[i])} origins leave the first fold {int(train_end[i] - starts[i])} "
            f"train rows, fewer than {what}. Use fewer "
            "--folds, a smaller --step or a shorter window."
        )
    plans = []
    for k in range(folds):
        origin = first + k * steps
        end = windows.targets_end(origin + steps - 1, window.horizon)
        plans.append(FoldPlan(k + 1, origin - n_val, origin, end))
    return plans


def _origins_per_fold(plan: FoldPlan, config: Config) -> list[int]:
    """Per series: the forecast origins of every fold (the step)."""
    return [int(v) for v in windows.origins_between(plan.origin, plan.end, config.window.horizon)]


def _position(table: SeriesTable, row: int) -> str | int:
    if table.times is None:
        return int(row)
    return str(pd.Timestamp(table.times[row]))


def _fold_table(fold_results: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for fold in fold_results:
        test = fold["test"]
        row = {"fold": fold["fold"], "origin": fold["origin"], "n_windows": test["n_windows"]}
        for name in POINT_METRICS:
            row[f"model_{name}"] = test["model"][name]
            row[f"naive_{name}"] = test["naive"][name]
        row["skill_mse"] = test["skill_mse"]
        rows.append(row)
    return pd.DataFrame(rows)


def backtest(
    config: Config,
    folds: int = 5,
    *,
    step: int | None = None,
    refit: bool = False,
    progress: FoldProgress | None = None,
) -> BacktestResult:
    """Run a rolling-origin backtest of ``config`` and write a backtest directory.

    The directory (under ``output.dir``, named ``NAME-backtest-STAMP``) holds the resolved
    config, ``backtest.json`` (per-fold metrics beside naive and their mean, written last),
    ``folds.csv``, ``plots/error_by_fold.png`` and the training history of every model fitted.

    Args:
        config: A validated config.
        folds: Number of folds.
        step: Forecast origins per fold (default: the test split's windows / folds).
        refit: Refit scaler and model for every fold instead of once before the first.
        progress: Called after every training epoch.
    """
    started = time.perf_counter()
    if config.training.distribute == "multi_worker":
        raise ConfigError(
            "training.distribute multi_worker is supported by train only; backtest with "
            "none or mirrored."
        )
    table = load_table(config.data)
    plans = plan_folds(table, config, folds, step)
    name = f"{config.output.name or config.model.type}-backtest"
    output = dataclasses.replace(config.output, name=name)
    out = RunDir.create(dataclasses.replace(config, output=output))
    try:
        out.write_config(config)
        distribution = make_distribution(config.training.distribute)
        results = list(_run_folds(out, config, table, plans, refit, progress, distribution))
        summary = _finish(out, config, table, plans, refit, results)
    except KeyboardInterrupt:
        out.mark_failed("The backtest was interrupted.")
        raise
    except Exception as exc:
        out.mark_failed(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        out.release()
    return BacktestResult(out.path, summary, time.perf_counter() - started)


def _run_folds(
    out: RunDir,
    config: Config,
    table: SeriesTable,
    plans: list[FoldPlan],
    refit: bool,
    progress: FoldProgress | None,
    distribution: Distribution,
):
    """Fit where needed and evaluate every fold; yields each fold's record."""
    model: Any = None
    first: PreparedData | None = None
    choice = None  # with auto, the ensemble kept
    for plan in plans:
        fold_started = time.perf_counter()
        cut, bounds = truncated(table, plan.end, plan.train_end, plan.origin)
        scaler = None if (refit or first is None) else first.scaler
        prepared = prepare_split(config, cut, bounds, scaler)
        training = None
        if model is None or refit:
            folder = out.file(f"fold-{plan.index}")
            folder.mkdir()
            report = None
            if progress is not None:
                report = progress(plan.index, len(plans))
            tensorboard = folder / TENSORBOARD if config.training.tensorboard else None
            if registry.get(config.model.type).selector:
                choice = selection.select(config, cut, report, bounds)
                prepared = choice.prepared
                trained = Trained(choice.model, FitResult(choice.history, None), "float32")
            else:
                trained = build_and_fit(
                    config,
                    prepared,
                    progress=report,
                    record=RunDir(folder).write_history,
                    tensorboard_dir=tensorboard,
                    distribution=distribution,
                )
            model, fitted = trained.model, trained.fit
            if fitted is None:
                RunDir(folder).write_history([])
            epochs = 0 if fitted is None else len(fitted.history)
            first = first or prepared
            training = {
                "epochs_trained": epochs,
                "train_windows": len(prepared.starts["train"]),
                "val_windows": len(prepared.starts["val"]),
            }
        # The first series' origins name the fold in reports.
        first_series = bounds.val_end[0], windows.last_origin(cut.offsets[1], config.window.horizon)
        yield {
            "fold": plan.index,
            "origin": _position(cut, int(first_series[0])),
            "last_origin": _position(cut, int(first_series[1])),
            "train_rows": int(np.sum(bounds.train_end - cut.offsets[:-1])),
            "fitted": training is not None,
            "training": training,
            **evaluate(model, prepared, config, ("test",), choice),
            "seconds": round(time.perf_counter() - fold_started, 3),
        }


def _finish(
    out: RunDir,
    config: Config,
    table: SeriesTable,
    plans: list[FoldPlan],
    refit: bool,
    results: list[dict[str, Any]],
) -> dict[str, Any]:
    """Write the fold table, the plot and, last, backtest.json."""
    frame = _fold_table(results)
    out.write_text(FOLDS_CSV, frame.to_csv(index=False))
    if config.output.plots:
        plots.error_by_fold(
            frame,
            f"{config.model.type}: backtest error by fold ({len(plans)} folds)",
            out.file(PLOTS) / "error_by_fold.png",
        )
    summary = {
        "model": config.model.type,
        "settings": {
            "folds": len(plans),
            "origins_per_fold": _origins_per_fold(plans[0], config),
            "refit": refit,
        },
        "folds": results,
        "aggregate": aggregate_folds([fold["test"] for fold in results]),
        "run": {
            "targets": list(table.columns[: table.n_targets]),
            "n_series": table.n_series,
            "versions": versions(),
        },
    }
    out.write_json(BACKTEST, summary)
    return summary
