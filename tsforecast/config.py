"""Typed, immutable configuration parsed once from YAML.

Sections are declared with :mod:`tsforecast.schema`; cross-field rules are small named
checks run after parsing.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_type_hints

import yaml

from tsforecast.errors import ConfigError
from tsforecast.models import registry
from tsforecast.schema import (
    describe,
    fraction,
    hint,
    non_empty,
    non_negative,
    open_fraction,
    option,
    parse_section,
    path_text,
    positive,
    probability,
    safe_name,
    seed_range,
    split_size,
    unique,
)

# ---------------------------------------------------------------------------------------------
# Sections


@dataclass(frozen=True)
class SplitConfig:
    """Split into train / validation / test: each series by time, or whole series."""

    val: float | int = option(
        0.15,
        help="Validation share: a fraction or a count of each series' rows (`by: time`) "
        "or of the series (`by: series`).",
        check=split_size,
    )
    test: float | int = option(
        0.15,
        help="Test share: a fraction or a count of each series' rows (`by: time`) "
        "or of the series (`by: series`).",
        check=split_size,
    )
    by: Literal["time", "series"] = option(
        "time",
        help="`time`: split every series chronologically; `series`: hold out whole series "
        "(the last ones for test, those before them for validation).",
    )


@dataclass(frozen=True)
class SyntheticConfig:
    """The sum-of-two-sines series of Hands-On Machine Learning (2nd ed.), chapter 15."""

    n_series: int = option(10000, help="How many series to generate.", check=positive)
    n_steps: int = option(
        50,
        help="Steps per series (the generator's `n_steps`): input steps plus horizon, e.g. 51.",
        check=positive,
    )
    seed: int = option(42, help="`np.random.seed` before generating, as the book does.")


#: The one column of generated series.
SYNTHETIC_COLUMN = "value"


@dataclass(frozen=True)
class DataConfig:
    """Where the data comes from and how it is prepared."""

    source: Literal["file", "synthetic_sines"] = option(
        "file", help="`file` reads data.path; `synthetic_sines` generates series in memory."
    )
    path: str | None = option(
        None,
        help="CSV or Parquet file (required for `source: file`); a relative path resolves "
        "against the config file.",
        check=path_text,
    )
    synthetic: SyntheticConfig = option(SyntheticConfig(), help="")
    target_columns: tuple[str, ...] = option(
        (),
        help="Columns to forecast (required for `source: file`; generated series have one, "
        "`value`).",
        check=lambda v: non_empty(v) or unique(v),
    )
    feature_columns: tuple[str, ...] = option(
        (), help="Extra numeric columns used as past inputs only.", check=unique
    )
    time_column: str | None = option(
        None, help="Timestamp column; parsed as datetimes, must increase within each series."
    )
    id_column: str | None = option(
        None, help="Column naming the series when many are stacked in one long table."
    )
    format: Literal["auto", "csv", "parquet"] = option(
        "auto", help="File format; `auto` goes by the file suffix."
    )
    split: SplitConfig = option(SplitConfig(), help="")
    scaler: Literal["standard", "minmax", "none"] = option(
        "standard", help="Scaling of every input column, fitted on the train split only."
    )
    missing: Literal["error", "interpolate", "ffill", "drop"] = option(
        "error", help="What to do with empty cells in used columns."
    )
    rows: int | None = option(
        None, help="Use only the first this many rows of the file.", check=positive
    )
    transform: Literal["none", "difference"] = option(
        "none",
        help="`difference`: the model reads differenced inputs and its forecast is integrated "
        "back from the last observed values.",
    )
    difference_lag: int = option(
        1, help="Lag of `transform: difference`: 1, or a season length in steps.", check=positive
    )
    instance_norm: Literal[False, "last", "mean", "standard"] = option(
        False,
        help="Normalise each input window per column by its own `last` value, `mean`, or mean "
        "and standard deviation (`standard`), and undo it on the forecast.",
    )
    channel_independent: bool = option(
        False,
        help="Forecast every column as its own series with shared weights; needs every input "
        "column to be a target.",
    )


@dataclass(frozen=True)
class WindowConfig:
    """How series are cut into (input_width -> horizon) samples."""

    input_width: int = option(help="Past steps the model reads.", check=positive)
    horizon: int = option(help="Future steps the model forecasts.", check=positive)


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


#: Which ``training.lr_schedule`` keys each schedule reads.
LR_SCHEDULE_KEYS = {
    "none": (),
    "exponential": ("decay_steps", "decay_rate", "staircase"),
    "cosine": ("decay_steps", "alpha"),
    "plateau": ("factor", "patience", "min_lr", "monitor"),
}


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
    loss: Literal["mse", "mae", "huber", "mape", "msle", "pinball"] = option(
        "mse",
        help="Training loss (on the scaled data); `pinball` goes with model.head quantile, "
        "which it is the default of.",
    )
    early_stopping: EarlyStoppingConfig = option(EarlyStoppingConfig(), help="")
    seed: int = option(42, help="Seed for weights, shuffling and dropout.", check=seed_range)
    shuffle: bool = option(True, help="Shuffle training windows every epoch.")
    deterministic: bool = option(
        True, help="Use deterministic TensorFlow ops, so reruns give identical metrics."
    )
    tensorboard: bool = option(
        False, help="Write TensorBoard logs into the run directory's `tensorboard/` folder."
    )
    distribute: Literal["none", "mirrored", "multi_worker"] = option(
        "none",
        help="tf.distribute strategy: `mirrored` (local devices) or `multi_worker` (TF_CONFIG); "
        "batch_size is the global batch.",
    )
    jit_compile: Literal["auto", True, False] = option(
        "auto",
        help="Compile the train and predict steps with XLA: `auto` (Keras' default) does on a "
        "GPU, not on a CPU. Keras never does while `deterministic` is true, so `true` needs "
        "`deterministic: false`.",
    )
    steps_per_execution: int = option(
        1,
        help="Batches run per call into TensorFlow; more cuts the per-batch Python overhead "
        "of small models. Results are identical; epochs still end where they would.",
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


@dataclass(frozen=True)
class Config:
    """A whole, validated configuration."""

    data: DataConfig
    window: WindowConfig
    model: ModelConfig
    training: TrainingConfig = TrainingConfig()
    output: OutputConfig = OutputConfig()


_SECTIONS = {
    "data": DataConfig,
    "window": WindowConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "output": OutputConfig,
}
_REQUIRED_SECTIONS = ("data", "window", "model")
#: Sections other commands read from the same file and ``train`` accepts and ignores:
#: ``search`` belongs to ``tsforecast tune`` (see :mod:`tsforecast.search`).
_OTHER_SECTIONS = ("search",)


def _parse_model(raw: Any) -> ModelConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"model must be a mapping of keys; got {describe(raw)}.")
    if "type" not in raw:
        raise ConfigError(f"model.type is required; one of {', '.join(registry.names())}.")
    spec = registry.get(raw["type"])
    rest = {k: v for k, v in raw.items() if k != "type"}
    params = parse_section(spec.params, rest, "model")
    return ModelConfig(type=spec.name, params=params)


def _check_columns(config: Config) -> None:
    data = config.data
    special = {"data.time_column": data.time_column, "data.id_column": data.id_column}
    for where, column in special.items():
        if column is None:
            continue
        for listed, columns in (
            ("data.target_columns", data.target_columns),
            ("data.feature_columns", data.feature_columns),
        ):
            if column in columns:
                raise ConfigError(f"{where} '{column}' cannot also be listed in {listed}.")
    if data.time_column is not None and data.time_column == data.id_column:
        raise ConfigError("data.time_column and data.id_column must be different columns.")
    both = sorted(set(data.target_columns) & set(data.feature_columns))
    if both:
        raise ConfigError(
            f"data.feature_columns repeats target column '{both[0]}'; targets are inputs already."
        )


def _check_source(config: Config) -> None:
    data = config.data
    if data.source == "file":
        if data.path is None:
            raise ConfigError("data.path is required when data.source is file.")
        if not data.target_columns:
            raise ConfigError("data.target_columns is required when data.source is file.")
        if data.synthetic != SyntheticConfig():
            raise ConfigError("data.synthetic applies only with data.source: synthetic_sines.")
        return
    unused = {
        "data.path": data.path,
        "data.time_column": data.time_column,
        "data.id_column": data.id_column,
        "data.feature_columns": data.feature_columns or None,
        "data.rows": data.rows,
    }
    for where, value in unused.items():
        if value is not None:
            raise ConfigError(f"{where} is not used with data.source {data.source}; remove it.")
    if data.target_columns != (SYNTHETIC_COLUMN,):
        raise ConfigError(
            f"data.source {data.source} generates one column, '{SYNTHETIC_COLUMN}'; "
            f"data.target_columns must be [{SYNTHETIC_COLUMN}] or left out."
        )


def _check_split(config: Config) -> None:
    val, test = config.data.split.val, config.data.split.test
    unit = "series" if config.data.split.by == "series" else "rows"
    if isinstance(val, float) and isinstance(test, float) and val + test >= 1.0:
        raise ConfigError(
            f"data.split.val + data.split.test must leave {unit} for training; got {val} + {test}."
        )


def _check_preprocessing(config: Config) -> None:
    data, width = config.data, config.window.input_width
    if data.transform == "none" and data.difference_lag != 1:
        raise ConfigError("data.difference_lag applies only with data.transform: difference.")
    if data.transform == "difference" and data.difference_lag >= width:
        raise ConfigError(
            f"data.difference_lag ({data.difference_lag}) must be smaller than "
            f"window.input_width ({width}): the model reads input_width - difference_lag "
            "differences."
        )
    if data.channel_independent and data.feature_columns:
        raise ConfigError(
            "data.channel_independent forecasts every input column as its own series, so "
            "every input must be a target; move data.feature_columns "
            f"({', '.join(data.feature_columns)}) into data.target_columns or remove them."
        )


def _check_optimizer(config: Config) -> None:
    optimizer = config.training.optimizer
    where = f"training.optimizer (name: {optimizer.name})"
    if optimizer.momentum and optimizer.name not in ("sgd", "rmsprop"):
        raise ConfigError(f"{where}: momentum applies to sgd and rmsprop only.")
    if optimizer.nesterov and optimizer.name != "sgd":
        raise ConfigError(f"{where}: nesterov applies to sgd only.")
    if optimizer.weight_decay is not None and optimizer.name not in ("adam", "adamw"):
        raise ConfigError(f"{where}: weight_decay applies to adam and adamw only.")


def _check_loss(config: Config) -> None:
    if config.training.loss == "msle" and config.data.scaler == "standard":
        raise ConfigError(
            "training.loss msle needs non-negative targets, but data.scaler standard makes "
            "them negative; use data.scaler: minmax."
        )
    head = getattr(config.model.params, "head", "vector")
    if (config.training.loss == "pinball") != (head == "quantile"):
        raise ConfigError(
            f"training.loss {config.training.loss} does not fit model.head {head}: the "
            "quantile head trains with the pinball loss, and only it does."
        )


def _check_lr_schedule(config: Config) -> None:
    schedule = config.training.lr_schedule
    default = LRScheduleConfig()
    for f in dataclasses.fields(schedule):
        if f.name == "name" or f.name in LR_SCHEDULE_KEYS[schedule.name]:
            continue
        if getattr(schedule, f.name) != getattr(default, f.name):
            users = [name for name, keys in LR_SCHEDULE_KEYS.items() if f.name in keys]
            raise ConfigError(
                f"training.lr_schedule.{f.name} applies to lr_schedule.name "
                f"{' or '.join(users)}, not {schedule.name}."
            )


def _check_speed(config: Config) -> None:
    training = config.training
    if training.jit_compile is True and training.deterministic:
        raise ConfigError(
            "training.jit_compile: true needs training.deterministic: false; Keras does not "
            "compile with XLA while deterministic ops are on."
        )


def _check_recursive(config: Config) -> None:
    head = getattr(config.model.params, "head", "vector")
    if head == "recursive" and config.data.feature_columns:
        raise ConfigError(
            "model.head recursive feeds its own forecasts back as the next inputs, so it cannot "
            "read data.feature_columns (their future values are unknown); remove "
            "data.feature_columns or use another head."
        )


def _check_preprocessing_head(config: Config) -> None:
    data = config.data
    used = [
        name
        for name, on in (
            ("data.instance_norm", bool(data.instance_norm)),
            ("data.channel_independent", data.channel_independent),
            ("data.transform: difference", data.transform == "difference"),
        )
        if on
    ]
    head = getattr(config.model.params, "head", "vector")
    if used and head != "vector":
        raise ConfigError(
            f"{used[0]} wraps a model with a vector head; model.head {head} is not supported "
            "with it. Use model.head: vector or turn the preprocessing off."
        )


CROSS_CHECKS = (
    _check_source,
    _check_columns,
    _check_split,
    _check_preprocessing,
    _check_preprocessing_head,
    _check_optimizer,
    _check_loss,
    _check_lr_schedule,
    _check_recursive,
    _check_speed,
)


def _default_loss(raw: Mapping, model: ModelConfig) -> Any:
    """The quantile head's loss defaults to pinball; other heads keep the schema default."""
    training = raw.get("training")
    if getattr(model.params, "head", "vector") != "quantile":
        return training
    if training is None:
        return {"loss": "pinball"}
    if isinstance(training, Mapping) and "loss" not in training:
        return {**training, "loss": "pinball"}
    return training


def config_from_dict(raw: Any, base_dir: Path | None = None) -> Config:
    """Build a :class:`Config` from a plain mapping (as loaded from YAML).

    Args:
        raw: The whole configuration mapping.
        base_dir: Folder that relative ``data.path`` values resolve against.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"The config must be a mapping of sections; got {describe(raw)}.")
    for key in raw:
        if key not in _SECTIONS and key not in _OTHER_SECTIONS:
            valid = [*_SECTIONS, *_OTHER_SECTIONS]
            raise ConfigError(f"Unknown section '{key}'.{hint(key, valid)}")
    for key in _REQUIRED_SECTIONS:
        if key not in raw:
            raise ConfigError(f"The config has no '{key}' section; it is required.")
    data = parse_section(DataConfig, raw["data"], "data")
    if data.path is not None:
        path = os.path.expanduser(data.path)
        if not os.path.isabs(path):
            path = os.path.join(base_dir or os.getcwd(), path)
        data = dataclasses.replace(data, path=os.path.normpath(path))
    if data.source == "synthetic_sines" and not data.target_columns:
        data = dataclasses.replace(data, target_columns=(SYNTHETIC_COLUMN,))
    model = _parse_model(raw["model"])
    config = Config(
        data=data,
        window=parse_section(WindowConfig, raw["window"], "window"),
        model=model,
        training=parse_section(TrainingConfig, _default_loss(raw, model), "training"),
        output=parse_section(OutputConfig, raw.get("output"), "output"),
    )
    registry.check_params(config.model.type, config.model.params, config.window)
    for check in CROSS_CHECKS:
        check(config)
    return config


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into its key path and YAML-parsed value."""
    key, sep, value = text.partition("=")
    keys = key.strip().split(".")
    if not sep or not all(keys):
        raise ConfigError(f"--set expects KEY.PATH=VALUE, e.g. model.units=32; got '{text}'.")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    return keys, parsed


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Return a copy of ``raw`` with each ``KEY.PATH=VALUE`` override set."""
    result = copy.deepcopy(raw)
    for text in overrides:
        keys, value = parse_override(text)
        node = result
        for i, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                where = ".".join(keys[: i + 1])
                raise ConfigError(f"--set {text}: {where} is not a section.")
            node = child
        node[keys[-1]] = value
    return result


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file with the safe loader, turning every failure into ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"Config path is a directory, not a YAML file: {path}") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Cannot read config file {path}: it is not UTF-8 text.") from None
    try:
        return yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"Malformed YAML in {path}: nested too deeply.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"Malformed YAML in {path}{where}: {problem}.") from None


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load, override and validate a config file.

    Args:
        path: The YAML file.
        overrides: ``KEY.PATH=VALUE`` strings applied before validation.
    """
    raw = read_yaml(path)
    if raw is None:
        raise ConfigError(f"Config file {path} is empty.")
    if not isinstance(raw, dict):
        raise ConfigError(f"The config must be a mapping of sections; got {describe(raw)}.")
    raw = apply_overrides(raw, list(overrides))
    return config_from_dict(raw, base_dir=Path(path).resolve().parent)


# ---------------------------------------------------------------------------------------------
# Output


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


def config_to_dict(config: Config) -> dict:
    """The fully resolved config as plain data, defaults filled in."""
    out = {}
    for name in _SECTIONS:
        section = getattr(config, name)
        if name == "model":
            out[name] = {"type": section.type, **_plain(section.params)}
        else:
            out[name] = _plain(section)
    return out


def dump_config(config: Config) -> str:
    """The resolved config as YAML text that :func:`load_config` reads back unchanged."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, default_flow_style=None)


def _reference_rows(cls: type, path: str) -> list[tuple[str, str, str]]:
    rows = []
    for f in dataclasses.fields(cls):
        where = f"{path}.{f.name}"
        field_type = get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(field_type):
            rows.extend(_reference_rows(field_type, where))
            continue
        if f.default is dataclasses.MISSING:
            default = "required"
        else:
            default = f"`{yaml.safe_dump(_plain(f.default), default_flow_style=True).strip()}`"
            default = default.replace("\n...", "")
        rows.append((where, default, f.metadata.get("help", "")))
    return rows


def config_reference() -> str:
    """A Markdown table of every config key, generated from the schema."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    for name, cls in _SECTIONS.items():
        if cls is ModelConfig:
            lines.append(
                "| `model.type` | required | Registry name: "
                + ", ".join(f"`{n}`" for n in registry.names())
                + ". |"
            )
            for spec in registry.specs():
                for where, default, text in _reference_rows(spec.params, f"model[{spec.name}]"):
                    lines.append(f"| `{where}` | {default} | {text} |")
            continue
        for where, default, text in _reference_rows(cls, name):
            lines.append(f"| `{where}` | {default} | {text} |")
    return "\n".join(lines) + "\n"
