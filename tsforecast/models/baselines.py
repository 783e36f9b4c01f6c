"""Baselines that need no training."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tsforecast.models.common import head_option


@dataclass(frozen=True)
class NaiveParams:
    """``naive``: the last observed value, repeated."""

    head: str = head_option()


def build_naive(params: NaiveParams, shape: Any) -> Any:
    """Last-value model: ``(batch, input_width, n_inputs) -> (batch, horizon, n_targets)``."""
    import keras

    from tsforecast.models.layers import LastValue

    inputs = keras.Input((shape.input_width, shape.n_inputs), name="window")
    outputs = LastValue(shape.horizon, shape.n_targets, name="forecast")(inputs)
    return keras.Model(inputs, outputs, name="naive")
