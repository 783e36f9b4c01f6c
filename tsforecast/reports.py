"""Every table the commands print, as text: aligned tables, Markdown, CSV and JSON.

The commands return records; these functions turn them into what a person (or a CI job)
reads. No TensorFlow here.
"""

from __future__ import annotations

import json
import math
from typing import Any

from tsforecast.config.sections import CLASSICAL_BASELINES
from tsforecast.errors import ConfigError

#: Test metrics the train summary shows beside the naive baseline.
SUMMARY_METRICS = ("mae", "rmse", "mse", "mase", "smape", "scaled_mse", "scaled_mae")
#: Leaderboard formats of ``compare``.
FORMATS = ("table", "markdown", "csv", "json")


def number(value: Any) -> str:
    """A figure to 4 significant digits, or ``-`` when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def aligned(rows: list[tuple[str, ...]] | list[list[str]]) -> str:
    """Rows of cells as left-aligned columns two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    )


def to_json(data: Any) -> str:
    """JSON as the commands print it: indented, and refusing NaN and infinities."""
    return json.dumps(data, indent=2, allow_nan=False)


def _baseline(name: str) -> str:
    return "naive" if name == "naive" else name.replace("_", " ")


def _listed(names: list[str]) -> str:
    """``naive baseline``, or ``naive and seasonal naive baselines``."""
    words = [_baseline(n) for n in names]
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return text + (" baselines" if len(words) > 1 else " baseline")


def _auto_lines(auto: dict[str, Any]) -> list[str]:
    """What ``model.type auto`` kept, how it refit it, and whether its budget was spent."""
    members = auto.get("members")
    if not members:
        return []
    kept = ", ".join(f"{m['candidate']} {m['weight']:.2f}" for m in members)
    refit = (
        "networks refit on the training and validation rows"
        if auto["refit"]["enabled"]
        else "fitted on the training rows only (model.refit: false)"
    )
    lines = [
        f"model.type auto kept {kept}, chosen by {str(auto['metric']).upper()} on "
        f"{auto['val_origins']} validation windows; {refit}."
    ]
    if auto.get("capped"):
        lines.append(
            f"model.budget_seconds ({auto['budget_seconds']:g}) was spent: "
            f"{auto['skipped_by_budget']} candidates were not fitted."
        )
    return lines


def summary_table(metrics: dict[str, Any]) -> str:
    """Test metrics of the model beside its baselines', the verdict, and the periods."""
    test = metrics["test"]
    baselines = [name for name in ("naive", "seasonal_naive", *CLASSICAL_BASELINES) if name in test]
    rows = [("metric", "model", *(_baseline(b) for b in baselines))]
    for name in SUMMARY_METRICS:
        rows.append(
            (name, number(test["model"][name]), *(number(test[b][name]) for b in baselines))
        )
    lines = [aligned(rows)]
    model = metrics.get("model")
    chosen = (metrics.get("auto") or {}).get("chosen", [])
    if model == "auto" and len(chosen) == 1 and chosen[0] in ("naive", "seasonal_naive"):
        model = chosen[0]  # auto kept a baseline: the run is that baseline
        lines.append(f"model.type auto chose the {_baseline(model)} baseline.")
    lines += _auto_lines(metrics.get("auto") or {})
    is_baseline = model in ("naive", "seasonal_naive")
    if model == "naive":
        lines.append(f"This run is the naive baseline, scored on {test['n_windows']} test windows.")
    else:
        beats = test.get("beats", {"naive": test["beats_naive"]})
        won = [b for b in baselines if beats.get(b) and not (is_baseline and b == model)]
        lost = [b for b in baselines if b in beats and not beats[b] and b != model]
        verdict = f"On {test['n_windows']} test windows the model"
        if won:
            verdict += f" beats the {_listed(won)}"
        if lost:
            verdict += (" but" if won else "") + f" does NOT beat the {_listed(lost)}"
        lines.append(verdict + " (MSE).")
    season = metrics.get("baselines", {}).get("season_length")
    if season and "seasonal_naive" in baselines:
        lines.append(f"The seasonal naive baseline repeats the last season of {season} steps.")
    interval = test["model"].get("interval")
    if interval is not None:
        levels = interval["levels"]
        lines.append(
            f"The {levels[0]:g}-{levels[-1]:g} quantile interval (nominal "
            f"{interval['nominal_coverage']:.0%}) covers {interval['coverage']:.1%} of test "
            f"values; mean width {interval['mean_width']:.4g}."
        )
    for part, period in metrics.get("periods", {}).items():
        span = f"{period['first']} to {period['last']}: " if period["first"] else ""
        lines.append(f"{part:<5} {span}{period['rows']:,} rows, {period['windows']:,} windows")
    return "\n".join(lines)


def train_summary(record: dict[str, Any]) -> str:
    """What ``train`` prints for one config: metrics beside naive, the time and, last, the
    run directory."""
    return (
        f"{summary_table(record['metrics'])}\nTrained in {record['seconds']:.1f} s. "
        f"Run directory:\n{record['run_dir']}"
    )


def batch_table(records: list[dict[str, Any]]) -> str:
    """One line per config: status, test metrics beside naive, and run directory or error."""
    rows = [("config", "status", "test mse", "naive mse", "test mase", "skill", "seconds", "run")]
    for r in records:
        test = r["metrics"].get("test")
        figures = ["-"] * 4
        if test:
            figures = [
                number(test["model"]["mse"]),
                number(test["naive"]["mse"]),
                number(test["model"]["mase"]),
                number(test["skill_mse"]),
            ]
        where = r["run_dir"] or r["error"] or ""
        seconds = "-" if r["seconds"] is None else f"{r['seconds']:.1f}"
        rows.append((r["config"], r["status"].replace("_", " "), *figures, seconds, where))
    counts = {s: sum(r["status"] == s for r in records) for s in ("ok", "gate_failed", "error")}
    return (
        aligned(rows)
        + f"\n{len(records)} configs: {counts['ok']} ok, {counts['gate_failed']} failed a quality "
        f"gate, {counts['error']} failed."
    )


def backtest_table(summary: dict[str, Any]) -> str:
    """Per-fold test metrics beside naive, their mean, and a verdict."""
    rows = [("fold", "origin", "windows", "mse", "naive mse", "mae", "naive mae", "mase", "skill")]

    def figures(test: dict[str, Any]) -> tuple[str, ...]:
        model, naive = test["model"], test["naive"]
        return (
            str(test["n_windows"]),
            number(model["mse"]),
            number(naive["mse"]),
            number(model["mae"]),
            number(naive["mae"]),
            number(model["mase"]),
            number(test["skill_mse"]),
        )

    for fold in summary["folds"]:
        rows.append((str(fold["fold"]), str(fold["origin"]), *figures(fold["test"])))
    mean = summary["aggregate"]["test"]
    rows.append(("mean", "", *figures(mean)))
    verdict = "beats" if mean["beats_naive"] else "does NOT beat"
    return (
        aligned(rows)
        + f"\nOn average the model {verdict} the naive baseline (MSE); it beats it in "
        f"{mean['folds_beating_naive']} of {len(summary['folds'])} folds."
    )


def leaderboard(rows: list[dict[str, Any]], fmt: str) -> str:
    """The leaderboard as an aligned ``table``, ``markdown``, ``csv`` or ``json`` text.

    Tables and Markdown show one ranked table per group of runs scored on the same test
    windows, under a header naming what they share; CSV and JSON give every row its
    ``group``.
    """
    import pandas as pd

    if fmt == "json":
        return to_json(rows) + "\n"
    if fmt == "csv":
        drop = ("metrics", "alone")
        frame = pd.DataFrame([{k: v for k, v in row.items() if k not in drop} for row in rows])
        return frame.to_csv(index=False)
    if fmt not in ("table", "markdown"):
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}; got '{fmt}'.")
    titles = list(dict.fromkeys(row["group"] for row in rows))
    parts = []
    for title in titles:
        members = [row for row in rows if row["group"] == title]
        shown = [
            {k: v for k, v in row.items() if k not in ("metrics", "path", "group", "alone")}
            for row in members
        ]
        cells = [list(shown[0])] + [[number(v) for v in row.values()] for row in shown]
        note = " (no other run is scored on these test windows)" if members[0]["alone"] else ""
        if fmt == "markdown":
            lines = ["| " + " | ".join(row) + " |" for row in cells]
            lines.insert(1, "|" + "|".join("---" for _ in cells[0]) + "|")
            parts.append(f"### Test windows: {title}{note}\n\n" + "\n".join(lines) + "\n")
        else:
            parts.append(f"Test windows: {title}{note}\n" + aligned(cells) + "\n")
    return "\n".join(parts)


def trials_table(result: Any, shown: int = 10) -> str:
    """The best ``shown`` trials of a finished search, how to train the best, and the tune
    directory as the last line."""
    head = result.trials.head(shown)
    if not head["error"].astype(bool).any():
        head = head.drop(columns="error")
    table = head.to_string(index=False, na_rep="-", float_format=lambda v: f"{v:.4g}")
    return (
        f"{table}\nBest val_loss {result.best_val_loss:.5g} of {len(result.trials)} trials in "
        f"{result.seconds:.1f} s. Train it with: tsforecast train "
        f"{result.path / 'best_config.yaml'}\nTune directory:\n{result.path}"
    )


def validation_line(path: str, config: Any, search: Any) -> str:
    """What ``validate`` says of a valid config (and its search section, if any)."""
    import os

    data = config.data.path or config.data.source
    output = os.path.abspath(os.path.expanduser(config.output.dir))
    line = f"{path}: valid ({config.model.type}, data {data}, runs in {output})."
    if search is not None:
        keys = ", ".join(p.path for p in search.params)
        line += f" Search: {search.settings.algorithm} over {keys}."
    return line


def bench_line(record: dict[str, Any]) -> str:
    """One benchmark record: where it comes from and our figure beside the published one."""
    if record["status"] != "ok":
        ours = record["status"]
    else:
        ours = f"{record['metric']} {record['ours']:.4g}"
        if record["published"] is not None:
            ours += f" (published {record['published']:.4g})"
    return f"{record['suite']}  {record['dataset']}  {record['task']}  {record['model']}: {ours}"


# ---------------------------------------------------------------------------------------------
# The benchmark tables of RESULTS.md


def _fmt(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}" if value < 10 else f"{value:.1f}"


def _engine(info: dict[str, Any]) -> str:
    """The engine a benchmark ran on, as recorded (older records ran on TensorFlow)."""
    if "backend" not in info:
        return f"Keras {info['keras']} on TensorFlow {info.get('tensorflow', '?')}"
    name = "JAX" if info["backend"] == "jax" else info["backend"]
    return f"Keras {info['keras']} on {name} {info['backend_version']}"


def results_markdown(
    records: list[dict[str, Any]], suites: list[Any], machines: dict[str, dict]
) -> str:
    """RESULTS.md: one table per suite (``bench.Suite``), our figure beside the published one."""
    lines = [
        "# Benchmark results",
        "",
        "Written by `tsforecast bench`; do not edit by hand. Every figure comes from the",
        "config named in its row, trained by `tsforecast.commands.train.train`, the function",
        "behind `tsforecast train`. Ratio = ours / published (below 1: ours is better).",
        "Seconds: wall time of the reported run (data preparation, training, evaluation,",
        "plots); with selection, the time of every candidate together follows.",
        "",
    ]
    for suite in suites:
        rows = [r for r in records if r["suite"] == suite.name]
        if not rows:
            continue
        info = machines.get(suite.name, {})
        lines += [f"## {suite.title}", ""]
        if suite.notes:
            lines += [suite.notes, ""]
        if info:
            wall = (
                f"suite wall time {info['seconds']:.0f} s"
                if info.get("seconds") is not None
                else "rows rerun one at a time (--only)"
            )
            lines += [
                f"Ran {info.get('date', '?')} on {info['cpu']} ({info['cores']} cores available"
                f", {info['gpus']} GPUs), {_engine(info)}, Python {info['python']}; "
                f"{wall}{' (quick mode)' if info.get('quick') else ''}.",
                "",
            ]
        metric, split = rows[0]["metric"], rows[0]["split"]
        is_ett = metric == "scaled_mse"
        header = ["dataset", "task", "model", f"ours ({split} {metric})", "published", "ratio"]
        if is_ett:
            header += ["ours, drop_last 32", f"{split} scaled_mae", "chosen on validation"]
        header += ["seconds", "config"]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for r in rows:
            if r["status"] != "ok":
                cells = [r["dataset"], r["task"], r["model"], r["status"], _fmt(r["published"])]
                cells += ["-"] * (len(header) - 6) + [f"`{r['config']}`"]
            else:
                cells = [
                    r["dataset"],
                    r["task"],
                    r["model"],
                    _fmt(r["ours"]),
                    _fmt(r["published"]),
                    "-" if r["ratio"] is None else f"{r['ratio']:.3f}",
                ]
                if is_ett:
                    cells += [
                        _fmt(r.get("ours_drop_last_32")),
                        _fmt(r.get("scaled_mae")),
                        ", ".join(str(v) for v in r.get("chosen", {}).values()) or "-",
                    ]
                seconds = f"{r['seconds']:.0f}"
                if len(r.get("selection", [])) > 1:
                    total = sum(t["seconds"] for t in r["selection"])
                    seconds += f" ({total:.0f} with selection)"
                cells += [seconds, f"`{r['config']}`"]
            lines.append("| " + " | ".join(cells) + " |")
        if any(set(CLASSICAL_BASELINES) & set(r.get("baselines", {})) for r in rows):
            lines += ["", *_classical_table(rows)]
        selections = [r for r in rows if len(r.get("selection", [])) > 1]
        if selections:
            lines += ["", "Candidates tried, chosen on the validation split only:", ""]
            lines += [
                "| dataset | task | model | candidate | val | seconds |",
                "|---|---|---|---|---|---|",
            ]
            for r in selections:
                chosen = [f"{k}={v}" for k, v in r["chosen"].items()]
                for trial in r["selection"]:
                    mark = " (chosen)" if trial["set"] == chosen else ""
                    lines.append(
                        f"| {r['dataset']} | {r['task']} | {r['model']} | "
                        f"{', '.join(trial['set'])}{mark} | {trial['val']:.4f} | "
                        f"{trial['seconds']:.0f} |"
                    )
        lines.append("")
    return "\n".join(lines)


def _classical_table(rows: list[dict[str, Any]]) -> list[str]:
    """Each dataset's models beside seasonal naive and the classical baselines, all scored
    on the same test windows; the first model of a dataset is the one the goal is about."""
    models = list(dict.fromkeys(r["model"] for r in rows if r["status"] == "ok"))
    metric = rows[0]["metric"]
    baselines = ["naive", "seasonal_naive", *CLASSICAL_BASELINES]
    header = ["dataset", "task", "windows", *baselines, *models, "first / best classical"]
    lines = [
        f"Test {metric} of every model and baseline on the same windows (lowest in bold):",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    wins = total = 0
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        ok = [r for r in rows if r["dataset"] == dataset and r["status"] == "ok"]
        if not ok:
            continue
        found = ok[0].get("baselines", {})
        ours = {r["model"]: r["ours"] for r in ok}
        figures = [found.get(b) for b in baselines] + [ours.get(m) for m in models]
        best = min(v for v in figures if v is not None)
        cells = [f"**{_fmt(v)}**" if v == best else _fmt(v) for v in figures]
        classical = [found[b] for b in CLASSICAL_BASELINES if b in found]
        ratio = "-"
        if classical:
            first = ok[0]["ours"] / min(classical)
            ratio = f"{first:.3f}"
            wins, total = wins + (first <= 1), total + 1
        lines.append(
            f"| {dataset} | {ok[0]['task']} | {ok[0]['n_windows']} | "
            + " | ".join(cells)
            + f" | {ratio} |"
        )
    lines += ["", f"{models[0]} at or below the best classical model on {wins} of {total}."]
    return lines


#: The M3 rows, in the order the table shows them.
_M3_ROWS = ("auto", "AutoETS", "AutoTheta", "AutoARIMA", "AutoETS+AutoTheta", "naive")
_M3_FREQUENCIES = ("yearly", "quarterly", "monthly", "other")


def m3_lines(stored: dict[str, Any]) -> list[str]:
    """The M3 section of RESULTS.md: sMAPE and MASE per frequency and overall, with seconds,
    beside the published table (``bench m3``'s ``m3.json``)."""
    records = stored["records"]
    ran = [f for f in _M3_FREQUENCIES if f in records]
    quick = any(r.get("quick") for r in records.values())
    info = stored.get("machine", {})
    lines = [
        "## The M3 competition (sMAPE; MASE below)" + (" (quick mode)" if quick else ""),
        "",
        "Written by `tsforecast bench m3`: every series of each frequency as one panel, "
        "the config drafted by `tsforecast init` at the competition's horizon and trained "
        "by `tsforecast train` (`model.type: auto`); its test split is the last horizon of "
        "each series, forecast from the history before it, where every statistical model "
        "is fitted too. sMAPE = mean over every forecast point of 200·|y−f|/(y+f); MASE: "
        "each series' MAE over its in-sample seasonal naive error, mean over series. "
        "Average: over every point of the four frequencies (the published convention). "
        "Seconds: wall time of the row, all series of the frequency.",
        "",
    ]
    if info:
        lines += [
            f"Ran on {info['cpu']} ({info['cores']} cores, {info['gpus']} GPUs), "
            f"Keras {info['keras']} on {info['backend']}.",
            "",
        ]
    header = ["method", *(f"{f} ({records[f]['series']})" for f in ran), "average", "seconds"]
    for metric in ("smape", "mase"):
        rows = [header, ["---"] * len(header)]
        for name in _M3_ROWS:
            if not all(name in records[f]["rows"] for f in ran):
                continue
            cells = [records[f]["rows"][name][metric] for f in ran]
            overall = (stored.get("average") or {}).get(name, {}).get(metric)
            seconds = sum(records[f]["rows"][name]["seconds"] for f in ran)
            label = "tsforecast auto" if name == "auto" else name
            shown = "" if overall is None else f"{overall:.2f}"
            rows.append([label, *(f"{c:.2f}" for c in cells), shown, f"{seconds:.0f}"])
        if metric == "smape":
            order = dict(zip(_M3_FREQUENCIES, range(4), strict=True))
            for name, published in stored.get("published", {}).items():
                cells = [f"{published[order[f]]:.2f}" for f in ran]
                rows.append([f"{name} (published)", *cells, f"{published[4]:.2f}", ""])
        lines += ["| " + " | ".join(r) + " |" for r in rows] + [""]
    for f in ran:
        members = ", ".join(
            f"{m['candidate']} {m['weight']:.2f}" for m in records[f].get("members", [])
        )
        lines.append(f"- {f}: auto kept {members}.")
    return lines
