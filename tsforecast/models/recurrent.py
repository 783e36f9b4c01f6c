"""Stacked recurrent families."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tsforecast.models.common import (
    dropout_option,
    head_option,
    kernel_regularizer,
    l1_option,
    l2_option,
)
from tsforecast.models.heads import vector_head
from tsforecast.schema import all_positive, non_empty, option, probability


@dataclass(frozen=True)
class RecurrentParams:
    """Stacked recurrent layers; every layer but the last returns sequences."""

    units: tuple[int, ...] = option(
        (32,), help="Units of each stacked layer.", check=lambda v: non_empty(v) or all_positive(v)
    )
    dropout: float = dropout_option()
    recurrent_dropout: float = option(0.0, help="Dropout on recurrent state.", check=probability)
    layer_norm: bool = option(False, help="LayerNormalization between stacked layers.")
    l1: float = l1_option()
    l2: float = l2_option()
    head: str = head_option()


def _stack(layer_cls: Any, params: RecurrentParams, shape: Any, name: str) -> Any:
    import keras

    regularizer = kernel_regularizer(params)
    inputs = keras.Input((shape.input_width, shape.n_inputs), name="window")
    x = inputs
    for i, units in enumerate(params.units):
        last = i == len(params.units) - 1
        # (batch, steps, features) -> (batch, steps, units), or (batch, units) for the last
        x = layer_cls(
            units,
            return_sequences=not last,
            dropout=params.dropout,
            recurrent_dropout=params.recurrent_dropout,
            kernel_regularizer=regularizer,
        )(x)
        if params.layer_norm and not last:
            x = keras.layers.LayerNormalization()(x)
    outputs = vector_head(x, shape, regularizer)
    return keras.Model(inputs, outputs, name=name)


def build_lstm(params: RecurrentParams, shape: Any) -> Any:
    import keras

    return _stack(keras.layers.LSTM, params, shape, "lstm")
