"""The ``window:``, ``model:``, ``training:``, ``evaluation:`` and ``output:`` sections, and
the whole :class:`Config`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tsforecast.config.data import DataConfig
from tsforecast.schema import (
    fraction,
    non_negative,
    open_fraction,
    option,
    path_text,
    positive,
    probability,
    safe_name,
    seed_range,
    unique,
)


@dataclass(frozen=True)
class WindowConfig:
    """How series are cut into (input_width -> horizon) samples."""

    input_width: int = option(help="Past steps the model reads.", check=positive)
    horizon: int = option(help="Future steps the model forecasts.", check=positive)
    min_inputs: int | None = option(
        None,
        help="Fewest observed steps a window needs: windows reaching before the start of "
        "their series are padded on the left with its first value, so that series shorter "
        "than input_width still train, validate and forecast. Default: input_width (every "
        "window wholly observed).",
        check=positive,
    )

    @property
    def observed(self) -> int:
        """The observed input steps a window needs (``min_inputs``, else ``input_width``)."""
        return self.input_width if self.min_inputs is None else self.min_inputs


@dataclass(frozen=True)
class ModelConfig:
    """The registry name and that family's typed parameters."""

    type: str
    params: Any


@dataclass(frozen=True)
class OptimizerConfig:
    """Keras optimizer and its arguments."""

    name: Literal["adam", "adamw", "sgd", "rmsprop", "adagrad"] = option("adam", help="Optimizer.")
    learning_rate: float = option(0.001, help="Learning rate.", check=positive)
    momentum: float = option(0.0, help="Momentum (sgd, rmsprop).", check=probability)
    nesterov: bool = option(False, help="Nesterov momentum (sgd).")
    weight_decay: float | None = option(
        None, help="Decoupled weight decay (adamw, adam).", check=non_negative
    )
    clipnorm: float | None = option(None, help="Clip each gradient to this norm.", check=positive)


@dataclass(frozen=True)
class LRScheduleConfig:
    """Learning-rate schedule: Keras ExponentialDecay, CosineDecay or ReduceLROnPlateau."""

    name: Literal["none", "exponential", "cosine", "plateau"] = option(
        "none", help="Schedule of the learning rate."
    )
    decay_steps: int | None = option(
        None,
        help="Optimizer steps per decay period (exponential; default one epoch) or of the "
        "whole decay (cosine; default every step of training).",
        check=positive,
    )
    decay_rate: float = option(
        0.9, help="Factor applied every decay_steps (exponential).", check=positive
    )
    staircase: bool = option(False, help="Decay in whole periods, not smoothly (exponential).")
    alpha: float = option(
        0.0, help="Final learning rate as a fraction of the initial one (cosine).", check=fraction
    )
    factor: float = option(
        0.5, help="Factor applied when the loss stops improving (plateau).", check=open_fraction
    )
    patience: int = option(
        3, help="Epochs without improvement before reducing (plateau).", check=non_negative
    )
    min_lr: float = option(0.0, help="Lowest learning rate (plateau).", check=non_negative)
    monitor: Literal["val_loss", "loss"] = option("val_loss", help="Quantity to watch (plateau).")


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """Keras EarlyStopping."""

    enabled: bool = option(True, help="Stop when the monitored loss stops improving.")
    monitor: Literal["val_loss", "loss"] = option("val_loss", help="Quantity to watch.")
    patience: int = option(
        10, help="Epochs without improvement before stopping.", check=non_negative
    )
    min_delta: float = option(
        0.0, help="Smallest change that counts as improvement.", check=non_negative
    )
    restore_best_weights: bool = option(True, help="Keep the best epoch's weights.")


@dataclass(frozen=True)
class TrainingConfig:
    """How the model is fitted."""

    epochs: int = option(100, help="Most epochs to train.", check=positive)
    batch_size: int = option(64, help="Windows per batch.", check=positive)
    optimizer: OptimizerConfig = option(OptimizerConfig(), help="")
    lr_schedule: LRScheduleConfig = option(LRScheduleConfig(), help="")
    loss: Literal["mse", "mae", "huber", "mape", "msle", "mase", "smape", "pinball", "nll"] = (
        option(
            "mse",
            help="Training loss (on the scaled data); `mase` (absolute errors over each series' "
            "own one-step change) and `smape` (in original units) are scale-free, so no series "
            "dominates by its size; `pinball` goes with model.head quantile and `nll` "
            "(negative log-likelihood) with model.head distribution, each the default of its head.",
        )
    )
    early_stopping: EarlyStoppingConfig = option(EarlyStoppingConfig(), help="")
    seed: int = option(42, help="Seed for weights, shuffling and dropout.", check=seed_range)
    shuffle: bool = option(True, help="Shuffle training windows every epoch.")
    deterministic: bool = option(
        True,
        help="Reruns give identical metrics: JAX computes deterministically on a CPU; on a GPU "
        "this picks XLA's deterministic kernels (set by the first fit of a process).",
    )
    tensorboard: bool = option(
        False, help="Write TensorBoard logs into the run directory's `tensorboard/` folder."
    )
    distribute: Literal["none", "mirrored", "multi_worker"] = option(
        "none",
        help="Data-parallel training through keras.distribution: `mirrored` (the local "
        "devices) or `multi_worker` (one process per host of the TF_CONFIG cluster, joined by "
        "jax.distributed); batch_size is the global batch and must split evenly across them.",
    )
    jit_compile: Literal["auto", True, False] = option(
        "auto",
        help="Compile the train and predict steps with XLA (`jax.jit`): `auto` (Keras' default) "
        "and `true` do; `false` runs them op by op, far slower, for debugging.",
    )
    steps_per_execution: int = option(
        1,
        help="Batches run per compiled call; more cuts the per-batch Python overhead of "
        "small models. Results are identical; epochs still end where they would.",
        check=positive,
    )
    mixed_precision: bool = option(
        False,
        help="Compute in float16 with float32 weights (Keras' `mixed_float16`) on a GPU; "
        "without a GPU training stays float32. The saved model is float32 either way.",
    )
    backup_interval: float = option(
        30.0,
        help="Least seconds between two crash-safe backups, taken at epoch ends (0: every "
        "epoch); `--resume` restarts after the last backed-up epoch.",
        check=non_negative,
    )


@dataclass(frozen=True)
class OutputConfig:
    """Where runs are written."""

    dir: str = option(
        "runs",
        help="Parent folder of run directories; relative to the working directory.",
        check=path_text,
    )
    name: str | None = option(
        None, help="Run name prefix (default: the model type).", check=safe_name
    )
    plots: bool = option(
        True,
        help="Draw the run's figures into its `plots/` (train, backtest and tune); false "
        "for batch jobs that need none.",
    )


#: Classical baselines ``evaluation.baselines`` may add, fitted by statsforecast.
CLASSICAL_BASELINES = ("ets", "theta", "arima")


@dataclass(frozen=True)
class EvaluationConfig:
    """What every run is scored beside, besides naive and seasonal naive."""

    baselines: tuple[Literal[CLASSICAL_BASELINES], ...] = option(
        (),
        help="Classical baselines fitted on each series' train rows and scored on the same "
        "windows: `ets` (AutoETS), `theta` (AutoTheta), `arima` (AutoARIMA), from "
        "statsforecast (`pip install 'tsforecast[classical]'`).",
        check=unique,
    )
    refit_baselines: bool = option(
        False,
        help="Refit the classical baselines as the forecast origin rolls (every `horizon` "
        "steps of each series, on the whole history before that point), as a statistician "
        "evaluates them, instead of fitting them once on the train rows; between refits "
        "they run forward over the newer rows.",
    )


@dataclass(frozen=True)
class Config:
    """A whole, validated configuration."""

    data: DataConfig
    window: WindowConfig
    model: ModelConfig
    training: TrainingConfig = TrainingConfig()
    output: OutputConfig = OutputConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
