"""Accuracy benchmarks: published tables re-run through the ordinary ``train`` path.

A suite is a manifest, ``benchmarks/SUITE.yaml``, listing runs. Each run names a config
(a normal tsforecast config, runnable with ``tsforecast train``), overrides applied to it,
optional candidates chosen on the validation split, the metric, the split it is read on and
the published figure. The results go to ``results.json`` (one record per run) and
``RESULTS.md`` (tables beside the published figures, with the machine that ran them).
"""

from __future__ import annotations

import itertools
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tsforecast.config import Config, load_config, read_yaml
from tsforecast.errors import ConfigError
from tsforecast.models import registry
from tsforecast.reports import m3_lines, results_markdown
from tsforecast.schema import check_keys

SUITES = ("homl", "ett", "classical")
RESULTS_JSON = "results.json"
RESULTS_MD = "RESULTS.md"
#: What ``bench m3`` writes (:mod:`tsforecast.commands.competition`).
M3_JSON = "m3.json"
#: The test batch size whose ``drop_last=True`` convention several published tables used.
DROP_LAST_BATCH = 32

#: ``progress(message)`` is called as each run starts and ends.
Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchRun:
    """One row of a suite manifest."""

    suite: str
    dataset: str
    task: str
    model: str
    config: str
    metric: str
    split: str
    published: float | None
    overrides: tuple[str, ...] = ()
    select: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    quick: bool = False
    note: str = ""
    data: str | None = None

    @property
    def label(self) -> str:
        """``DATASET/TASK``, as ``--only`` names the row."""
        return f"{self.dataset}/{self.task}"

    def candidates(self, quick: bool) -> list[tuple[str, ...]]:
        """Override sets to try, one per combination of the ``select`` values."""
        keys = list(self.select)
        values = [self.select[k][:1] if quick else self.select[k] for k in keys]
        return [
            tuple(f"{k}={_yaml_value(v)}" for k, v in zip(keys, combo, strict=True))
            for combo in itertools.product(*values)
        ]


@dataclass(frozen=True)
class Suite:
    """A parsed manifest."""

    name: str
    title: str
    notes: str
    runs: tuple[BenchRun, ...]
    quick_overrides: tuple[str, ...]


def _yaml_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, list | dict | bool) else str(value)


def _require(raw: dict, key: str, where: str) -> Any:
    if key not in raw:
        raise ConfigError(f"{where}: '{key}' is required.")
    return raw[key]


RUN_KEYS = [
    "dataset",
    "task",
    "model",
    "config",
    "published",
    "set",
    "select",
    "quick",
    "note",
    "metric",
    "split",
    "data",
]


def load_suite(bench_dir: Path, name: str) -> Suite:
    """Read ``bench_dir/NAME.yaml``."""
    path = bench_dir / f"{name}.yaml"
    raw = read_yaml(path)
    if not isinstance(raw, dict) or not isinstance(raw.get("runs"), list):
        raise ConfigError(f"{path} must be a mapping with a list of runs.")
    metric, split = _require(raw, "metric", str(path)), _require(raw, "split", str(path))
    runs = []
    for i, entry in enumerate(raw["runs"]):
        where = f"{path}: runs[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a mapping.")
        check_keys(entry, RUN_KEYS, f"{path}: runs[{i}]")
        select = entry.get("select") or {}
        runs.append(
            BenchRun(
                suite=name,
                dataset=str(_require(entry, "dataset", where)),
                task=str(_require(entry, "task", where)),
                model=str(_require(entry, "model", where)),
                config=str(_require(entry, "config", where)),
                metric=entry.get("metric", metric),
                split=entry.get("split", split),
                published=entry.get("published"),
                overrides=tuple(entry.get("set") or ()),
                select={k: tuple(v) for k, v in select.items()},
                quick=bool(entry.get("quick", False)),
                note=str(entry.get("note", "")),
                data=entry.get("data"),
            )
        )
    quick = raw.get("quick") or {}
    return Suite(
        name=name,
        title=str(raw.get("title", name)),
        notes=str(raw.get("notes", "")).strip(),
        runs=tuple(runs),
        quick_overrides=tuple(quick.get("set") or ()),
    )


def unavailable(config_path: Path) -> str | None:
    """Why a benchmark config cannot run with the models this version has, or None."""
    raw = read_yaml(config_path)
    model = raw.get("model") if isinstance(raw, dict) else None
    if not isinstance(model, dict):
        return None
    name = model.get("type")
    if name not in registry.names():
        return f"not run: model type {name} not available"
    head = model.get("head", "vector")
    if head not in registry.get(name).heads:
        return f"not run: head {head} not available for model type {name}"
    return None


def machine() -> dict[str, Any]:
    """The CPU, the cores this process may use, and the library versions."""
    import keras

    from tsforecast import engine

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = engine.versions()
    return {
        "cpu": cpu,
        "cores": cores,
        "gpus": engine.gpus(),
        "backend": versions["backend"],
        "backend_version": versions[versions["backend"]],
        "keras": keras.__version__,
        "python": platform.python_version(),
    }


def machine_line() -> str:
    """The machine in a few words, for each record."""
    info = machine()
    return (
        f"{info['cpu']}, {info['cores']} cores, Keras {info['keras']} on "
        f"{info['backend'].upper() if info['backend'] == 'jax' else info['backend']} "
        f"{info['backend_version']}"
    )


def _drop_last_metric(result: Any, config: Config, split: str) -> float | None:
    """The split's scaled MSE over only the first whole batches of 32 windows.

    Published ETT tables were computed with a test loader that used ``drop_last=True``;
    this figure follows that convention, for comparison only.
    """
    import numpy as np

    from tsforecast.data import windows
    from tsforecast.data.prepared import prepare_data
    from tsforecast.forecasting import Predictor
    from tsforecast.runs import load_run

    run = load_run(result.run_dir)
    prepared = prepare_data(config)
    keep = len(prepared.starts[split]) // DROP_LAST_BATCH * DROP_LAST_BATCH
    if keep == 0:
        return None
    starts = prepared.starts[split][:keep]
    width, horizon = config.window.input_width, config.window.horizon
    n_targets = prepared.table.n_targets
    # in original units and scaled back, so that an auto run's statistical members count
    point = Predictor.of_run(run).forecast(prepared.table, starts).point
    forecast = prepared.scale_targets(np.asarray(point, dtype="float64"), starts)
    actual = windows.targets(prepared.scaled, starts, width, horizon, n_targets)
    return float(np.mean(np.square(forecast - actual)))


def run_one(
    run: BenchRun,
    bench_dir: Path,
    runs_dir: Path,
    quick_overrides: tuple[str, ...],
    quick: bool,
) -> dict[str, Any]:
    """Train one benchmark run (each candidate, keeping the best on validation)."""
    from tsforecast.commands.train import train

    config_path = bench_dir / run.config
    record: dict[str, Any] = {
        "suite": run.suite,
        "dataset": run.dataset,
        "task": run.task,
        "model": run.model,
        "config": f"{bench_dir.name}/{run.config}",
        "set": list(run.overrides),
        "metric": run.metric,
        "split": run.split,
        "published": run.published,
        "ours": None,
        "ratio": None,
        "seconds": None,
        "status": "ok",
        "quick": quick,
        "machine": machine_line(),
    }
    reason = unavailable(config_path)
    if reason is not None:
        record["status"] = reason
        return record
    base = [*run.overrides, *(quick_overrides if quick else ()), f"output.dir={runs_dir}"]
    if run.data is not None:  # a dataset that ships in a package, written out as CSV
        from tsforecast.data.packaged import write_dataset

        path = write_dataset(run.data, runs_dir / "data" / f"{run.data}.csv")
        base.append(f"data.path={path}")
    trials = []
    for candidate in run.candidates(quick):
        config = load_config(config_path, [*base, *candidate])
        result = train(config)
        val = result.metrics["val"]["model"][run.metric]
        trials.append((val, candidate, config, result))
    # Chosen on the validation split only; ties keep the first candidate.
    val, chosen, config, result = min(trials, key=lambda t: t[0])
    part = result.metrics[run.split]
    ours = part["model"][run.metric]
    record.update(
        ours=ours,
        ratio=(ours / run.published) if run.published else None,
        seconds=round(result.seconds, 1),
        chosen=dict(item.split("=", 1) for item in chosen),
        val=val,
        scaled_mae=part["model"]["scaled_mae"],
        naive=part["naive"][run.metric],
        n_windows=part["n_windows"],
        epochs_trained=result.metrics["training"].get("epochs_trained"),
        baselines={
            name: found[run.metric]
            for name, found in part.items()
            if name != "model" and isinstance(found, dict) and run.metric in found
        },
        selection=[
            {
                "set": list(c),
                "val": v,
                "seconds": round(r.seconds, 1),
            }
            for v, c, _, r in trials
        ],
    )
    if run.metric == "scaled_mse":
        record["ours_drop_last_32"] = _drop_last_metric(result, config, run.split)
    return record


def run_suite(
    name: str,
    bench_dir: Path,
    runs_dir: Path,
    *,
    quick: bool = False,
    only: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Run every run of suite ``name`` (only those marked ``quick`` in quick mode, only
    those of row ``only`` when given)."""
    suite = load_suite(bench_dir, name)
    runs = [r for r in suite.runs if (r.quick or not quick) and _selected(r, only)]
    records = []
    for i, run in enumerate(runs, 1):
        label = f"[{name} {i}/{len(runs)}] {run.dataset}, {run.task}, {run.model}"
        if progress:
            progress(f"{label} ...")
        record = run_one(run, bench_dir, runs_dir, suite.quick_overrides, quick)
        if progress:
            if record["status"] == "ok":
                published = "-" if run.published is None else f"{run.published:.4g}"
                progress(
                    f"{label}: {run.metric} {record['ours']:.4g} (published {published}), "
                    f"{record['seconds']:.0f} s"
                )
            else:
                progress(f"{label}: {record['status']}")
        records.append(record)
    return records


def _selected(run: BenchRun, only: str | None) -> bool:
    """Whether ``--only DATASET/TASK`` (or ``--only DATASET``) names this run's row."""
    if only is None:
        return True
    wanted = only.strip().lower()
    return wanted in (run.label.lower(), run.dataset.lower())


def _key(record: dict[str, Any]) -> tuple:
    return (record["suite"], record["dataset"], record["task"], record["model"])


def merge_records(old: list[dict], new: list[dict], *, rows_only: bool = False) -> list[dict]:
    """``old`` with every record of the suites in ``new`` replaced by ``new``'s records
    (with ``rows_only``, only the records of the same rows, in their places)."""
    if rows_only:
        fresh = {_key(r): r for r in new}
        kept = [fresh.pop(_key(r), r) for r in old]
        return kept + list(fresh.values())
    suites = {r["suite"] for r in new}
    return [r for r in old if r["suite"] not in suites] + new


def bench(
    suites: list[str],
    bench_dir: Path,
    results_dir: Path,
    runs_dir: Path,
    *,
    quick: bool = False,
    only: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Run suites (or the one row ``only`` names), merge their records into
    ``results_dir``, and rewrite RESULTS.md.

    Returns:
        The records of this invocation.
    """
    if not bench_dir.is_dir():
        raise ConfigError(f"Benchmark folder not found: {bench_dir}")
    parsed = [load_suite(bench_dir, name) for name in suites]  # fail early on a bad manifest
    if only is not None:
        parsed = [s for s in parsed if any(_selected(r, only) for r in s.runs)]
        if not parsed:
            raise ConfigError(
                f"--only {only}: no such row; rows are DATASET/TASK, for example "
                f"'{load_suite(bench_dir, suites[0]).runs[0].label}'."
            )
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path = results_dir / RESULTS_JSON
    old: list[dict] = []
    meta: dict[str, dict] = {}
    if json_path.is_file():
        try:
            stored = json.loads(json_path.read_text(encoding="utf-8"))
            old, meta = stored["records"], stored.get("machines", {})
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{json_path} is not a results file; move it away.") from None
    info = machine()
    records = []
    for suite in parsed:
        started = time.perf_counter()
        new = run_suite(suite.name, bench_dir, runs_dir, quick=quick, only=only, progress=progress)
        records += new
        meta[suite.name] = {
            **info,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            # rows rerun one at a time have no suite wall time
            "seconds": None if only is not None else round(time.perf_counter() - started, 1),
            "quick": quick,
        }
        old = merge_records(old, new, rows_only=only is not None)
        # rows the manifest no longer lists (renamed or removed) leave the table; the
        # suite's rows stand in the manifest's order
        order = {(suite.name, r.dataset, r.task, r.model): i for i, r in enumerate(suite.runs)}
        mine = sorted((r for r in old if _key(r) in order), key=lambda r: order[_key(r)])
        old = [r for r in old if r["suite"] != suite.name] + mine
        json_path.write_text(
            json.dumps({"machines": meta, "records": old}, indent=2, allow_nan=False) + "\n",
            encoding="utf-8",
        )
    render(bench_dir, results_dir)
    return records


def render(bench_dir: Path, results_dir: Path) -> Path:
    """Rewrite ``RESULTS.md`` from ``results.json`` and ``m3.json`` (no training)."""
    found = results_dir / RESULTS_JSON
    stored = json.loads(found.read_text(encoding="utf-8")) if found.is_file() else {}
    every = [load_suite(bench_dir, s) for s in SUITES if (bench_dir / f"{s}.yaml").is_file()]
    path = results_dir / RESULTS_MD
    text = results_markdown(stored.get("records", []), every, stored.get("machines", {}))
    m3 = results_dir / M3_JSON
    if m3.is_file():
        text = text.rstrip("\n") + "\n\n" + "\n".join(m3_lines(json.loads(m3.read_text()))) + "\n"
    path.write_text(text, encoding="utf-8")
    return path
