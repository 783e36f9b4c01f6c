"""Causal convolutional families: ``conv1d`` (optionally followed by recurrent layers) and
``wavenet`` (dilated causal convolutions with gated activations, residual and skip paths).

The geometry of a convolution stack (which input step each output step ends at, and how far
back it sees) is computed here in plain Python, so configs are checked and sequence targets
aligned without building a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tsforecast.errors import ConfigError
from tsforecast.models import covariates, heads
from tsforecast.models.common import (
    Activation,
    HeadParams,
    Initializer,
    RecurrentKind,
    dropout_option,
    kernel_regularizer,
    recurrent_stack,
    units_option,
)
from tsforecast.schema import all_positive, option, positive

STRICT_HELP = "Reject a receptive field wider than window.input_width instead of allowing it."


def _per_layer(help: str, default: int) -> Any:
    return option((default,), help=help, check=all_positive)


@dataclass(frozen=True)
class Conv1DParams(HeadParams):
    """Stacked causal Conv1D layers, optionally followed by recurrent layers."""

    filters: tuple[int, ...] = units_option((32,), "Filters of each stacked Conv1D layer.")
    kernel_size: tuple[int, ...] = _per_layer(
        "Kernel size: one value for every layer, or one per layer.", 3
    )
    strides: tuple[int, ...] = _per_layer(
        "Strides: one value for every layer, or one per layer; above 1 shortens the sequence.", 1
    )
    dilation_rate: tuple[int, ...] = _per_layer(
        "Dilation rate: one value for every layer, or one per layer.", 1
    )
    padding: Literal["causal", "valid"] = option(
        "causal",
        help="`causal` zero-pads the past so the length is kept (divided by the stride); "
        "`valid` drops steps without a full field. Both see no later step.",
    )
    activation: Activation = option("relu", help="Activation of the convolutions.")
    kernel_initializer: Initializer = option("he_normal", help="Initialiser of the convolutions.")
    dropout: float = dropout_option()
    recurrent: RecurrentKind | None = option(
        None,
        help="Recurrent layers reading the convolved sequence: `gru`, `lstm` or `simple_rnn` "
        "(the Conv1D + GRU pattern).",
    )
    recurrent_units: tuple[int, ...] = units_option(
        (32,), "Units of each recurrent layer after the convolutions."
    )
    strict_receptive_field: bool = option(False, help=STRICT_HELP)


@dataclass(frozen=True)
class WaveNetParams(HeadParams):
    """Blocks of dilated causal convolutions (rates 1, 2, 4, ...) with residual and skip paths."""

    filters: int = option(
        32, help="Channels of every dilated, residual and skip convolution.", check=positive
    )
    kernel_size: int = option(2, help="Kernel size of the dilated convolutions.", check=positive)
    n_layers: int = option(
        4,
        help="Dilated layers per block, with rates 1, 2, 4, ..., 2**(n_layers - 1).",
        check=positive,
    )
    n_blocks: int = option(1, help="How many times the block of layers repeats.", check=positive)
    gated: bool = option(
        True,
        help="Gated activation tanh(conv) * sigmoid(conv) as in WaveNet; false gives the plain "
        "variant, one convolution with `activation`.",
    )
    activation: Activation = option("relu", help="Activation of the plain variant.")
    kernel_initializer: Initializer = option(
        "glorot_uniform", help="Initialiser of the convolutions."
    )
    strict_receptive_field: bool = option(False, help=STRICT_HELP)


# ---------------------------------------------------------------------------------------------
# Geometry


@dataclass(frozen=True)
class ConvLayer:
    """One Conv1D layer of a stack, with the steps to crop in front of it.

    ``crop`` leading steps are dropped so that the layer's last output ends exactly on the
    last step of its input (a strided convolution would otherwise skip the newest steps).
    """

    filters: int
    kernel_size: int
    strides: int
    dilation_rate: int
    crop: int


@dataclass(frozen=True)
class ConvPlan:
    """A convolution stack laid over an input window.

    Attributes:
        layers: The layers, in order.
        steps: For every output step, the input step it ends at (the newest step it sees).
        receptive_field: Input steps from the first to the last one that reach an output step.
    """

    layers: tuple[ConvLayer, ...]
    steps: tuple[int, ...]
    receptive_field: int


def _expand(params: Conv1DParams, key: str) -> tuple[int, ...]:
    values, n = getattr(params, key), len(params.filters)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ConfigError(
            f"model.{key} must hold one value, or one per layer of model.filters ({n}); "
            f"got {len(values)}."
        )
    return values


def conv_plan(params: Conv1DParams, input_width: int) -> ConvPlan:
    """Lay the conv1d stack over ``input_width`` steps, or raise a ConfigError if it won't fit."""
    kernels, strides, rates = (
        _expand(params, k) for k in ("kernel_size", "strides", "dilation_rate")
    )
    steps = list(range(input_width))
    layers, field, jump = [], 1, 1
    for i, (filters, k, s, d) in enumerate(
        zip(params.filters, kernels, strides, rates, strict=True)
    ):
        if s > 1 and d > 1:
            raise ConfigError(
                f"model layer {i + 1}: Conv1D cannot combine strides > 1 with dilation_rate > 1 "
                f"(got strides {s}, dilation_rate {d})."
            )
        span = (k - 1) * d  # how many earlier steps one output reaches back
        skip = span if params.padding == "valid" else 0
        if len(steps) <= skip:
            raise ConfigError(
                f"window.input_width ({input_width}) is too short for the conv1d stack: "
                f"layer {i + 1} gets {len(steps)} steps but needs more than {skip}."
            )
        crop = (len(steps) - 1 - skip) % s
        steps = steps[crop + skip :: s]
        layers.append(ConvLayer(filters, k, s, d, crop))
        field += span * jump
        jump *= s
    return ConvPlan(tuple(layers), tuple(steps), field)


def wavenet_receptive_field(params: WaveNetParams) -> int:
    """Input steps one output sees: ``1 + n_blocks * (kernel_size - 1) * (2**n_layers - 1)``."""
    return 1 + params.n_blocks * (params.kernel_size - 1) * (2**params.n_layers - 1)


def conv1d_steps(params: Conv1DParams, input_width: int) -> tuple[int, ...]:
    return conv_plan(params, input_width).steps


def conv1d_receptive_field(params: Conv1DParams, input_width: int) -> int | None:
    """The stack's receptive field; None when recurrent layers read the whole sequence."""
    if params.recurrent is not None:
        return None
    return conv_plan(params, input_width).receptive_field


def wavenet_field(params: WaveNetParams, input_width: int) -> int:
    return wavenet_receptive_field(params)


def _check_field(field: int, window: Any, name: str) -> None:
    if field > window.input_width:
        raise ConfigError(
            f"model.strict_receptive_field: the {name} receptive field is {field} steps, wider "
            f"than window.input_width ({window.input_width}); use fewer or smaller layers, or a "
            "longer window."
        )


def check_conv1d(params: Conv1DParams, window: Any) -> None:
    plan = conv_plan(params, window.input_width)
    if params.strict_receptive_field and params.recurrent is None:
        _check_field(plan.receptive_field, window, "conv1d")


def check_wavenet(params: WaveNetParams, window: Any) -> None:
    if params.gated and params.activation != "relu":
        raise ConfigError(
            "model.activation applies to the plain variant (model.gated: false); the gated "
            "variant uses tanh(conv) * sigmoid(conv)."
        )
    if params.strict_receptive_field:
        _check_field(wavenet_receptive_field(params), window, "wavenet")


# ---------------------------------------------------------------------------------------------
# Builders


def build_conv1d(params: Conv1DParams, shape: Any) -> Any:
    import keras

    regularizer = kernel_regularizer(params)
    plan = conv_plan(params, shape.input_width)
    tensors = covariates.inputs(shape)
    x = tensors.encoder_input
    for i, layer in enumerate(plan.layers, start=1):
        if layer.crop:
            x = keras.layers.Cropping1D((layer.crop, 0), name=f"align_{i}")(x)
        # (batch, steps, channels) -> (batch, steps / strides, filters)
        x = keras.layers.Conv1D(
            layer.filters,
            layer.kernel_size,
            strides=layer.strides,
            padding=params.padding,
            dilation_rate=layer.dilation_rate,
            activation=params.activation,
            kernel_initializer=params.kernel_initializer,
            kernel_regularizer=regularizer,
            name=f"conv1d_{i}",
        )(x)
        if params.dropout > 0:
            x = keras.layers.Dropout(params.dropout, name=f"dropout_{i}")(x)
    name = "conv1d"
    if params.recurrent is not None:
        name = f"conv1d_{params.recurrent}"
        # (batch, steps, filters) -> (batch, steps, units) or (batch, units)
        x = recurrent_stack(
            x,
            params.recurrent,
            params.recurrent_units,
            return_sequences=params.head == "sequence",
            regularizer=regularizer,
        )
        if params.head != "sequence":
            x = covariates.joined(x, tensors.head_input)
            return keras.Model(
                tensors.inputs, heads.from_features(x, shape, params, regularizer), name=name
            )
    outputs = heads.from_sequence(x, shape, params, regularizer, tensors.head_input)
    return keras.Model(tensors.inputs, outputs, name=name)


def _dilated(
    params: WaveNetParams, filters: int, rate: int, activation: str | None, name: str, reg: Any
) -> Any:
    import keras

    return keras.layers.Conv1D(
        filters,
        params.kernel_size,
        padding="causal",
        dilation_rate=rate,
        activation=activation,
        kernel_initializer=params.kernel_initializer,
        kernel_regularizer=reg,
        name=name,
    )


def build_wavenet(params: WaveNetParams, shape: Any) -> Any:
    import keras

    from tsforecast.models.layers import GatedActivation

    regularizer = kernel_regularizer(params)
    n = params.filters
    tensors = covariates.inputs(shape)
    # (batch, input_width, n_columns) -> (batch, input_width, filters)
    x = keras.layers.Conv1D(n, 1, name="input_projection")(tensors.encoder_input)
    skips = []
    for block in range(1, params.n_blocks + 1):
        for layer in range(params.n_layers):
            rate = 2**layer
            last = block == params.n_blocks and layer == params.n_layers - 1
            tag = f"block{block}_rate{rate}"
            if params.gated:
                # one causal conv computes filter and gate: (batch, steps, filters) ->
                # (batch, steps, 2 * filters) -> tanh(filter) * sigmoid(gate): (..., filters)
                z = _dilated(params, 2 * n, rate, None, f"{tag}_filter_gate", regularizer)(x)
                z = GatedActivation(name=f"{tag}_gated")(z)
            else:
                z = _dilated(params, n, rate, params.activation, f"{tag}_conv", regularizer)(x)
            skips.append(keras.layers.Conv1D(n, 1, name=f"{tag}_skip")(z))
            if not last:  # the last layer's output leaves through its skip path only
                residual = keras.layers.Conv1D(n, 1, name=f"{tag}_residual")(z)
                x = keras.layers.Add(name=f"{tag}_add")([x, residual])
    s = keras.layers.Add(name="skip_sum")(skips) if len(skips) > 1 else skips[0]
    s = keras.layers.Activation("relu", name="skip_relu")(s)
    s = keras.layers.Conv1D(params.filters, 1, activation="relu", name="output_conv")(s)
    outputs = heads.from_sequence(s, shape, params, regularizer, tensors.head_input)
    return keras.Model(tensors.inputs, outputs, name="wavenet")
