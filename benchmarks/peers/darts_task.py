"""Darts side of the tsforecast peer benchmark: one task, one JSON line on stdout.

Run with the Darts environment's interpreter (``benchmarks/peers.py --setup`` makes it):
``.venv-peers/darts/bin/python benchmarks/peers/darts_task.py --task nlinear96 [--quick]``
(see peer_common.base_parser for every flag; benchmarks/PEERS.md for each task's settings).
"""

from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc

OUT = pc.Output()  # stdout -> stderr from here on; the JSON line goes to the real stdout

import logging  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402

import darts  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import panel_data  # noqa: E402
import torch  # noqa: E402
from darts import TimeSeries  # noqa: E402
from darts.models import BlockRNNModel, NHiTSModel, NLinearModel  # noqa: E402
from pytorch_lightning.callbacks import Callback, EarlyStopping  # noqa: E402

warnings.filterwarnings("ignore")
for name in ("pytorch_lightning", "lightning", "lightning.pytorch", "lightning_fabric", "darts"):
    logging.getLogger(name).setLevel(logging.ERROR)


class EpochTimer(Callback):
    """first_epoch_s: from just before model.fit() to the end of the first training epoch
    (Lightning calls on_train_epoch_end after that epoch's validation pass); counts epochs."""

    def __init__(self) -> None:
        self.t_fit = None
        self.first_epoch_s = None
        self.epochs = 0

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self.epochs += 1
        if self.first_epoch_s is None:
            self.first_epoch_s = time.perf_counter() - self.t_fit


def common_kwargs(s: dict, args, work_dir: str, timer: EpochTimer) -> dict:
    return dict(
        batch_size=s["batch_size"],
        n_epochs=s["max_epochs"],
        optimizer_kwargs={"lr": s["lr"]},  # Adam (Darts default optimizer)
        random_state=args.seed,
        work_dir=work_dir,
        save_checkpoints=False,
        log_tensorboard=False,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
            "callbacks": [
                EarlyStopping(
                    monitor="val_loss", patience=s["patience"], min_delta=0.0, mode="min"
                ),
                timer,
            ],
        },
    )


def test_forecasts(model, full, start, H: int):
    """Forecasts from every test origin with the trained model (no refitting)."""
    return model.historical_forecasts(
        series=full,
        start=start,
        forecast_horizon=H,
        stride=1,
        retrain=False,
        last_points_only=False,
        overlap_end=False,
        verbose=False,
        show_warnings=False,
    )


def stack_forecasts(forecasts) -> np.ndarray:
    """list[TimeSeries] (one series' windows) -> (n_windows, H, n_components)."""
    return np.stack([f.values(copy=False) for f in forecasts])


def run_ett(args, s: dict, work_dir: str, timer: EpochTimer):
    H, L = s["horizon"], s["lookback"]
    columns = pc.ett_columns(args.task)
    dates, values, columns = pc.load_ett(args.data, columns)
    times = pd.date_range(dates[0], periods=len(dates), freq="h")
    assert (times == dates).all()
    full = TimeSeries.from_times_and_values(times, values.astype(np.float32), columns=columns)
    train = full[: pc.N_TRAIN]
    val = full[pc.N_TRAIN - L : pc.N_TRAIN + pc.N_VAL]

    if args.task == "lstm_load24":
        model = BlockRNNModel(
            input_chunk_length=L,
            output_chunk_length=H,
            model="LSTM",
            hidden_dim=s["hidden"],
            n_rnn_layers=s["layers"],
            hidden_fc_sizes=None,
            dropout=0.0,
            **common_kwargs(s, args, work_dir, timer),
        )
        s.update(
            {
                "model": "BlockRNNModel(model='LSTM')",
                "hidden_dim": s["hidden"],
                "n_rnn_layers": s["layers"],
                "hidden_fc_sizes": None,
                "dropout": 0.0,
                "head": "Linear(hidden 64 -> 24) on the last hidden state",
                "columns": columns,
            }
        )
    else:
        model = NLinearModel(
            input_chunk_length=L,
            output_chunk_length=H,
            shared_weights=True,
            const_init=True,
            normalize=True,
            **common_kwargs(s, args, work_dir, timer),
        )
        s.update(
            {
                "model": "NLinearModel",
                "shared_weights": True,
                "const_init": True,
                "normalize": True,
                "channel_independence": "one 7-component series, shared_weights=True: "
                "a batch of 512 windows is 512 x 7 univariate inputs through one Linear",
                "columns": columns,
            }
        )

    t_fit = time.perf_counter()
    timer.t_fit = t_fit
    model.fit(series=train, val_series=val, verbose=False)
    fit_s = time.perf_counter() - t_fit

    t_pred = time.perf_counter()
    start = times[pc.N_TRAIN + pc.N_VAL]
    fc = test_forecasts(model, full, start, H)
    pred = stack_forecasts(fc)
    predict_s = time.perf_counter() - t_pred
    n_expected = pc.N_TEST - H + 1
    assert len(fc) == n_expected, (len(fc), n_expected)
    assert fc[0].start_time() == start and fc[-1].end_time() == times[-1], (
        fc[0].start_time(),
        fc[-1].end_time(),
    )
    truth = pc.test_truth(values, H)
    extra = {
        "n_test_windows": len(fc) * len(columns),
        "n_test_windows_per_column": len(fc),
        "fit_s": round(fit_s, 3),
        "predict_s": round(predict_s, 3),
    }
    if args.check_naive:
        extra["naive_test_mse"] = pc.mse(pc.naive_forecast(values, H), truth)
    pc.dump(args.dump, pred, truth)
    return pc.mse(pred, truth), extra


def run_panel(args, s: dict, work_dir: str, timer: EpochTimer):
    H, L = s["horizon"], s["lookback"]
    d = panel_data.make(s["n_series"], seed=0)
    scaled = d["scaled"].astype(np.float32)
    n_tr, n_val = d["n_train"], d["n_val"]
    full = [TimeSeries.from_values(row[:, None]) for row in scaled]
    train = [ts[:n_tr] for ts in full]
    val = [ts[n_tr - L : n_tr + n_val] for ts in full]

    model = NHiTSModel(
        input_chunk_length=L,
        output_chunk_length=H,
        num_stacks=3,
        num_blocks=1,
        num_layers=2,
        layer_widths=64,
        pooling_kernel_sizes=((2,), (2,), (1,)),
        n_freq_downsample=((4,), (2,), (1,)),
        dropout=0.0,
        activation="ReLU",
        MaxPool1d=True,
        **common_kwargs(s, args, work_dir, timer),
    )
    s.update(
        {
            "model": "NHiTSModel",
            "num_stacks": 3,
            "num_blocks": 1,
            "num_layers": 2,
            "layer_widths": 64,
            "pooling_kernel_sizes": [[2], [2], [1]],
            "n_freq_downsample": [[4], [2], [1]],
            "dropout": 0.0,
            "activation": "ReLU",
            "MaxPool1d": True,
            "scaling": "per series, mean/std of its 140 train rows",
            "split_rows": [n_tr, n_val, d["n_test"]],
        }
    )

    t_fit = time.perf_counter()
    timer.t_fit = t_fit
    model.fit(series=train, val_series=val, verbose=False)
    fit_s = time.perf_counter() - t_fit

    t_pred = time.perf_counter()
    first = n_tr + n_val
    fc = test_forecasts(model, full, first, H)
    pred = np.stack([stack_forecasts(per_series) for per_series in fc])  # (N, W, H, 1)
    predict_s = time.perf_counter() - t_pred
    starts = d["test_starts"]
    assert pred.shape == (s["n_series"], len(starts), H, 1), pred.shape
    assert fc[0][0].start_time() == first and fc[0][-1].end_time() == scaled.shape[1] - 1
    idx = starts[:, None] + np.arange(H)[None, :]
    truth = d["scaled"][:, idx][..., None]  # (N, W, H, 1)
    extra = {
        "n_test_windows": int(pred.shape[0] * pred.shape[1]),
        "n_test_windows_per_series": int(pred.shape[1]),
        "fit_s": round(fit_s, 3),
        "predict_s": round(predict_s, 3),
    }
    return pc.panel_score(args, d["scaled"], starts, pred, truth, extra)


def main() -> None:
    args = pc.base_parser("darts").parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = pc.Clock()
    s = pc.task_defaults(args)
    s.update(
        {
            "optimizer": "Adam",
            "loss": "MSELoss (Darts default)",
            "seed": args.seed,
            "early_stopping": f"EarlyStopping(monitor='val_loss', patience={s['patience']}, "
            "min_delta=0); last weights kept (no best-checkpoint reload)",
            "val_every_epochs": 1,
            "dtype": "float32",
            "trainer": "accelerator=cpu, progress bar/model summary/logger off, "
            "no checkpoints, deterministic=False (Lightning default)",
            "predict": "historical_forecasts(retrain=False, stride=1, last_points_only=False, "
            "overlap_end=False), predict batch = batch_size",
        }
    )
    timer = EpochTimer()
    with tempfile.TemporaryDirectory() as tmp:
        work_dir = args.work_dir or tmp
        if args.task == "panel":
            test_mse, extra = run_panel(args, s, work_dir, timer)
        else:
            test_mse, extra = run_ett(args, s, work_dir, timer)
    OUT.emit(
        pc.record(
            "darts",
            darts.__version__,
            args.task,
            s,
            clock,
            timer.first_epoch_s,
            timer.epochs,
            test_mse,
            torch.get_num_threads(),
            torch_version=torch.__version__,
            quick=args.quick,
            **extra,
        )
    )


if __name__ == "__main__":
    main()
