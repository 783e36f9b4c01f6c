"""NeuralForecast side of the tsforecast peer benchmark: one task, one JSON line on stdout.

Run with the NeuralForecast environment's interpreter (``benchmarks/peers.py --setup``):
``.venv-peers/nf/bin/python benchmarks/peers/nf_task.py --task nlinear96 [--quick]``
(see peer_common.base_parser for every flag; benchmarks/PEERS.md for each task's settings).

NeuralForecast trains by steps, not epochs: each step draws `batch_size` series and then
`windows_batch_size` windows among all their windows (without replacement within a step,
independently between steps). An "epoch" here is the number of steps that shows as many
windows as one Darts/tsforecast epoch shows (ceil(train windows / batch)), and validation
and early stopping run once per such epoch, so both peers stop on the same schedule.
"""

from __future__ import annotations

import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_common as pc

OUT = pc.Output()  # stdout -> stderr from here on; the JSON line goes to the real stdout

import logging  # noqa: E402
import warnings  # noqa: E402

import neuralforecast  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import panel_data  # noqa: E402
import torch  # noqa: E402
from neuralforecast import NeuralForecast  # noqa: E402
from neuralforecast.losses.pytorch import MSE  # noqa: E402
from neuralforecast.models import LSTM, NHITS, NLinear  # noqa: E402
from pytorch_lightning.callbacks import Callback  # noqa: E402

warnings.filterwarnings("ignore")
for name in (
    "pytorch_lightning",
    "lightning",
    "lightning.pytorch",
    "lightning_fabric",
    "neuralforecast",
):
    logging.getLogger(name).setLevel(logging.ERROR)


class StepTimer(Callback):
    """first_epoch_s: from just before cross_validation() (which prepares NF's dataset, fits,
    then predicts) to the end of the first validation pass after `steps_per_epoch` steps, the
    same point as Darts' first on_train_epoch_end. Also keeps the step count and fit end."""

    def __init__(self, steps_per_epoch: int) -> None:
        self.spe = steps_per_epoch
        self.t_fit = None
        self.first_epoch_s = None
        self.first_epoch_train_s = None
        self.steps = 0
        self.t_fit_end = None
        self.val_passes = 0

    def __deepcopy__(self, memo):
        # NeuralForecast deep-copies its models (and so their trainer kwargs) before fitting;
        # keep one shared timer so that the script can read what the fit recorded.
        return self

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.steps = trainer.global_step
        if self.first_epoch_train_s is None and trainer.global_step >= self.spe:
            self.first_epoch_train_s = time.perf_counter() - self.t_fit

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        self.val_passes += 1
        if self.first_epoch_s is None:
            self.first_epoch_s = time.perf_counter() - self.t_fit

    def on_train_end(self, trainer, pl_module) -> None:
        self.steps = trainer.global_step
        self.t_fit_end = time.perf_counter()


def timings(timer, t_fit: float, t_end: float) -> dict:
    """Fit and predict seconds, the first epoch's training time and the steps taken."""
    return {
        "fit_s": round(timer.t_fit_end - t_fit, 3),
        "predict_s": round(t_end - timer.t_fit_end, 3),
        "first_epoch_train_only_s": timer.first_epoch_train_s,
        "steps": timer.steps,
    }


def common_kwargs(s: dict, args, timer: StepTimer, spe: int) -> dict:
    return dict(
        loss=MSE(),
        valid_loss=MSE(),
        learning_rate=s["lr"],  # Adam (NF default optimizer); num_lr_decays=-1: constant
        max_steps=s["max_epochs"] * spe,
        val_check_steps=spe,
        early_stop_patience_steps=s["patience"],  # counted in validation checks = epochs
        val_monitor="ptl/val_loss",
        scaler_type="identity",  # the data are standardised beforehand
        training_data_availability_threshold=[0.0, 1.0],  # only windows with a full target
        random_seed=args.seed,
        # Lightning trainer kwargs
        accelerator="cpu",
        devices=1,
        enable_progress_bar=False,
        enable_model_summary=False,
        logger=False,
        callbacks=[timer],
    )


def nf_settings(s: dict, spe: int, **kw) -> None:
    s.update(
        {
            "optimizer": "Adam",
            "loss": "MSE (NF default is MAE)",
            "valid_loss": "MSE",
            "seed": None,
            "scaler_type": "identity",
            "training_data_availability_threshold": [0.0, 1.0],
            "steps_per_epoch": spe,
            "max_steps": s["max_epochs"] * spe,
            "val_check_steps": spe,
            "early_stop_patience_steps": s["patience"],
            "early_stopping": "Lightning EarlyStopping on ptl/val_loss, patience in "
            "validation checks (one per epoch-equivalent); last weights kept",
            "trainer": "accelerator=cpu, progress bar/model summary/logger off, "
            "checkpointing off (NF default), deterministic=False (Lightning default)",
            "predict": "NeuralForecast.cross_validation(n_windows=None, test_size, val_size, "
            "step_size=1, refit=False)",
        }
    )
    s.update(kw)


def run_ett(args, s: dict, timer_box: list):
    H, L = s["horizon"], s["lookback"]
    columns = pc.ett_columns(args.task)
    dates, values, columns = pc.load_ett(args.data, columns)
    n_cols = len(columns)
    n_win = pc.N_TRAIN - L - H + 1  # train windows per column with a full target
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(np.array(columns), len(dates)),
            "ds": np.tile(dates.values, n_cols),
            "y": values.T.reshape(-1).astype(np.float32),
        }
    )

    if args.task == "lstm_load24":
        wbs = s["batch_size"]
        spe = math.ceil(n_win / wbs)
        timer = StepTimer(spe)
        model = LSTM(
            h=H,
            input_size=L,
            encoder_n_layers=s["layers"],
            encoder_hidden_size=s["hidden"],
            encoder_dropout=0.0,
            decoder_layers=1,
            recurrent=False,
            batch_size=1,
            valid_batch_size=1,
            windows_batch_size=wbs,
            **common_kwargs(s, args, timer, spe),
        )
        nf_settings(
            s,
            spe,
            model="LSTM",
            encoder_n_layers=s["layers"],
            encoder_hidden_size=s["hidden"],
            encoder_dropout=0.0,
            decoder_layers=1,
            recurrent=False,
            series_per_step=1,
            windows_batch_size=wbs,
            inference_windows_batch_size=1024,
            head="Linear(hidden 64 -> 1) applied to each of the last 24 hidden "
            "states of the input sequence (NF's LSTM design; Darts uses one Linear "
            "64 -> 24 on the last hidden state)",
            columns=columns,
        )
    else:
        wbs = s["batch_size"] * n_cols  # 512 multichannel windows = 3584 univariate windows
        spe = math.ceil(n_win / s["batch_size"])
        timer = StepTimer(spe)
        model = NLinear(
            h=H,
            input_size=L,
            batch_size=n_cols,
            valid_batch_size=n_cols,
            windows_batch_size=wbs,
            **common_kwargs(s, args, timer, spe),
        )
        nf_settings(
            s,
            spe,
            model="NLinear",
            series_per_step=n_cols,
            windows_batch_size=wbs,
            inference_windows_batch_size=1024,
            channel_independence="7 univariate series (one per column) in long "
            "format; one NLinear (Linear(512 -> H) on the input minus its last value) "
            "shared by all; a step draws 3584 = 512 x 7 windows from the 7 series",
            columns=columns,
        )
    s["seed"] = args.seed
    timer_box.append(timer)

    nf = NeuralForecast(models=[model], freq="h", local_scaler_type=None)
    t_fit = time.perf_counter()
    timer.t_fit = t_fit
    cv = nf.cross_validation(
        df=df,
        n_windows=None,
        val_size=pc.N_VAL,
        test_size=pc.N_TEST,
        step_size=1,
        refit=False,
        verbose=False,
    )
    t_end = time.perf_counter()
    name = type(model).__name__
    cv = cv.sort_values(["unique_id", "cutoff", "ds"])
    n_expected = pc.N_TEST - H + 1
    pred = np.empty((n_expected, H, n_cols))
    truth_nf = np.empty_like(pred)
    for j, c in enumerate(columns):
        part = cv[cv["unique_id"] == c]
        assert part["cutoff"].nunique() == n_expected, (c, part["cutoff"].nunique(), n_expected)
        assert len(part) == n_expected * H
        assert part["ds"].iloc[0] == dates[pc.N_TRAIN + pc.N_VAL]
        assert part["cutoff"].iloc[0] == dates[pc.N_TRAIN + pc.N_VAL - 1]
        assert part["ds"].iloc[-1] == dates[-1]
        pred[:, :, j] = part[name].to_numpy().reshape(n_expected, H)
        truth_nf[:, :, j] = part["y"].to_numpy().reshape(n_expected, H)
    truth = pc.test_truth(values, H)
    assert np.allclose(truth_nf, truth, atol=1e-5), "NF's y differs from the scaled truth"
    extra = {
        "n_test_windows": n_expected * n_cols,
        "n_test_windows_per_column": n_expected,
        **timings(timer, t_fit, t_end),
    }
    if args.check_naive:
        extra["naive_test_mse"] = pc.mse(pc.naive_forecast(values, H), truth)
    pc.dump(args.dump, pred, truth)
    return pc.mse(pred, truth), extra


def run_panel(args, s: dict, timer_box: list):
    H, L = s["horizon"], s["lookback"]
    d = panel_data.make(s["n_series"], seed=0)
    n, length = d["scaled"].shape
    n_tr, n_val, n_te = d["n_train"], d["n_val"], d["n_test"]
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(np.arange(n), length),
            "ds": np.tile(np.arange(length), n),
            "y": d["scaled"].reshape(-1).astype(np.float32),
        }
    )
    n_win = n * (n_tr - L - H + 1)
    wbs = s["batch_size"]
    spe = math.ceil(n_win / wbs)
    series_per_step = min(n, wbs)
    timer = StepTimer(spe)
    timer_box.append(timer)
    architecture = {
        "stack_types": ["identity"] * 3,
        "n_blocks": [1, 1, 1],
        "mlp_units": [[64, 64]] * 3,
        "n_pool_kernel_size": [2, 2, 1],
        "n_freq_downsample": [4, 2, 1],
        "pooling_mode": "MaxPool1d",
        "interpolation_mode": "linear",
        "dropout_prob_theta": 0.0,
        "activation": "ReLU",
    }
    model = NHITS(
        h=H,
        input_size=L,
        **architecture,
        batch_size=series_per_step,
        valid_batch_size=series_per_step,
        windows_batch_size=wbs,
        **common_kwargs(s, args, timer, spe),
    )
    nf_settings(
        s,
        spe,
        model="NHITS",
        **architecture,
        mlp_note="NF builds Linear(in,64), Linear(64,64), ReLU per block: two hidden "
        "layers of 64 as Darts' num_layers=2, layer_widths=64, but with one ReLU",
        series_per_step=series_per_step,
        windows_batch_size=wbs,
        inference_windows_batch_size=1024,
        scaling="per series, mean/std of its 140 train rows",
        split_rows=[n_tr, n_val, n_te],
    )
    s["seed"] = args.seed

    nf = NeuralForecast(models=[model], freq=1, local_scaler_type=None)
    t_fit = time.perf_counter()
    timer.t_fit = t_fit
    cv = nf.cross_validation(
        df=df,
        n_windows=None,
        val_size=n_val,
        test_size=n_te,
        step_size=1,
        refit=False,
        verbose=False,
    )
    t_end = time.perf_counter()
    cv = cv.sort_values(["unique_id", "cutoff", "ds"])
    starts = d["test_starts"]
    W = len(starts)
    assert len(cv) == n * W * H, (len(cv), n * W * H)
    assert (cv.groupby("unique_id")["cutoff"].nunique() == W).all()
    assert cv["cutoff"].min() == n_tr + n_val - 1 and cv["ds"].max() == length - 1
    pred = cv["NHITS"].to_numpy().reshape(n, W, H)
    idx = starts[:, None] + np.arange(H)[None, :]
    truth = d["scaled"][:, idx]  # (N, W, H)
    assert np.allclose(cv["y"].to_numpy().reshape(n, W, H), truth, atol=1e-5)
    extra = {
        "n_test_windows": n * W,
        "n_test_windows_per_series": W,
        **timings(timer, t_fit, t_end),
    }
    return pc.panel_score(args, d["scaled"], starts, pred, truth, extra)


def main() -> None:
    args = pc.base_parser("neuralforecast").parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    clock = pc.Clock()
    s = pc.task_defaults(args)
    timer_box: list = []
    if args.task == "panel":
        test_mse, extra = run_panel(args, s, timer_box)
    else:
        test_mse, extra = run_ett(args, s, timer_box)
    timer = timer_box[0]
    epochs = round(timer.steps / timer.spe, 3)
    OUT.emit(
        pc.record(
            "neuralforecast",
            neuralforecast.__version__,
            args.task,
            s,
            clock,
            timer.first_epoch_s,
            epochs,
            test_mse,
            torch.get_num_threads(),
            torch_version=torch.__version__,
            quick=args.quick,
            val_passes=timer.val_passes,
            **extra,
        )
    )


if __name__ == "__main__":
    main()
