"""``tsforecast train``: fit a config's model and write a complete run directory.

:func:`train` trains one config; :func:`train_config` also checks its quality gates and
returns the record a batch job reports; :func:`train_many` trains several configs, going
on past failures.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsforecast import __version__, engine, evaluation, html_pages, plots, selection
from tsforecast.config import Config, load_config
from tsforecast.data import windows
from tsforecast.data.prepared import PreparedData, prepare_data
from tsforecast.errors import GATE_FAILED_EXIT_CODE, RunError, RunInterrupted, TsForecastError
from tsforecast.forecasting import checked_forecasts
from tsforecast.gates import NO_GATES, Gates, check_gates
from tsforecast.models import heads, registry
from tsforecast.runs import (
    BACKUP,
    CANDIDATES,
    CONFIG,
    HISTORY,
    METRICS,
    PLOTS,
    REPORT,
    RUN_FORMAT,
    TENSORBOARD,
    RunDir,
    fingerprints,
)
from tsforecast.training.distribution import Distribution, make_distribution
from tsforecast.training.fit import (
    FitResult,
    Progress,
    Trained,
    build_and_fit,
    precision_policy,
)

OUT_OF_MEMORY = (
    "Out of memory building or training the model; make the model smaller or lower "
    "training.batch_size or window.input_width."
)


@dataclass(frozen=True)
class TrainResult:
    """What a finished training run returns."""

    run_dir: Path | None  # None on a multi-worker process that is not the chief
    metrics: dict[str, Any]
    seconds: float


def versions() -> dict[str, str]:
    """The versions of the libraries a run was made with, and the Keras backend."""
    return {
        "tsforecast": __version__,
        **engine.versions(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "python": platform.python_version(),
    }


def season_of(config: Config, prepared: PreparedData) -> int:
    """The season of the seasonal naive baseline: data.season_length or the frequency's."""
    return evaluation.season_length(prepared.table.frequency, config.data.season_length)


def evaluate(
    model: Any,
    prepared: PreparedData,
    config: Config,
    parts: tuple[str, ...] = ("val", "test"),
    choice: selection.Selection | None = None,
) -> dict[str, dict[str, Any]]:
    """The model's metrics on each of ``parts`` beside the baselines' (``auto``'s
    ensemble's, with ``choice``)."""
    window, baselines = config.window, baselines_of(config, prepared)
    return {
        part: evaluation.compare_with_baselines(
            prepared,
            part,
            forecasts_of(model, prepared, config, part, choice),
            window.input_width,
            window.horizon,
            baselines,
        )
        for part in parts
    }


def forecasts_of(
    model: Any,
    prepared: PreparedData,
    config: Config,
    part: str,
    choice: selection.Selection | None = None,
) -> Callable:
    """Window starts -> scaled forecasts of ``part``: the model's, or ``auto``'s ensemble's."""
    if choice is not None:
        return choice.forecaster(prepared, config, part)
    return checked_forecasts(model, prepared, config, part)


def baselines_of(config: Config, prepared: PreparedData) -> dict[str, Any]:
    """The baselines a run is scored beside: naive, seasonal naive and those of
    ``evaluation.baselines`` (fitted once, on the train rows, when first asked, or at
    every origin with ``evaluation.refit_baselines``)."""
    from tsforecast.classical import classical_baselines

    season = season_of(config, prepared)
    return {
        **evaluation.default_baselines(season),
        **classical_baselines(
            config.evaluation.baselines, season, config.evaluation.refit_baselines
        ),
    }


def draw_forecasts(prepared: PreparedData, config: Config, forecast: Callable, path: Path) -> None:
    """Draw the test forecasts from every origin one horizon apart against the actual values
    and the naive forecasts: every target of a single series, or the first target of up to
    six series of a panel (the worst, median and best by MASE over those origins)."""
    table, width, horizon = prepared.table, config.window.input_width, config.window.horizon
    origins, series = [], []
    for i in range(table.n_series):
        first, end = prepared.bounds.part_range("test", table.offsets, i)
        at = windows.spaced_origins(first, windows.last_origin(end, horizon), horizon)
        at = at[at - config.window.observed >= table.offsets[i]]
        origins.append(at)
        series += [i] * len(at)
    at, series = np.concatenate(origins), np.asarray(series)
    starts = windows.starts_at(at, width)
    predicted = forecast(starts)
    naive = evaluation.naive_forecast(prepared.scaled, starts, width, horizon, table.n_targets)
    point, naive = prepared.inverse(predicted.point, starts), prepared.inverse(naive, starts)
    bands = None
    if predicted.quantiles is not None:
        bands = [prepared.inverse(q, starts) for q in (predicted.lower, predicted.upper)]
    actual = windows.targets(table.values, starts, width, horizon, table.n_targets)
    # (n_origins, n_targets): each origin's MAE over its series' scale
    errors = np.abs(point - actual).mean(axis=1) / prepared.mase_scale[series]
    scores = np.asarray(
        [
            errors[series == i].mean() if (series == i).any() else np.nan
            for i in range(table.n_series)
        ]
    )
    positions = table.times if table.times is not None else np.arange(len(table.values))
    steps = positions[at[:, None] + np.arange(horizon)]
    panels = []
    shown = [(0, "")] if table.n_series == 1 else plots.shown_series(scores)
    for i, rank in shown:
        lo = max(int(origins[i][0]) - width, int(table.offsets[i]))
        hi = int(origins[i][-1]) + horizon
        mine = series == i
        for j in range(table.n_targets if table.n_series == 1 else 1):
            label = table.columns[j]
            if table.n_series > 1:
                label = f"series {table.ids[i]}: {label}, MASE {scores[i]:.3g}" + (
                    f" ({rank})" if rank else ""
                )
            panels.append(
                plots.Panel(
                    label,
                    positions[lo:hi],
                    table.values[lo:hi, j],
                    steps[mine],
                    point[mine, :, j],
                    naive[mine, :, j],
                    None if bands is None else (bands[0][mine, :, j], bands[1][mine, :, j]),
                )
            )
    band_label = None
    if predicted.quantiles is not None:
        band_label = f"{predicted.levels[0]:g}-{predicted.levels[-1]:g} quantiles"
    plots.forecast(
        panels,
        f"{config.model.type} ({heads.head_of(config.model.params)} head): test forecasts "
        f"from every {horizon} steps",
        path,
        band_label=band_label,
        share_x=table.n_series == 1,
    )


def train(
    config: Config,
    *,
    progress: Progress | None = None,
    prepared: PreparedData | None = None,
    resume: str | Path | None = None,
) -> TrainResult:
    """Train the configured model and write a complete run directory.

    Data problems are raised before the run directory is created; any later failure
    leaves a ``FAILED`` marker in it. Training backs itself up at epoch ends (at most every
    ``training.backup_interval`` seconds), so a run stopped by SIGINT, SIGTERM or SIGKILL
    resumes from its last backed-up epoch and ends exactly as if it had never stopped.
    With ``training.distribute: multi_worker`` only the chief writes a run directory;
    other workers return a result without one.

    Args:
        config: A validated config.
        progress: Called after every epoch.
        prepared: Data already prepared for this config (loaded from ``config.data`` if None).
        resume: An unfinished run directory of this config to continue, instead of a new one.

    Raises:
        RunInterrupted: on KeyboardInterrupt (SIGINT, or SIGTERM where the caller maps it).
    """
    started = time.perf_counter()
    prepared = prepared if prepared is not None else prepare_data(config)
    run = RunDir.reopen(resume, config) if resume is not None else None
    distribution = make_distribution(config.training.distribute)
    if not distribution.is_chief:
        with tempfile.TemporaryDirectory(prefix="tsforecast-worker-") as scratch:
            output = dataclasses.replace(config.output, dir=scratch)
            run = RunDir.create(dataclasses.replace(config, output=output))
            try:
                with distribution.native_output_to_stderr():
                    return _train_into(run, config, prepared, progress, started, distribution)
            finally:
                run.release()
    if run is None:
        run = RunDir.create(config)
    else:
        run.clear_failed()
    try:
        run.write_config(config)  # first, so that a run stopped at any point can be resumed
        with distribution.native_output_to_stderr():
            return _train_into(run, config, prepared, progress, started, distribution)
    except KeyboardInterrupt:
        message = (
            f"Training was interrupted; continue it with --resume {run.path} "
            "(the same config, from the last backed-up epoch)."
        )
        run.mark_failed(message)
        raise RunInterrupted(message) from None
    except TsForecastError as exc:
        run.mark_failed(str(exc))
        raise
    except OSError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        message = f"Cannot write the run directory {run.path}: {reason}"
        run.mark_failed(message)
        raise RunError(message) from None
    except Exception as exc:
        if isinstance(exc, MemoryError) or "RESOURCE_EXHAUSTED" in str(exc):  # XLA's own
            run.mark_failed(OUT_OF_MEMORY)
            raise RunError(OUT_OF_MEMORY) from None
        run.mark_failed(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        run.release()


def _train_into(
    run: RunDir,
    config: Config,
    prepared: PreparedData,
    progress: Progress | None,
    started: float,
    distribution: Distribution,
) -> TrainResult:
    table, params = prepared.table, config.model.params
    choice = None
    if registry.get(config.model.type).selector:
        choice = selection.select(config, table, progress)
        prepared = choice.prepared
        trained = Trained(
            choice.model, FitResult(choice.history, None), precision_policy(config.training)
        )
        records = [{**r, "settings": json.dumps(r["settings"])} for r in choice.records]
        run.write_text(CANDIDATES, pd.DataFrame(records).to_csv(index=False))
    else:
        run.write_scaler(prepared.scaler)
        trained = build_and_fit(
            config,
            prepared,
            backup_dir=run.file(BACKUP),
            progress=progress,
            record=run.write_history,
            tensorboard_dir=run.file(TENSORBOARD) if config.training.tensorboard else None,
            distribution=distribution,
            on_built=lambda built: run.check_free_space(built.count_params()),
        )
    run.write_scaler(prepared.scaler)
    model, fitted = trained.model, trained.fit
    history = [] if fitted is None else fitted.history
    run.write_history(history)
    if not distribution.is_chief:
        return TrainResult(None, {}, time.perf_counter() - started)
    run.save_model(model)
    if config.output.plots:
        curve = pd.read_csv(run.file(HISTORY))
        plots.learning_curve(curve, run.file(PLOTS) / "learning_curve.png")
        forecast = forecasts_of(model, prepared, config, "test", choice)
        draw_forecasts(prepared, config, forecast, run.file(PLOTS) / "forecast.png")
    best_epoch = None if fitted is None or fitted.best_epoch is None else fitted.best_epoch + 1
    metrics = {
        "model": config.model.type,
        **evaluate(model, prepared, config, choice=choice),
        "periods": prepared.periods(),
        "baselines": {"season_length": season_of(config, prepared)},
        "architecture": {
            "head": heads.head_of(params),
            "input_width": config.window.input_width,
            # Input steps one forecast sees; null when the model reads the whole window.
            "receptive_field": registry.receptive_field(
                config.model.type, params, config.window.input_width
            ),
        },
        "training": {
            "epochs_trained": len(history),
            "best_epoch": best_epoch,
            "parameters": int(model.count_params()),
            "train_windows": len(prepared.starts["train"]),
            "distribute": distribution.kind,
            "replicas": distribution.replicas,
            "precision": trained.precision,
            "jit_compile": bool(heads.trained_part(model, params).jit_compile),
            "backend": engine.versions()["backend"],
        },
        **({"auto": choice.summary} if choice is not None else {}),
        "run": {
            "format": RUN_FORMAT,
            "columns": list(table.columns),
            "targets": list(table.columns[: table.n_targets]),
            "n_series": table.n_series,
            "frequency": table.frequency,
            "versions": versions(),
            "files": fingerprints(config, prepared.scaler, model),
        },
    }
    figures = {
        caption: (run.file(PLOTS) / name).read_bytes()
        for caption, name in (
            ("Test forecasts", "forecast.png"),
            ("Learning curve", "learning_curve.png"),
        )
        if (run.file(PLOTS) / name).is_file()
    }
    report = html_pages.run_report(run.path.name, metrics, run.file(CONFIG).read_text(), figures)
    run.write_text(REPORT, report)
    run.write_json(METRICS, metrics)
    run.remove_backup()
    return TrainResult(run.path, metrics, time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------
# Several configs, as a batch job


def train_config(
    path: str,
    config: Config,
    gates: Gates = NO_GATES,
    *,
    progress: Progress | None = None,
    resume: str | None = None,
) -> dict[str, Any]:
    """Train the config loaded from ``path`` and check its gates; its record (see
    :func:`batch_report`)."""
    result = train(config, progress=progress, resume=resume)
    record: dict[str, Any] = {
        "config": path,
        "status": "ok",
        "run_dir": None if result.run_dir is None else str(result.run_dir),
        "seconds": round(result.seconds, 3),
        "gates_failed": [],
        "error": None,
        "metrics": {
            key: result.metrics[key]
            for key in ("model", "val", "test", "periods", "baselines")
            if key in result.metrics
        },
    }
    if "auto" in result.metrics:  # what auto kept, without every candidate's record
        auto = result.metrics["auto"]
        record["metrics"]["auto"] = {k: v for k, v in auto.items() if k != "candidates"}
    if result.run_dir is None:
        record["status"] = "worker"
    else:
        record["gates_failed"] = check_gates(result.metrics, gates)
        if record["gates_failed"]:
            record["status"] = "gate_failed"
    return record


def error_record(path: str, exc: BaseException) -> dict[str, Any]:
    """The record of a config that failed with ``exc``."""
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


def _batch_errors() -> tuple[type[BaseException], ...]:
    """What one config of a batch may fail with without stopping the others."""
    return (
        TsForecastError,
        ArithmeticError,
        LookupError,
        OSError,
        RuntimeError,
        TypeError,
        ValueError,
    )


def train_many(
    paths: list[str],
    overrides: tuple[str, ...] = (),
    gates: Gates = NO_GATES,
    *,
    progress: Progress | None = None,
    starting: Callable[[int, int, str], None] | None = None,
    finished: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Train config files one after another, going on past failures.

    Args:
        paths: Config files.
        overrides: ``KEY.PATH=VALUE`` overrides applied to each.
        gates: Quality gates each run is checked against.
        progress: Called after every epoch.
        starting: Called with ``(i, n, path)`` before config ``i`` of ``n`` trains.
        finished: Called with each config's record as it ends.
    """
    records = []
    for i, path in enumerate(paths, start=1):
        if starting is not None:
            starting(i, len(paths), path)
        try:
            record = train_config(path, load_config(path, overrides), gates, progress=progress)
        except _batch_errors() as exc:
            record = error_record(path, exc)
        if finished is not None:
            finished(record)
        records.append(record)
    return records


def exit_code(records: list[dict[str, Any]]) -> int:
    """0 when every config trained and passed its gates; else the first error's code (one
    config) or 1 (several), or the gate code when only gates failed."""
    errors = [r for r in records if r["status"] == "error"]
    if errors:
        return errors[0]["exit_code"] if len(records) == 1 else 1
    failed = any(r["status"] == "gate_failed" for r in records)
    return GATE_FAILED_EXIT_CODE if failed else 0


def batch_report(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``--json`` report of a train command."""
    code = exit_code(records)
    return {"command": "train", "ok": code == 0, "exit_code": code, "runs": records}
