"""tsforecast beside Darts and NeuralForecast on the same forecasting tasks; writes
benchmarks/PEERS.md and benchmarks/peers.json.

Every run is a fresh process of one tool on one task (benchmarks/peers/*_task.py), each
peer in its own virtual environment with a pinned CPU build of PyTorch (never a dependency
of tsforecast). The tools take turns: each repeat of a task runs all three, in an order that
rotates from one repeat (and task) to the next, so that a slow spell of the machine does not
fall on one tool. Each run prints one JSON line (wall time, time to the first epoch, test
MSE, peak resident memory, CPU time, ...); the tables show medians over the repeats.

Usage:
    python benchmarks/peers.py --setup                 # the peers' environments, .venv-peers/
    python benchmarks/peers.py --repeats 3             # every task (hours on 2 cores)
    python benchmarks/peers.py --tasks lstm_load24 --repeats 1 --threads 1
    python benchmarks/peers.py --quick                 # 1 epoch, 200-series panel: checks the
                                                       # code works; writes runs/peers-quick/

Tasks: nlinear96, nlinear720 (ETTh1, 7 columns, a channel-independent linear model with
instance normalisation, lookback 512), lstm_load24 (ETTh1 HUFL, LSTM, lookback 168, horizon 24),
panel (10,000 synthetic series of 200 steps, N-HiTS, lookback 48, horizon 12).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TASK_DIR = HERE / "peers"
PEER_ENVS = ROOT / ".venv-peers"
TASKS = ("nlinear96", "nlinear720", "lstm_load24", "panel")
TOOLS = ("tsforecast", "darts", "neuralforecast")
SCRIPTS = {"tsforecast": "tsf_task.py", "darts": "darts_task.py", "neuralforecast": "nf_task.py"}
NAMES = {"tsforecast": "tsforecast", "darts": "Darts", "neuralforecast": "NeuralForecast"}

#: The peers' environments: folder under .venv-peers/ and what is installed after torch.
TORCH = "torch==2.13.0"
PEER_PACKAGES = {
    "darts": ("darts", "darts[torch]==0.48.1"),
    "neuralforecast": ("nf", "neuralforecast==3.3.0"),
}

#: Goals of tsforecast against the best peer: wall time ratio, peak memory ratio, and the
#: accuracy margin within which a speed comparison counts.
WALL_GOAL, RSS_GOAL, MSE_MARGIN = 0.5, 1.0, 0.01

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


class BenchmarkError(Exception):
    """A problem the driver reports as one line."""


# ---------------------------------------------------------------------------------------------
# Environments


def env_python(folder: str) -> Path:
    return PEER_ENVS / folder / "bin" / "python"


def run_step(command: list[str]) -> None:
    print("+", " ".join(str(c) for c in command), flush=True)
    subprocess.run([str(c) for c in command], check=True, cwd=ROOT)


def setup() -> None:
    """Create .venv-peers/darts and .venv-peers/nf: CPU torch first, then the peer
    constrained to that torch; skips an environment already made with these pins."""
    PEER_ENVS.mkdir(exist_ok=True)
    pin = PEER_ENVS / "torch-pin.txt"
    pin.write_text(TORCH + "\n")
    for folder, package in PEER_PACKAGES.values():
        env = PEER_ENVS / folder
        stamp, wanted = env / ".installed", f"{TORCH}\n{package}\n"
        if stamp.is_file() and stamp.read_text() == wanted:
            print(f"{env.relative_to(ROOT)}: already set up ({package}, {TORCH})")
            continue
        pip = [env / "bin" / "python", "-m", "pip"]
        run_step([sys.executable, "-m", "venv", "--clear", env])
        run_step([*pip, "install", "-q", "--upgrade", "pip"])
        run_step([*pip, "install", TORCH])
        cuda = subprocess.run(
            [env / "bin" / "python", "-c", "import torch; print(torch.version.cuda or '')"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if cuda:
            raise BenchmarkError(
                f"{TORCH} installed a CUDA {cuda} build in {env.relative_to(ROOT)}; make pip "
                "find the CPU wheel (e.g. PIP_EXTRA_INDEX_URL pointing at a CPU wheel index) "
                "and run --setup again."
            )
        run_step([*pip, "install", "-c", pin, package])
        run_step([*pip, "check"])
        freeze = subprocess.run([*pip, "freeze"], capture_output=True, text=True, check=True)
        (env / "freeze.txt").write_text(freeze.stdout)
        stamp.write_text(wanted)


def interpreters(args: argparse.Namespace) -> dict[str, str]:
    """The Python of each tool: this one for tsforecast, the peers' environments else."""
    found = {"tsforecast": sys.executable}
    given = {"darts": args.darts_python, "neuralforecast": args.nf_python}
    for tool, (folder, _) in PEER_PACKAGES.items():
        if tool not in args.tools:
            continue
        python = Path(given[tool]) if given[tool] else env_python(folder)
        if not python.is_file():
            where = given[tool] or python.relative_to(ROOT)
            raise BenchmarkError(
                f"no {NAMES[tool]} environment at {where}; run `python benchmarks/peers.py "
                f"--setup` first (or pass --{'darts' if tool == 'darts' else 'nf'}-python)."
            )
        found[tool] = str(python)
    return found


# ---------------------------------------------------------------------------------------------
# Runs


def machine() -> dict:
    """CPU model, usable cores, memory, OS, the commit and the date."""
    cpu, memory = platform.processor() or platform.machine(), None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    commit = dirty = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
        dirty = bool(status.strip())
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "memory_gb": memory,
        "os": platform.platform(),
        "python": platform.python_version(),
        "commit": commit or None,
        "uncommitted_changes": dirty,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }


#: Epoch caps below the default 30, the same for every tool: an epoch of the 10,000-series
#: panel is 3,164 steps, so 10 epochs keep one run within minutes on 2 cores.
TASK_MAX_EPOCHS = {"panel": 10}


def task_flags(args: argparse.Namespace, task: str) -> list[str]:
    flags = ["--seed", str(args.seed), "--check-naive"]
    if args.quick:
        flags.append("--quick")
    if args.threads:
        flags += ["--threads", str(args.threads)]
    cap = args.max_epochs or (None if args.quick else TASK_MAX_EPOCHS.get(task))
    if cap:
        flags += ["--max-epochs", str(cap)]
    return flags


def run_one(tool: str, task: str, python: str, args: argparse.Namespace, log: Path) -> dict:
    """One tool on one task in a fresh process: its JSON record, or one with ``error``."""
    command = [python, str(TASK_DIR / SCRIPTS[tool]), "--task", task, *task_flags(args, task)]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=ENV, cwd=ROOT, timeout=args.timeout
        )
    except subprocess.TimeoutExpired:
        return {"peer": tool, "task": task, "error": f"timed out after {args.timeout} s"}
    seconds = time.perf_counter() - started
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(done.stderr)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        return {
            "peer": tool,
            "task": task,
            "error": f"exit code {done.returncode}: {tail[0]} (log: {log.relative_to(ROOT)})",
        }
    record = json.loads(lines[-1])
    record["process_s"] = round(seconds, 3)  # the whole process, imports included
    record["load_before"] = round(load, 2)
    return record


def rotated(tools: list[str], shift: int) -> list[str]:
    shift %= len(tools)
    return tools[shift:] + tools[:shift]


# ---------------------------------------------------------------------------------------------
# Tables


def median(runs: list[dict], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def cores_used(run: dict) -> float | None:
    return run["cpu_s"] / run["wall_s"] if run.get("wall_s") else None


def summary(runs: list[dict], task: str, tools: list[str]) -> dict[str, dict]:
    """Per tool: the medians over its successful runs of the task."""
    out = {}
    for tool in tools:
        ok = [r for r in runs if r["task"] == task and r["peer"] == tool and "error" not in r]
        failed = [r for r in runs if r["task"] == task and r["peer"] == tool and "error" in r]
        out[tool] = {
            "runs": len(ok),
            "failed": len(failed),
            "wall_s": median(ok, "wall_s"),
            "first_epoch_s": median(ok, "first_epoch_s"),
            "test_mse": median(ok, "test_mse"),
            "peak_rss_mb": median(ok, "peak_rss_mb"),
            "cores": median([{"c": cores_used(r)} for r in ok], "c"),
            "epochs": median(ok, "epochs"),
            "naive_test_mse": median(ok, "naive_test_mse"),
        }
    return out


def number(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def goals(table: dict[str, dict]) -> dict | None:
    """tsforecast against the best peer: wall and memory ratios, and whether its test MSE
    is within MSE_MARGIN of the lowest peer's (else the speed ratio does not count)."""
    mine = table.get("tsforecast", {})
    peers = {t: s for t, s in table.items() if t != "tsforecast" and s["runs"]}
    if not mine.get("runs") or not peers:
        return None
    fastest = min(peers, key=lambda t: peers[t]["wall_s"])
    leanest = min(peers, key=lambda t: peers[t]["peak_rss_mb"])
    best = min(peers, key=lambda t: peers[t]["test_mse"])
    mse_ratio = mine["test_mse"] / peers[best]["test_mse"]
    return {
        "fastest_peer": fastest,
        "wall_ratio": mine["wall_s"] / peers[fastest]["wall_s"],
        "most_accurate_peer": best,
        "mse_ratio": mse_ratio,
        "as_accurate": mse_ratio <= 1.0 + MSE_MARGIN,
        "leanest_peer": leanest,
        "rss_ratio": mine["peak_rss_mb"] / peers[leanest]["peak_rss_mb"],
    }


def yaml_block(settings: dict) -> list[str]:
    import yaml

    text = yaml.safe_dump(settings, sort_keys=False, default_flow_style=None, width=96)
    return ["```yaml", *text.rstrip().splitlines(), "```"]


HOW = """\
Every run is a fresh process; each script starts its clock after its imports, so no tool
is charged for importing its framework:

* **wall s**: from after the imports to the end: loading and scaling the data, building and
  fitting the model, forecasting every test window and scoring it. tsforecast's span is its
  `train` command as a library call: it also scores the validation windows, scores the naive
  and seasonal naive baselines beside the model, backs training up at epoch ends (at most
  every 30 s, its default) and writes a complete run directory (model file, scaler,
  history, metrics, HTML report; plots off). The panel task's CSV is
  written before tsforecast's clock starts (reading it counts); the peers build their data
  frames from the same arrays inside theirs.
* **first epoch s**: from just before the fit call (data already loaded and scaled) to the
  end of the first epoch including its validation pass: Lightning's first
  `on_train_epoch_end` (Darts), the first validation after one epoch's worth of steps
  (NeuralForecast, whose fit call also builds its dataset), tsforecast's first epoch-end
  progress report (its `train` call also builds the windows' pipeline and the model).
  Both Lightning peers include their 2-batch sanity validation.
* **test MSE**: mean squared error over every test window (stride 1), step and target, on
  the standardised values (ETTh1: each column's train mean and population std; panel: each
  series' own). Every tool scores exactly the same windows: the scripts assert the window
  counts, tsforecast's test targets are checked against the peers' arrays, and **naive
  MSE**, the repeat-last forecast scored by each tool on its own windows, is the same on
  every side. lstm_load24 forecasts ETTh1's high useful load (HUFL), whose daily cycle a
  model can learn and repeat-last cannot, so that the recurrent models are measured on a
  task where they beat the naive forecast.
* **peak RSS MB**: the process's maximum resident set (`ru_maxrss`), imports included.
* **cores used**: CPU time (user + system, all threads) over wall time, same span.
* **epochs**: epochs trained (NeuralForecast trains by steps: steps / steps per epoch).

Goals: tsforecast's wall time at most half the fastest peer's, which counts only when its
test MSE is at most the lowest peer MSE plus 1%; its peak memory at most the leanest
peer's. Medians over the repeats; the runs of each repeat alternate tools in a rotating
order."""

DIFFERENCES = """\
Where the tools' protocols differ (each keeps its library's own behaviour here):

* **Kept weights**: tsforecast restores the best validation epoch's weights
  (`training.early_stopping.restore_best_weights`, its default); Darts and NeuralForecast
  keep the last epoch's (neither reloads the best by default).
* **Epochs**: NeuralForecast samples windows per step rather than passing over them; one
  "epoch" is ceil(train windows / batch) steps, validated and early-stopped on that schedule.
* **Initialisation of the linear models**: tsforecast zeros (the forecast starts at the
  window's last value), Darts `const_init` (the window mean), NeuralForecast PyTorch's default.
* **N-HiTS**: tsforecast and NeuralForecast start the forecast from the window's last value
  and the stacks add to it, Darts from zero; NeuralForecast's blocks have one ReLU fewer than
  Darts' and tsforecast's (Linear, Linear, ReLU).
* **LSTM head**: Darts and tsforecast map the last hidden state to the 24 steps with one
  Dense layer; NeuralForecast maps each of the last 24 hidden states through one Linear(64, 1).
* **Engine**: tsforecast fits on Keras' JAX backend (XLA-compiled train steps, reruns
  bit-identical on a CPU); the Lightning peers on PyTorch and leave `deterministic` off.
* **Threads**: `--threads N` sets torch's intra-op threads for the peers and pins
  tsforecast's process to N cores (JAX sizes its CPU thread pools from the usable cores)."""


def write_markdown(path: Path, data: dict) -> None:
    runs, tasks, tools = data["runs"], data["tasks"], data["tools"]
    m = data["machine"]
    quick = data["quick"]
    threads = data["threads"] or "each framework's default"
    lines = [
        "# tsforecast beside Darts and NeuralForecast",
        "",
        "Written by `benchmarks/peers.py`; every run's record is in `peers.json` beside this file.",
        "",
    ]
    if quick:
        lines += [
            "**Quick run** (`--quick`: 1 epoch, a 200-series panel): it checks that every side "
            "runs; its figures are not a benchmark.",
            "",
        ]
    lines += [
        f"Machine: {m['cpu']}, {m['cores']} usable cores, {m['memory_gb']} GB; {m['os']}. "
        f"Commit {m['commit']}{' (with uncommitted changes)' if m['uncommitted_changes'] else ''}"
        f", {m['date']}. Threads: {threads}. Repeats: {data['repeats']}.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in data["versions"].items()) + ".",
        "",
        "## Results (medians over the repeats)",
        "",
    ]
    goal_rows = []
    for task in tasks:
        table = summary(runs, task, tools)
        lines += [
            f"### {task}",
            "",
            "| tool | wall s | first epoch s | test MSE | peak RSS MB | cores used | epochs "
            "| runs | naive MSE |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for tool in tools:
            s = table[tool]
            runs_text = f"{s['runs']}" + (f" ({s['failed']} failed)" if s["failed"] else "")
            lines.append(
                f"| {NAMES[tool]} | {number(s['wall_s'])} | {number(s['first_epoch_s'])} | "
                f"{number(s['test_mse'], 4)} | {number(s['peak_rss_mb'])} | "
                f"{number(s['cores'], 2)} | {number(s['epochs'])} | {runs_text} | "
                f"{number(s['naive_test_mse'], 5)} |"
            )
        lines.append("")
        g = goals(table)
        if g is not None:
            if g["as_accurate"]:
                speed = "met" if g["wall_ratio"] <= WALL_GOAL else "not met"
            else:
                speed = "does not count: tsforecast less accurate"
            goal_rows.append(
                f"| {task} | {g['wall_ratio']:.2f} ({NAMES[g['fastest_peer']]}) | "
                f"{g['mse_ratio']:.3f} ({NAMES[g['most_accurate_peer']]}) | {speed} | "
                f"{g['rss_ratio']:.2f} ({NAMES[g['leanest_peer']]}) | "
                f"{'met' if g['rss_ratio'] <= RSS_GOAL else 'not met'} |"
            )
    lines += [
        "## Goals",
        "",
        f"tsforecast's wall time / the fastest peer's (goal <= {WALL_GOAL}; it counts only when "
        f"tsforecast's test MSE / the lowest peer MSE <= {1 + MSE_MARGIN}), and its peak RSS / "
        f"the leanest peer's (goal <= {RSS_GOAL}).",
        "",
        "| task | wall / fastest peer | test MSE / lowest peer | speed goal | "
        "peak RSS / leanest peer | memory goal |",
        "|---|---:|---:|---|---:|---|",
        *goal_rows,
        "",
        "## How the figures are taken",
        "",
        HOW,
        "",
        DIFFERENCES,
        "",
        "## Settings of every tool",
        "",
        "As each run reported them (`settings` in its JSON record); tsforecast's `config` is the "
        "whole resolved config it trained.",
        "",
    ]
    for task in tasks:
        lines += [f"### {task}", ""]
        for tool in tools:
            ok = [r for r in runs if r["task"] == task and r["peer"] == tool and "error" not in r]
            if ok:
                lines += [f"{NAMES[tool]}:", "", *yaml_block(ok[0]["settings"]), ""]
    lines += [
        "## Reproduce",
        "",
        "```bash",
        "make bench-peers      # = python benchmarks/peers.py --setup, then --repeats 3",
        "python benchmarks/peers.py --tasks lstm_load24 --repeats 1 --threads 1   # one task",
        "python benchmarks/peers.py --quick    # a quick check, into runs/peers-quick/",
        "# one tool, one task: one JSON line on stdout",
        ".venv-peers/darts/bin/python benchmarks/peers/darts_task.py --task nlinear96",
        ".venv-peers/nf/bin/python benchmarks/peers/nf_task.py --task nlinear96",
        ".venv/bin/python benchmarks/peers/tsf_task.py --task nlinear96 --check-naive",
        "```",
        "",
        "`--setup` makes `.venv-peers/darts` and `.venv-peers/nf`: in each, "
        f"`pip install {TORCH}` (the CPU build), then `pip install -c torch-pin.txt "
        f"'{PEER_PACKAGES['darts'][1]}'` (or `'{PEER_PACKAGES['neuralforecast'][1]}'`), "
        "the pin file holding the same torch so that no dependency can replace it; "
        "each environment's `pip freeze` is kept in its `freeze.txt`.",
        "",
    ]
    path.write_text("\n".join(lines))


def versions_of(runs: list[dict]) -> dict[str, str]:
    out: dict[str, str] = {}
    for r in runs:
        if "error" in r:
            continue
        out.setdefault(NAMES[r["peer"]], r["version"])
        for key, name in (
            ("jax_version", "JAX"),
            ("keras_version", "Keras"),
            ("torch_version", "PyTorch"),
        ):
            if r.get(key):
                out.setdefault(name, r[key])
    return out


# ---------------------------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default=",".join(TASKS), help="comma-separated; default all")
    p.add_argument("--tools", default=",".join(TOOLS), help="comma-separated; default all")
    p.add_argument("--repeats", type=int, default=3, help="runs of each tool on each task")
    p.add_argument(
        "--quick", action="store_true", help="1 epoch, 200-series panel; into runs/peers-quick/"
    )
    p.add_argument("--setup", action="store_true", help="create .venv-peers/ and exit")
    p.add_argument("--threads", type=int, default=None, help="threads of every framework")
    p.add_argument("--max-epochs", type=int, default=None, help="default 30 (1 with --quick)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=int, default=4 * 3600, help="seconds per run")
    p.add_argument("--darts-python", default=None, help="Python of an existing Darts env")
    p.add_argument("--nf-python", default=None, help="Python of an existing NeuralForecast env")
    p.add_argument("--out", default=None, help="output folder (default benchmarks/)")
    args = p.parse_args(argv)
    for name, valid in (("tasks", TASKS), ("tools", TOOLS)):
        chosen = [v.strip() for v in getattr(args, name).split(",") if v.strip()]
        unknown = [v for v in chosen if v not in valid]
        if unknown or not chosen:
            p.error(f"--{name}: {', '.join(unknown) or 'none given'}; valid: {', '.join(valid)}")
        setattr(args, name, chosen)
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.setup:
            setup()
            return 0
        pythons = interpreters(args)
    except (BenchmarkError, subprocess.CalledProcessError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else (ROOT / "runs" / "peers-quick" if args.quick else HERE)
    out.mkdir(parents=True, exist_ok=True)
    logs = ROOT / "runs" / ("peers-quick" if args.quick else "peers") / "logs"
    data = {
        "machine": machine(),
        "quick": args.quick,
        "threads": args.threads,
        "repeats": args.repeats,
        "seed": args.seed,
        "max_epochs": args.max_epochs,
        "task_max_epochs": TASK_MAX_EPOCHS,
        "tasks": args.tasks,
        "tools": args.tools,
        "interpreters": {t: os.path.relpath(p, ROOT) for t, p in pythons.items()},
        "versions": {},
        "runs": [],
    }
    failed = 0
    for i, task in enumerate(args.tasks):
        for repeat in range(args.repeats):
            for position, tool in enumerate(rotated(args.tools, i + repeat)):
                log = logs / f"{task}-{tool}-{repeat + 1}.log"
                record = run_one(tool, task, pythons[tool], args, log)
                record.update({"repeat": repeat + 1, "position": position + 1})
                data["runs"].append(record)
                failed += "error" in record
                shown = record.get("error") or (
                    f"wall {record['wall_s']:.1f} s, test MSE {record['test_mse']:.4f}, "
                    f"peak RSS {record['peak_rss_mb']:.0f} MB"
                )
                print(f"{task} #{repeat + 1} {tool}: {shown}", flush=True)
                data["versions"] = versions_of(data["runs"])
                (out / "peers.json").write_text(json.dumps(data, indent=1) + "\n")
                write_markdown(out / "PEERS.md", data)
    print(f"Wrote {os.path.relpath(out / 'PEERS.md', ROOT)} and peers.json")
    if failed:
        print(f"Error: {failed} run(s) failed; see the logs in {logs}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
