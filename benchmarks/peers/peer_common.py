"""Helpers shared by the task scripts of the peer benchmark (numpy + pandas only).

Each task script (tsf_task.py, darts_task.py, nf_task.py) runs one task in its own process
and prints one JSON line; ``benchmarks/peers.py`` drives them.

Data protocol (ETTh1, the literature's split):
  rows [0, 8640) train, [8640, 11520) validation, [11520, 14400) test; the file's rows past
  14400 are not used. StandardScaler (mean, population std) fitted per column on the train
  rows. A window belongs to a split when all its H forecast steps lie in that split's rows;
  its lookback may read the preceding rows. Test MSE: mean over every test window (stride 1,
  2880 - H + 1 per column), every step and every column, on the scaled values.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
ETT_PATH = os.path.normpath(os.path.join(HERE, "..", "..", "data", "ett", "ETTh1.csv"))
ETT_COLUMNS = ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"]
#: The recurrent task's one column: the high useful load, whose daily cycle a model can
#: learn (repeat-last cannot), unlike the slow oil temperature (OT).
LSTM_COLUMN = "HUFL"
N_TRAIN, N_VAL, N_TEST = 8640, 2880, 2880
N_ROWS = N_TRAIN + N_VAL + N_TEST

TASKS = ("nlinear96", "nlinear720", "lstm_load24", "panel")


def ett_columns(task: str) -> list[str]:
    """The ETTh1 columns a task forecasts."""
    return [LSTM_COLUMN] if task == "lstm_load24" else ETT_COLUMNS


class Output:
    """Keeps the real stdout for the one JSON line; everything else printed goes to stderr.

    Lightning and the peers print banners and tips on stdout; the driver reads exactly one
    line of JSON from stdout, so file descriptor 1 is pointed at stderr for the rest of the run.
    """

    def __init__(self) -> None:
        sys.stdout.flush()
        self._json = os.fdopen(os.dup(1), "w")
        os.dup2(2, 1)
        sys.stdout = sys.stderr

    def emit(self, record: dict) -> None:
        self._json.write(json.dumps(record) + "\n")
        self._json.flush()


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


class Clock:
    """Wall and CPU time from construction (after the imports)."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.c0 = cpu_seconds()

    def wall(self) -> float:
        return time.perf_counter() - self.t0

    def cpu(self) -> float:
        return cpu_seconds() - self.c0


def base_parser(peer: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=f"{peer} side of the tsforecast peer benchmark")
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument(
        "--quick", action="store_true", help="tiny budget: 1 epoch; panel with 200 series"
    )
    p.add_argument("--max-epochs", type=int, default=None, help="default 30 (1 with --quick)")
    p.add_argument("--patience", type=int, default=3, help="early-stopping patience, in epochs")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="windows per step; default 512 (nlinear), 64 (lstm_load24), 256 (panel)",
    )
    p.add_argument(
        "--lr",
        type=float,
        default=None,
        help="Adam learning rate; default 0.002 (nlinear), 0.001 (lstm_load24, panel)",
    )
    p.add_argument(
        "--lookback",
        type=int,
        default=None,
        help="default 512 (nlinear), 168 (lstm_load24), 48 (panel)",
    )
    p.add_argument(
        "--n-series", type=int, default=None, help="panel only: default 10000 (200 with --quick)"
    )
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="intra-op threads of the framework (default: its own choice)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data", default=ETT_PATH, help="ETTh1.csv")
    p.add_argument(
        "--work-dir",
        default=None,
        help="folder for the tool's logs, checkpoints or run files (default: a temp dir)",
    )
    p.add_argument(
        "--dump",
        default=None,
        help="save the test predictions and truth to this .npz (for cross-checks)",
    )
    p.add_argument(
        "--check-naive",
        action="store_true",
        help="also score the repeat-last forecast on the same windows (extra field)",
    )
    return p


def task_defaults(args: argparse.Namespace) -> dict:
    """The task's fixed and default settings, before a peer maps them onto its own API."""
    t = args.task
    if t.startswith("nlinear"):
        d = {"horizon": int(t[len("nlinear") :]), "lookback": 512, "batch_size": 512, "lr": 0.002}
    elif t == "lstm_load24":
        d = {
            "horizon": 24,
            "lookback": 168,
            "batch_size": 64,
            "lr": 0.001,
            "hidden": 64,
            "layers": 1,
        }
    else:
        d = {"horizon": 12, "lookback": 48, "batch_size": 256, "lr": 0.001}
    for k in ("lookback", "batch_size", "lr"):
        if getattr(args, k) is not None:
            d[k] = getattr(args, k)
    d["max_epochs"] = args.max_epochs if args.max_epochs is not None else (1 if args.quick else 30)
    d["patience"] = args.patience
    if t == "panel":
        d["n_series"] = (
            args.n_series if args.n_series is not None else (200 if args.quick else 10_000)
        )
    return d


def load_ett(path: str = ETT_PATH, columns: list[str] | None = None):
    """(dates, scaled float64 array (14400, n_cols), column names)."""
    columns = columns or ETT_COLUMNS
    df = pd.read_csv(path, nrows=N_ROWS)
    if len(df) != N_ROWS:
        raise SystemExit(f"{path}: expected at least {N_ROWS} rows, got {len(df)}")
    values = df[columns].to_numpy(dtype=np.float64)
    mean = values[:N_TRAIN].mean(axis=0)
    std = values[:N_TRAIN].std(axis=0)  # ddof=0, as sklearn's StandardScaler
    dates = pd.DatetimeIndex(pd.to_datetime(df["date"]))
    return dates, (values - mean) / std, list(columns)


def test_truth(
    values: np.ndarray, horizon: int, first: int = N_TRAIN + N_VAL, end: int = N_ROWS
) -> np.ndarray:
    """Truth of every test window: (n_windows, H, n_cols), window k starting at row first+k."""
    starts = np.arange(first, end - horizon + 1)
    idx = starts[:, None] + np.arange(horizon)[None, :]
    return values[idx]


def naive_forecast(
    values: np.ndarray, horizon: int, first: int = N_TRAIN + N_VAL, end: int = N_ROWS
) -> np.ndarray:
    """Repeat-last forecast of every test window, same shape as test_truth."""
    starts = np.arange(first, end - horizon + 1)
    last = values[starts - 1]  # (n_windows, n_cols)
    return np.repeat(last[:, None, :], horizon, axis=1)


def mse(pred: np.ndarray, truth: np.ndarray) -> float:
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {pred.shape} != truth shape {truth.shape}")
    return float(np.mean((np.asarray(pred, np.float64) - np.asarray(truth, np.float64)) ** 2))


def record(
    peer: str,
    version: str,
    task: str,
    settings: dict,
    clock: Clock,
    first_epoch_s,
    epochs,
    test_mse: float,
    threads: int,
    **extra,
) -> dict:
    r = {
        "peer": peer,
        "version": version,
        "task": task,
        "settings": settings,
        "wall_s": round(clock.wall(), 3),
        "first_epoch_s": None if first_epoch_s is None else round(first_epoch_s, 3),
        "epochs": epochs,
        "test_mse": test_mse,
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "cpu_s": round(clock.cpu(), 3),
        "threads": threads,
    }
    r.update(extra)
    return r


def dump(path, pred, truth) -> None:
    if path:
        np.savez_compressed(
            path, pred=np.asarray(pred, np.float32), truth=np.asarray(truth, np.float32)
        )


def panel_score(args, scaled, starts, pred, truth, extra: dict) -> tuple[float, dict]:
    """The panel's test MSE and ``extra``, with the repeat-last MSE on the same windows
    when ``--check-naive`` asks; ``--dump`` saves the arrays."""
    if args.check_naive:
        last = scaled[:, starts - 1].reshape(truth.shape[:2] + (1,) * (truth.ndim - 2))
        extra["naive_test_mse"] = mse(np.broadcast_to(last, truth.shape), truth)
    dump(args.dump, pred, truth)
    return mse(pred, truth), extra
