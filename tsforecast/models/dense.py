"""Dense families on the flattened input window: ``linear`` and ``mlp``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tsforecast.models import covariates
from tsforecast.models.common import (
    Activation,
    HeadParams,
    Initializer,
    dropout_option,
    kernel_regularizer,
    units_option,
)
from tsforecast.models.heads import from_features
from tsforecast.schema import option


@dataclass(frozen=True)
class LinearParams(HeadParams):
    """``linear``: a single Dense layer, the classic linear autoregression."""

    kernel_initializer: Literal["glorot_uniform", "zeros"] = option(
        "glorot_uniform",
        help="Initialiser of the weights (vector head); `zeros` starts from forecasting the "
        "window's level: with `data.instance_norm`, its mean or last value.",
    )


@dataclass(frozen=True)
class MLPParams(HeadParams):
    """``mlp``: hidden Dense layers, then the head."""

    units: tuple[int, ...] = units_option((64,), "Width of each hidden layer.")
    activation: Activation = option("relu", help="Hidden activation.")
    kernel_initializer: Initializer = option("he_normal", help="Hidden weight initialiser.")
    dropout: float = dropout_option()
    batch_norm: bool = option(False, help="BatchNormalization after each hidden layer.")


def build_linear(params: LinearParams, shape: Any) -> Any:
    import keras

    tensors = covariates.inputs(shape)
    x = keras.layers.Flatten()(tensors.encoder_input)  # (batch, input_width * n_columns)
    x = covariates.joined(x, tensors.head_input)
    outputs = from_features(x, shape, params, kernel_regularizer(params), params.kernel_initializer)
    return keras.Model(tensors.inputs, outputs, name="linear")


def build_mlp(params: MLPParams, shape: Any) -> Any:
    import keras

    regularizer = kernel_regularizer(params)
    tensors = covariates.inputs(shape)
    x = keras.layers.Flatten()(tensors.encoder_input)  # (batch, input_width * n_columns)
    x = covariates.joined(x, tensors.head_input)
    for units in params.units:
        x = keras.layers.Dense(
            units,
            kernel_initializer=params.kernel_initializer,
            kernel_regularizer=regularizer,
        )(x)
        if params.batch_norm:
            x = keras.layers.BatchNormalization()(x)
        x = keras.layers.Activation(params.activation)(x)
        if params.dropout > 0:
            x = keras.layers.Dropout(params.dropout)(x)
    outputs = from_features(x, shape, params, regularizer)
    return keras.Model(tensors.inputs, outputs, name="mlp")
