"""Speed and memory benchmark of tsforecast; writes benchmarks/SPEED.md and speed.json.

Every measurement runs in a fresh Python process so that one cannot warm up another;
timings are medians over repetitions, and side-by-side pairs are run alternately.

Usage:
    python benchmarks/speed.py                 # everything (about 20-30 minutes on 2 cores)
    python benchmarks/speed.py --quick         # a tiny version that checks the code works
    python benchmarks/speed.py --only cli,overhead --repeats 5

Sections:
    cli       `tsforecast --help`, `--version`, `validate`: wall time of the whole command.
    overhead  `tsforecast train` vs benchmarks/speed/reference_train.py (plain Keras, windows
              in memory), both timed after their imports, for an MLP and an LSTM config,
              and for the MLP without plots (the outputs the plain script writes).
    options   what steps_per_execution, XLA and non-deterministic ops buy (MLP config).
    pipeline  iterating the training dataset alone vs the model consuming it, ETTh1 W=512,
              read through Keras' data adapter (as `fit` reads it, arrays handed to JAX)
              and by a Python loop over the batches.
    memory    peak resident memory of one epoch on 1M, 2M and 5M-step series (W=512, H=96).
    predict   forecasting 1,000 series from one run, after the Keras import.
    panel     training on 10,000 short series vs one long series of the same total length.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
ETTH1 = ROOT / "data" / "ett" / "ETTh1.csv"
ETT_COLUMNS = ["OT", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"]
#: Keras on JAX for the plain-Keras reference too (tsforecast points Keras at JAX itself).
ENV = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"}


def python(code: str, *args: str, timeout: int = 3600) -> dict:
    """Run ``code`` in a fresh interpreter; it must print one JSON line last."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=timeout,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=ENV, cwd=ROOT)
    return time.perf_counter() - start


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = python(
        """
        import json, sys
        import tsforecast, jax, keras
        gpus = [str(d) for d in jax.devices() if d.platform != "cpu"]
        print(json.dumps({"jax": jax.__version__, "keras": keras.__version__,
                          "backend": keras.backend.backend(), "gpus": gpus,
                          "tensorflow_imported": "tensorflow" in sys.modules}))
        """
    )
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), **info}


# --------------------------------------------------------------------------------------------


def bench_cli(repeats: int) -> dict:
    exe = str(Path(sys.executable).with_name("tsforecast"))
    commands = {
        "--help": [exe, "--help"],
        "--version": [exe, "--version"],
        "validate": [exe, "validate", str(ROOT / "configs" / "quickstart.yaml")],
    }
    out = {}
    for name, command in commands.items():
        wall(command)  # warm the file cache
        out[name] = statistics.median(wall(command) for _ in range(repeats))
    return out


TRAIN_CHILD = """
import json, sys, time
import tsforecast, keras, jax
from tsforecast.config import load_config
from tsforecast.commands.train import train
config = load_config(sys.argv[1], sys.argv[2:])
start = time.perf_counter()
result = train(config)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "run_dir": str(result.run_dir),
                  "test_scaled_mse": result.metrics["test"]["model"]["scaled_mse"],
                  "tensorflow_imported": "tensorflow" in sys.modules}))
"""


#: Overhead variants: name -> (config, overrides). "mlp, no plots" writes what the plain
#: script writes (model and metrics), so it shows the cost of the run itself.
OVERHEAD_VARIANTS = {
    "mlp": ("mlp", []),
    "mlp, no plots": ("mlp", ["output.plots=false"]),
    "lstm": ("lstm", []),
}


def bench_overhead(repeats: int, epochs: int, out_dir: Path, kinds: list[str]) -> dict:
    """Each variant alternates with the plain script, ``repeats`` times; medians compared."""
    results = {}
    for name, (kind, extra) in OVERHEAD_VARIANTS.items():
        if kind not in kinds:
            continue
        config = HERE / "speed" / f"{kind}.yaml"
        overrides = [f"training.epochs={epochs}", f"output.dir={out_dir}", *extra]
        ours, reference = [], []
        for _ in range(repeats):
            ours.append(python(TRAIN_CHILD, str(config), *overrides)["seconds"])
            reference.append(
                python(
                    (HERE / "speed" / "reference_train.py").read_text(),
                    kind,
                    str(ETTH1),
                    "96",
                    "24",
                    str(epochs),
                    "64",
                )["seconds"]
            )
        results[name] = {
            "tsforecast_s": statistics.median(ours),
            "reference_s": statistics.median(reference),
            "ratio": statistics.median(ours) / statistics.median(reference),
            # the fastest run of each: interference from the machine only ever adds time
            "ratio_best": min(ours) / min(reference),
            "all_tsforecast_s": ours,
            "all_reference_s": reference,
        }
    return results


#: What the speed options of the config buy on this machine (MLP config, 10 epochs).
OPTION_VARIANTS = {
    "defaults (XLA-compiled steps)": [],
    "steps_per_execution: 16": ["training.steps_per_execution=16"],
    "jit_compile: false": ["training.jit_compile=false"],
}


def bench_options(repeats: int, epochs: int, out_dir: Path) -> dict:
    config = HERE / "speed" / "mlp.yaml"
    runs = {name: [] for name in OPTION_VARIANTS}
    for _ in range(repeats):  # alternate the variants, so that drifts hit them alike
        for name, extra in OPTION_VARIANTS.items():
            overrides = [f"training.epochs={epochs}", f"output.dir={out_dir}", *extra]
            runs[name].append(python(TRAIN_CHILD, str(config), *overrides))
    return {
        name: {
            "seconds": statistics.median(r["seconds"] for r in results),
            "test_scaled_mse": results[0]["test_scaled_mse"],
            "all_seconds": [r["seconds"] for r in results],
        }
        for name, results in runs.items()
    }


PIPELINE_CHILD = """
import json, statistics, sys, time
import tsforecast, keras
from keras.src.trainers.data_adapters import get_data_adapter
from tsforecast.config import load_config
from tsforecast.data.prepared import prepare_data
from tsforecast.training.fit import build_compiled_model, fit_datasets, seed_everything
config = load_config(sys.argv[1], sys.argv[2:])
repeats = 5
prepared = prepare_data(config)
seed_everything(config.training.seed, config.training.deterministic)
train, _, order = fit_datasets(prepared, config)
batches = len(train)


def python_loop():
    # every batch gathered by the dataset, nothing else
    n = 0
    for i in range(batches):
        inputs, targets = train[i]
        n += len(inputs)
    return n


def as_fit_reads():
    # how Keras' JAX trainer reads a PyDataset: its adapter's JAX iterator, which also
    # standardises every batch and hands its arrays to JAX
    n = 0
    for inputs, targets in get_data_adapter(train).get_jax_iterator():
        n += int(inputs.shape[0])
    return n


def timed(f):
    start = time.perf_counter(); f(); return time.perf_counter() - start


windows = python_loop(); as_fit_reads()  # warm up
times = {"loop": [], "adapter": []}
for _ in range(repeats):  # alternately, so that the machine's noise spreads evenly
    for name, f in (("loop", python_loop), ("adapter", as_fit_reads)):
        times[name].append(timed(f))
loop_s, adapter_s = (statistics.median(times[k]) for k in ("loop", "adapter"))


class EpochTimes(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None): self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): times_fit.append(time.perf_counter() - self.start)


times_fit = []
model, network = build_compiled_model(config, prepared)
network.fit(train, epochs=repeats + 1, verbose=0, callbacks=[order.callback(), EpochTimes()])
fit_s = statistics.median(times_fit[1:])  # the first epoch compiles the train step
print(json.dumps({"windows": windows, "batches": batches, "iterate_s": loop_s,
                  "iterate_adapter_s": adapter_s, "fit_epoch_s": fit_s,
                  "ratio": fit_s / loop_s, "ratio_adapter": fit_s / adapter_s,
                  "all_iterate_s": times, "all_fit_epoch_s": times_fit}))
"""


def bench_pipeline(quick: bool) -> dict:
    config = HERE / "speed" / "pipeline.yaml"
    overrides = ["window.input_width=96"] if quick else []
    return python(PIPELINE_CHILD, str(config), *overrides)


MEMORY_CHILD = """
import json, resource, sys, time
import tsforecast, keras, jax
from tsforecast.config import load_config
from tsforecast.commands.train import train
config = load_config(sys.argv[1], sys.argv[2:])
start = time.perf_counter()
result = train(config)
seconds = time.perf_counter() - start
peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_mib": peak_kib / 1024, "seconds": seconds,
                  "train_windows": result.metrics["training"]["train_windows"]}))
"""

BASELINE_CHILD = """
import json, resource
import tsforecast, keras, jax, pandas, sklearn, matplotlib
import tsforecast.commands.train
print(json.dumps({"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def long_series(path: Path, n: int, seed: int = 0) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    t = np.arange(n, dtype="float64")
    values = np.sin(2 * np.pi * t / 24) + 0.5 * np.sin(2 * np.pi * t / 168) + rng.normal(0, 0.2, n)
    pd.DataFrame({"value": values.astype("float32")}).to_parquet(path)


def bench_memory(lengths: list[int], work: Path, out_dir: Path) -> dict:
    config = HERE / "speed" / "memory.yaml"
    results = {"baseline_after_imports_mib": python(BASELINE_CHILD)["peak_mib"]}
    for n in lengths:
        path = work / f"series_{n}.parquet"
        long_series(path, n)
        results[str(n)] = python(
            MEMORY_CHILD, str(config), f"data.path={path}", f"output.dir={out_dir}"
        )
    return results


PREDICT_CHILD = """
import json, sys, time
import tsforecast, keras, jax
start = time.perf_counter()
from tsforecast.commands.predict import predict
frame = predict(sys.argv[1], sys.argv[2]).frame
frame.to_csv(sys.argv[3], index=False)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": len(frame)}))
"""


def panel(path: Path, n_series: int, length: int, seed: int = 0) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    t = np.arange(length)
    phase = rng.uniform(0, 2 * np.pi, (n_series, 1))
    values = np.sin(2 * np.pi * t / 24 + phase) + rng.normal(0, 0.2, (n_series, length))
    frame = pd.DataFrame(
        {
            "id": np.repeat([f"s{i:05d}" for i in range(n_series)], length),
            "time": np.tile(pd.date_range("2024-01-01", periods=length, freq="h"), n_series),
            "value": values.reshape(-1).astype("float32"),
        }
    )
    frame.to_parquet(path)


def bench_predict(repeats: int, n_series: int, work: Path, out_dir: Path) -> dict:
    data = work / "predict_panel.parquet"
    panel(data, n_series, 200)
    config = HERE / "speed" / "predict.yaml"
    run_dir = python(TRAIN_CHILD, str(config), f"data.path={data}", f"output.dir={out_dir}")[
        "run_dir"
    ]
    seconds = [
        python(PREDICT_CHILD, run_dir, str(data), str(work / "forecast.csv"))["seconds"]
        for _ in range(repeats)
    ]
    return {"series": n_series, "seconds": statistics.median(seconds), "all_seconds": seconds}


def bench_panel(repeats: int, n_series: int, length: int, work: Path, out_dir: Path) -> dict:
    many, one = work / "many.parquet", work / "one.parquet"
    panel(many, n_series, length)
    panel(one, 1, n_series * length)
    config = HERE / "speed" / "panel.yaml"
    cases = {"many_series": (many, ["data.id_column=id"]), "one_series": (one, [])}
    runs: dict[str, list] = {name: [] for name in cases}
    for _ in range(repeats):  # alternately, so that the machine's noise spreads evenly
        for name, (path, extra) in cases.items():
            runs[name].append(
                python(
                    MEMORY_CHILD, str(config), f"data.path={path}", f"output.dir={out_dir}", *extra
                )
            )
    results = {}
    for name, done in runs.items():
        seconds = statistics.median(r["seconds"] for r in done)
        windows = done[0]["train_windows"]
        results[name] = {
            "seconds": seconds,
            "train_windows": windows,
            "us_per_window": 1e6 * seconds / windows,
            "all_seconds": [r["seconds"] for r in done],
        }
    results["ratio_per_window"] = (
        results["many_series"]["us_per_window"] / results["one_series"]["us_per_window"]
    )
    return results


# --------------------------------------------------------------------------------------------


NOTES = """
How each figure is taken (every measurement in a fresh Python process):

- **train overhead**: `tsforecast.commands.train.train` on `benchmarks/speed/{mlp,lstm}.yaml`
  (ETTh1, 7 columns, 96 -> 24, 10 epochs, batch 64, early stopping off) against
  `benchmarks/speed/reference_train.py`, plain Keras doing the same work with every window
  built in memory: `model.fit` with validation, val/test predictions and MSE, saving the
  model. Both are timed after their imports; runs alternate. The fixed cost is the median
  difference: a run also writes metrics beside the naive baseline, two plots and its files.
  "fastest runs" compares the fastest run of each side, which the machine's interference
  affects least.
  "no plots" sets `output.plots: false`.
- **input pipeline**: `benchmarks/speed/pipeline.yaml` (ETTh1, all 7 columns, W=512,
  H=96, channel-independent linear model with instance normalisation, batch 32): the
  median of 5 passes over the training dataset alone against the median epoch of
  `model.fit` on it (first epoch, which compiles, left out). Each pass is read two ways,
  in turn: through Keras' data adapter for a `PyDataset` (its JAX iterator), which is how
  `fit` on the JAX backend reads its batches, and by a Python loop over the batches alone.
- **peak RSS**: `ru_maxrss` of one `train` (one epoch, linear model, W=512, H=96, batch
  256, plots drawn) on a generated single series, imports included.
- **predict**: `tsforecast.commands.predict.predict` of 1,000 series of 200 steps from one run,
  timed after importing Keras and JAX (TensorFlow is not imported).
- **many series**: one epoch of an MLP on 10,000 series of 200 steps (id column) against
  one series of 2,000,000 steps, run alternately; median time of the whole `train` per
  training window.

Noise: this kind of shared 2-core machine varies by 10-30% from run to run; medians of
alternating runs are reported, and every individual time is in `speed.json`.

The engine is Keras on JAX: `fit` compiles the train step with XLA and reads a
`keras.utils.PyDataset` that gathers each batch with numpy from one array of the series
(`tsforecast/data/pipeline.py`), in this process; the plots are drawn in the run's own
process. The plain-Keras reference runs on the same backend, and, like tsforecast, keeps
Keras from importing TensorFlow only to check object types when it seeds and saves.
"""


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [
        "# Speed and memory",
        "",
        f"Measured {results['date']} with `python benchmarks/speed.py"
        f"{' --quick' if results['quick'] else ''}` on {m['cpu']} ({m['cores']} cores), "
        f"Python {m['python']}, Keras {m['keras']} on {m.get('backend', 'jax')} "
        f"(JAX {m.get('jax', '?')}), "
        f"GPUs: {', '.join(m['gpus']) or 'none'}. Medians of {results['repeats']} runs"
        " (overhead rows: of as many runs as they say).",
        "",
        "| what | measured | target | met |",
        "|---|---|---|---|",
    ]

    def row(what, measured, target, met):
        lines.append(f"| {what} | {measured} | {target} | {'yes' if met else 'no'} |")

    if "cli" in results:
        for name, seconds in results["cli"].items():
            row(f"`tsforecast {name}` wall time", f"{seconds:.2f} s", "< 1 s", seconds < 1)
    if "overhead" in results:
        for kind, r in results["overhead"].items():
            row(
                f"train overhead, {kind}: tsforecast / plain Keras (fixed cost "
                f"{r['tsforecast_s'] - r['reference_s']:+.1f} s)",
                f"{r['tsforecast_s']:.1f} s / {r['reference_s']:.1f} s = {r['ratio']:.3f}"
                + (f" (fastest runs: {r['ratio_best']:.3f})" if "ratio_best" in r else "")
                + f", {len(r['all_tsforecast_s'])} runs each",
                "<= 1.10",
                r["ratio"] <= 1.10,
            )
    if "pipeline" in results:
        r = results["pipeline"]
        ways = [
            ("read as `fit` reads it (Keras' data adapter)", "iterate_adapter_s", "ratio_adapter"),
            ("batches gathered by a Python loop", "iterate_s", "ratio"),
        ]
        for how, seconds, ratio in ways:
            if seconds not in r:
                continue
            row(
                f"input pipeline: model epoch / dataset-only epoch, {how}",
                f"{r['fit_epoch_s']:.2f} s / {r[seconds]:.3f} s = {r[ratio]:.1f}x",
                ">= 10x",
                r[ratio] >= 10,
            )
    if "memory" in results:
        for n, r in results["memory"].items():
            if n.isdigit():
                row(
                    f"peak RSS, one epoch on {int(n):,} steps (W=512, H=96)",
                    f"{r['peak_mib']:.0f} MiB ({r['seconds']:.0f} s)",
                    "< 1536 MiB" if int(n) == 5_000_000 else "linear",
                    r["peak_mib"] < 1536,
                )
        lines.append(
            f"| (peak RSS of the imports alone) | "
            f"{results['memory']['baseline_after_imports_mib']:.0f} MiB | | |"
        )
    if "predict" in results:
        r = results["predict"]
        row(
            f"predict {r['series']:,} series, after the Keras import",
            f"{r['seconds']:.2f} s",
            "<= 1 s",
            r["seconds"] <= 1,
        )
    if "panel" in results:
        r = results["panel"]
        row(
            "10,000 short series vs one long series, time per training window",
            f"{r['many_series']['us_per_window']:.1f} us / "
            f"{r['one_series']['us_per_window']:.1f} us = {r['ratio_per_window']:.2f}",
            "<= 1.20",
            r["ratio_per_window"] <= 1.2,
        )
    lines += ["", NOTES.strip()]
    if "options" in results:
        lines += [
            "",
            "Speed options (`benchmarks/speed/mlp.yaml`, 10 epochs; same seconds as above):",
            "",
            "| training options | seconds | test scaled MSE |",
            "|---|---|---|",
        ]
        for name, r in results["options"].items():
            lines.append(f"| {name} | {r['seconds']:.1f} | {r['test_scaled_mse']:.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes; checks the code")
    parser.add_argument("--only", default="cli,overhead,options,pipeline,memory,predict,panel")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--models", default="mlp,lstm", help="overhead section: which configs")
    parser.add_argument(
        "--keep", action="store_true", help="keep the other sections of --out's speed.json"
    )
    parser.add_argument("--out", default=str(HERE), help="folder for SPEED.md and speed.json")
    args = parser.parse_args()
    only = set(args.only.split(","))
    repeats = args.repeats or (1 if args.quick else 3)
    out = Path(args.out)
    results: dict = {}
    previous = out / "speed.json"
    if args.keep and previous.is_file():  # sections not rerun keep their last figures
        results = json.loads(previous.read_text())
    results.update(
        date=time.strftime("%Y-%m-%d"), quick=args.quick, repeats=repeats, machine=machine()
    )
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        runs = work / "runs"
        steps = {
            "cli": lambda: bench_cli(repeats),
            "overhead": lambda: bench_overhead(
                repeats, 1 if args.quick else 10, runs, args.models.split(",")
            ),
            "options": lambda: bench_options(repeats, 1 if args.quick else 10, runs),
            "pipeline": lambda: bench_pipeline(args.quick),
            "memory": lambda: bench_memory(
                [20_000] if args.quick else [1_000_000, 2_000_000, 5_000_000], work, runs
            ),
            "predict": lambda: bench_predict(repeats, 50 if args.quick else 1000, work, runs),
            "panel": lambda: bench_panel(repeats, 100 if args.quick else 10_000, 200, work, runs),
        }
        for name, step in steps.items():
            if name in only:
                print(f"[speed] {name} ...", file=sys.stderr, flush=True)
                new = step()
                if args.keep and name == "overhead" and name in results:
                    new = {**results[name], **new}  # the configs not rerun keep their rows
                results[name] = new
                save(results, out)  # after every section: a later failure loses only its own
    print(markdown(results))


def save(results: dict, out: Path) -> None:
    (out / "speed.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "SPEED.md").write_text(markdown(results))


if __name__ == "__main__":
    main()
