"""tsforecast side of the peer benchmark: one task, one JSON line on stdout.

Run with the project's interpreter:
``.venv/bin/python benchmarks/peers/tsf_task.py --task nlinear96 [--quick]``
(the flags of peer_common.base_parser, as darts_task.py and nf_task.py take them).

Each task is an ordinary tsforecast config trained by :func:`tsforecast.commands.train.train`
into a temporary run directory, and scored by the run's own metrics: ``test.model.scaled_mse``
is the mean squared error over every test window, step and target on the standardised
values, the peers' ``test_mse``. The test windows' targets are checked against the ones the
peers score (peer_common.test_truth, panel_data), so that every tool is scored on the same
numbers.
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc

OUT = pc.Output()  # stdout -> stderr from here on; the JSON line goes to the real stdout

import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import panel_data  # noqa: E402
import sklearn.preprocessing  # noqa: E402, F401  (imported by the scaler; outside the clock)

import tsforecast  # noqa: E402  (points Keras at its JAX engine first)
from tsforecast import engine  # noqa: E402
from tsforecast.commands.train import train  # noqa: E402
from tsforecast.config import (  # noqa: E402
    apply_overrides,
    config_from_dict,
    config_to_dict,
    load_config,
)
from tsforecast.data import windows  # noqa: E402
from tsforecast.data.prepared import prepare_data  # noqa: E402
from tsforecast.forecasting import Predictor  # noqa: E402
from tsforecast.runs import load_run  # noqa: E402
from tsforecast.training.fit import Progress  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
NLINEAR_CONFIG = ROOT / "benchmarks" / "ett" / "etth1_nlinear.yaml"


class EpochTimer:
    """first_epoch_s: from just before ``train()`` (the data already loaded, split and
    scaled) to the first epoch-end report, which Keras sends after that epoch's validation
    pass; fit_s: to the last one."""

    def __init__(self) -> None:
        self.t_fit: float | None = None
        self.first_epoch_s: float | None = None
        self.t_last: float | None = None

    def epoch(self, epoch: int, epochs: int, logs: dict[str, float]) -> None:
        now = time.perf_counter()
        if self.first_epoch_s is None:
            self.first_epoch_s = now - self.t_fit
        self.t_last = now


def common_overrides(s: dict, args, out_dir: str, name: str) -> list[str]:
    """The ``KEY.PATH=VALUE`` settings every task shares."""
    return [
        f"training.epochs={s['max_epochs']}",
        f"training.batch_size={s['batch_size']}",
        "training.optimizer.name=adam",
        f"training.optimizer.learning_rate={s['lr']}",
        "training.loss=mse",
        "training.early_stopping.monitor=val_loss",
        f"training.early_stopping.patience={s['patience']}",
        f"training.seed={args.seed}",
        f"output.dir={out_dir}",
        f"output.name={name}",
        "output.plots=false",
    ]


def nlinear_config(s: dict, args, out_dir: str):
    """benchmarks/ett/etth1_nlinear.yaml with the peers' lookback, horizon and budget."""
    overrides = [
        f"data.path={os.path.abspath(args.data)}",
        f"window.input_width={s['lookback']}",
        f"window.horizon={s['horizon']}",
        "data.instance_norm=last",
        *common_overrides(s, args, out_dir, f"peers-{args.task}"),
    ]
    return load_config(NLINEAR_CONFIG, overrides)


def lstm_config(s: dict, args, out_dir: str):
    """ETTh1 HUFL alone, one LSTM layer of 64 units and a Dense(horizon) head."""
    raw = {
        "data": {
            "path": os.path.abspath(args.data),
            "time_column": "date",
            "target_columns": [pc.LSTM_COLUMN],
            "rows": pc.N_ROWS,
            "split": {"val": pc.N_VAL, "test": pc.N_TEST},
            "scaler": "standard",
        },
        "window": {"input_width": s["lookback"], "horizon": s["horizon"]},
        "model": {"type": "lstm", "units": [s["hidden"]] * s["layers"], "head": "vector"},
    }
    return config_from_dict(
        apply_overrides(raw, common_overrides(s, args, out_dir, "peers-lstm_load24"))
    )


def panel_config(s: dict, args, out_dir: str, csv: Path):
    """The synthetic panel, scaled per series; N-HiTS as close to the peers' as it goes."""
    _, n_val, n_test = panel_data.split_sizes()
    raw = {
        "data": {
            "path": str(csv),
            "id_column": "series",
            "target_columns": ["value"],
            "split": {"val": n_val, "test": n_test},
            "scaler": "standard",
            "scaler_scope": "series",
        },
        "window": {"input_width": s["lookback"], "horizon": s["horizon"]},
        "model": {
            "type": "nhits",
            "stack_types": ["generic"] * 3,
            "n_blocks": [1],
            "units": [64, 64],
            "activation": "relu",
            "dropout": 0.0,
            "pool_kernel_sizes": [2, 2, 1],
            "n_freq_downsample": [4, 2, 1],
            "pooling": "max",
        },
    }
    return config_from_dict(apply_overrides(raw, common_overrides(s, args, out_dir, "peers-panel")))


def write_panel(n_series: int, path: Path) -> None:
    """The panel as a long CSV: series, t (the step, for readers; not read), value."""
    raw = panel_data.generate(n_series)
    n, length = raw.shape
    frame = pd.DataFrame(
        {
            "series": np.repeat(np.arange(n), length),
            "t": np.tile(np.arange(length), n),
            "value": raw.reshape(-1),
        }
    )
    frame.to_csv(path, index=False, float_format="%.17g")


def expected_truth(args, s: dict) -> np.ndarray:
    """The peers' scaled test targets, ``(n_windows, horizon, n_targets)`` in tsforecast's
    window order (series by series, then by time)."""
    H = s["horizon"]
    if args.task == "panel":
        d = panel_data.make(s["n_series"], seed=0)
        starts = d["test_starts"]
        idx = starts[:, None] + np.arange(H)[None, :]
        return d["scaled"][:, idx].reshape(-1, H, 1)
    columns = pc.ett_columns(args.task)
    _, values, _ = pc.load_ett(args.data, columns)
    return pc.test_truth(values, H)


def portable(settings: dict) -> dict:
    """The resolved config with the machine's paths replaced by portable ones."""
    data, output = dict(settings["data"]), dict(settings["output"])
    if data.get("path"):
        path = Path(data["path"])
        data["path"] = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else path.name
    output["dir"] = "(temporary folder)"
    return {**settings, "data": data, "output": output}


def set_threads(n: int | None) -> int:
    """Pin this process to ``n`` cores (JAX's CPU runtime sizes its thread pools from the
    cores it may use, before its first computation); the cores it computes on."""
    if n:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:n])
    return len(os.sched_getaffinity(0))


def main() -> None:
    args = pc.base_parser("tsforecast").parse_args()
    threads = set_threads(args.threads)
    s = pc.task_defaults(args)
    with tempfile.TemporaryDirectory(prefix="tsforecast-peers-") as tmp:
        out_dir = args.work_dir or tmp
        csv = Path(tmp) / "panel.csv"
        if args.task == "panel":  # the tool reads files: written before the clock starts
            write_panel(s["n_series"], csv)
        clock = pc.Clock()
        if args.task == "panel":
            config = panel_config(s, args, out_dir, csv)
        elif args.task == "lstm_load24":
            config = lstm_config(s, args, out_dir)
        else:
            config = nlinear_config(s, args, out_dir)
        prepared = prepare_data(config)
        prep_s = clock.wall()
        timer = EpochTimer()
        timer.t_fit = time.perf_counter()
        result = train(config, progress=Progress(epoch=timer.epoch), prepared=prepared)
        t_end = time.perf_counter()

        metrics = result.metrics
        test = metrics["test"]
        H, W = s["horizon"], s["lookback"]
        n_targets = prepared.table.n_targets
        s.update(
            {
                "model": config.model.type,
                "config": portable(config_to_dict(config)),
                "threads": f"pinned to {args.threads} cores"
                if args.threads
                else "JAX's default (every usable core)",
            }
        )
        record = pc.record(
            "tsforecast",
            tsforecast.__version__,
            args.task,
            s,
            clock,
            timer.first_epoch_s,
            metrics["training"]["epochs_trained"],
            float(test["model"]["scaled_mse"]),
            threads,
            backend=engine.versions()["backend"],
            keras_version=engine.versions()["keras"],
            jax_version=engine.versions()["jax"],
            quick=args.quick,
            n_test_windows=test["n_windows"] * (1 if args.task == "panel" else n_targets),
            prep_s=round(prep_s, 3),
            fit_s=round(timer.t_last - timer.t_fit, 3),
            evaluate_s=round(t_end - timer.t_last, 3),
            best_epoch=metrics["training"]["best_epoch"],
        )

        # The same windows as the peers': their count, and their scaled targets.
        starts = prepared.starts["test"]
        truth = windows.targets(prepared.scaled, starts, W, H, n_targets)
        expected = expected_truth(args, s)
        if truth.shape != expected.shape or not np.allclose(truth, expected, atol=1e-6):
            raise SystemExit(
                f"tsforecast's test targets {truth.shape} differ from the peers' {expected.shape}"
            )
        if args.task == "panel":
            n_train, n_val, _ = panel_data.split_sizes()
            per_series = len(panel_data.window_starts(n_train + n_val, panel_data.LENGTH, H))
            if test["n_windows"] != s["n_series"] * per_series:
                raise SystemExit(f"{test['n_windows']} test windows, not {per_series} per series")
            record["n_test_windows_per_series"] = per_series
        else:
            if test["n_windows"] != pc.N_TEST - H + 1:
                raise SystemExit(f"{test['n_windows']} test windows, not {pc.N_TEST - H + 1}")
            record["n_test_windows_per_column"] = test["n_windows"]
        if args.check_naive:
            record["naive_test_mse"] = float(test["naive"]["scaled_mse"])
        if args.dump:
            run = load_run(result.run_dir)
            predictor = Predictor.of_run(run)
            pred = predictor.scaled(predictor.source(prepared.table, prepared.scaled), starts).point
            pc.dump(args.dump, pred, truth)
    OUT.emit(record)


if __name__ == "__main__":
    main()
