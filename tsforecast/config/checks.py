"""Rules that span several config fields: small named checks run after parsing.

Each takes the whole parsed :class:`~tsforecast.config.Config` and raises a ConfigError
naming the keys at fault.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from tsforecast.config.data import SYNTHETIC_COLUMN, SyntheticConfig, known_countries
from tsforecast.errors import ConfigError
from tsforecast.models import registry

if TYPE_CHECKING:
    from tsforecast.config.sections import Config

#: Which ``training.lr_schedule`` keys each schedule reads.
LR_SCHEDULE_KEYS = {
    "none": (),
    "exponential": ("decay_steps", "decay_rate", "staircase"),
    "cosine": ("decay_steps", "alpha"),
    "plateau": ("factor", "patience", "min_lr", "monitor"),
}


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


def _check_columns(config: Config) -> None:
    data = config.data
    special = {"data.time_column": data.time_column, "data.id_column": data.id_column}
    listed = {
        "data.target_columns": data.target_columns,
        "data.feature_columns": data.feature_columns,
        "data.future_columns": data.future_columns,
        "data.static_columns": data.static_columns,
    }
    for where, column in special.items():
        if column is None:
            continue
        for key, columns in listed.items():
            if column in columns:
                raise ConfigError(f"{where} '{column}' cannot also be listed in {key}.")
    if data.time_column is not None and data.time_column == data.id_column:
        raise ConfigError("data.time_column and data.id_column must be different columns.")
    both = sorted(set(data.target_columns) & set(data.feature_columns))
    if both:
        raise ConfigError(
            f"data.feature_columns repeats target column '{both[0]}'; targets are inputs already."
        )
    keys = list(listed)
    for i, first in enumerate(keys):
        for second in keys[i + 1 :]:
            common = sorted(set(listed[first]) & set(listed[second]))
            if common:
                raise ConfigError(f"Column '{common[0]}' is listed in both {first} and {second}.")


def _check_covariates(config: Config) -> None:
    data = config.data
    many = data.id_column is not None or data.source == "synthetic_sines"
    if data.calendar and data.time_column is None:
        raise ConfigError(
            "data.calendar derives covariates from the timestamps; set data.time_column."
        )
    if ("holiday" in data.calendar) != (data.holidays_country is not None):
        raise ConfigError(
            "data.holidays_country goes with the holiday calendar covariate: set both or neither."
        )
    if data.holidays_country is not None and data.holidays_country not in known_countries():
        raise ConfigError(
            f"data.holidays_country must be a country code the holidays package knows, "
            f"such as US, GB or DE; got '{data.holidays_country}'."
        )
    if data.static_columns and data.id_column is None:
        raise ConfigError("data.static_columns describe each series; set data.id_column.")
    if data.id_embedding and not many:
        raise ConfigError("data.id_embedding embeds the series ids; set data.id_column.")
    reads = [
        key
        for key, value in (
            ("data.future_columns", data.future_columns),
            ("data.calendar", data.calendar),
            ("data.static_columns", data.static_columns),
            ("data.id_embedding", data.id_embedding),
        )
        if value
    ]
    registry.check_covariates(
        config.model.type, config.model.params, reads, registry.Preprocessing.from_data(data)
    )
    if data.scaler_scope == "series" and data.split.by == "series":
        raise ConfigError(
            "data.scaler_scope: series fits each series on its own train rows, but with "
            "data.split.by: series the validation and test series have none; use "
            "data.scaler_scope: global (or data.instance_norm)."
        )


def _check_split(config: Config) -> None:
    val, test = config.data.split.val, config.data.split.test
    unit = "series" if config.data.split.by == "series" else "rows"
    if isinstance(val, float) and isinstance(test, float) and val + test >= 1.0:
        raise ConfigError(
            f"data.split.val + data.split.test must leave {unit} for training; got {val} + {test}."
        )


def _check_window(config: Config) -> None:
    window = config.window
    if window.min_inputs is not None and window.min_inputs > window.input_width:
        raise ConfigError(
            f"window.min_inputs must be at most window.input_width ({window.input_width}); "
            f"got {window.min_inputs}."
        )


def _check_preprocessing(config: Config) -> None:
    data, width = config.data, config.window.input_width
    if "difference" not in data.transform and data.difference_lag != 1:
        raise ConfigError("data.difference_lag applies only with data.transform: difference.")
    if "difference" in data.transform and data.difference_lag >= width:
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
    if config.training.loss == "smape" and config.data.transform:
        raise ConfigError(
            "training.loss smape scores forecasts in original units, which the model "
            f"reaches only without data.transform ({', '.join(config.data.transform)}); "
            "use training.loss mase."
        )
    for loss, owner in (("pinball", "quantile"), ("nll", "distribution")):
        if (config.training.loss == loss) != (head == owner):
            raise ConfigError(
                f"training.loss {config.training.loss} does not fit model.head {head}: the "
                f"{owner} head trains with the {loss} loss, and only it does."
            )
    if head == "distribution":
        _check_distribution(config)


def _check_distribution(config: Config) -> None:
    """Counts must stay counts for the negative binomial (the per-window stages are refused
    with any head but vector, see :func:`_check_preprocessing_head`)."""
    data = config.data
    if config.model.params.likelihood == "negative_binomial" and (
        data.scaler != "none" or data.transform
    ):
        raise ConfigError(
            "model.likelihood negative_binomial models counts as they are; set data.scaler: "
            "none and no data.transform."
        )


def _check_lr_schedule(config: Config) -> None:
    schedule = config.training.lr_schedule
    for f in dataclasses.fields(schedule):
        if f.name == "name" or f.name in LR_SCHEDULE_KEYS[schedule.name]:
            continue
        if getattr(schedule, f.name) != f.default:
            users = [name for name, keys in LR_SCHEDULE_KEYS.items() if f.name in keys]
            raise ConfigError(
                f"training.lr_schedule.{f.name} applies to lr_schedule.name "
                f"{' or '.join(users)}, not {schedule.name}."
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
            ("data.transform: difference", "difference" in data.transform),
        )
        if on
    ]
    head = getattr(config.model.params, "head", "vector")
    if used and head != "vector":
        raise ConfigError(
            f"{used[0]} wraps a model with a vector head; model.head {head} is not supported "
            "with it. Use model.head: vector or turn the preprocessing off."
        )


def _check_baselines(config: Config) -> None:
    """Classical baselines need statsforecast, and train rows in every series."""
    baselines = config.evaluation.baselines
    if not baselines:
        return
    if config.data.split.by == "series":
        raise ConfigError(
            "evaluation.baselines are fitted on each series' train rows; data.split.by: "
            "series holds whole series out, so they have none."
        )
    import importlib.util

    if importlib.util.find_spec("statsforecast") is None:
        raise ConfigError(
            f"evaluation.baselines {', '.join(baselines)} need statsforecast; install it with "
            "pip install 'tsforecast[classical]'."
        )


CROSS_CHECKS = (
    _check_source,
    _check_columns,
    _check_covariates,
    _check_split,
    _check_window,
    _check_preprocessing,
    _check_preprocessing_head,
    _check_optimizer,
    _check_loss,
    _check_lr_schedule,
    _check_recursive,
    _check_baselines,
)
