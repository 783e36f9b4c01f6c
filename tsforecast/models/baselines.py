"""Baselines that need no training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tsforecast.errors import ConfigError
from tsforecast.models.common import head_option
from tsforecast.schema import option, positive


@dataclass(frozen=True)
class NaiveParams:
    """``naive``: the last observed value, repeated."""

    head: str = head_option()


@dataclass(frozen=True)
class SeasonalNaiveParams:
    """``seasonal_naive``: the value one season before each future step."""

    season_length: int = option(
        help="Steps in one season, e.g. 24 for hourly data with a daily cycle.", check=positive
    )
    head: str = head_option()


def check_seasonal_naive(params: SeasonalNaiveParams, window: Any) -> None:
    if params.season_length > window.input_width:
        raise ConfigError(
            f"model.season_length ({params.season_length}) must not exceed window.input_width "
            f"({window.input_width}): the model repeats the last season of the input window."
        )


def build_naive(params: NaiveParams, shape: Any) -> Any:
    """Last-value model: ``(batch, input_width, n_inputs) -> (batch, horizon, n_targets)``."""
    import keras

    from tsforecast.models.layers import LastValue

    inputs = keras.Input((shape.input_width, shape.n_inputs), name="window")
    outputs = LastValue(shape.horizon, shape.n_targets, name="forecast")(inputs)
    return keras.Model(inputs, outputs, name="naive")


def build_seasonal_naive(params: SeasonalNaiveParams, shape: Any) -> Any:
    """Seasonal naive: ``(batch, input_width, n_inputs) -> (batch, horizon, n_targets)``."""
    import keras

    from tsforecast.models.layers import SeasonalNaive

    inputs = keras.Input((shape.input_width, shape.n_inputs), name="window")
    outputs = SeasonalNaive(shape.horizon, shape.n_targets, params.season_length, name="forecast")(
        inputs
    )
    return keras.Model(inputs, outputs, name="seasonal_naive")
