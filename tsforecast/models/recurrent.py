"""Stacked recurrent families: ``simple_rnn``, ``gru`` and ``lstm``.

They share one builder; the family name picks the Keras layer. With
``encoder_decoder: true`` the stack is an encoder whose final states start a decoder of the
same shape that unrolls ``horizon`` steps (the seq-to-seq translation architecture).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tsforecast.errors import ConfigError
from tsforecast.models import covariates, heads
from tsforecast.models.common import (
    Activation,
    HeadParams,
    Initializer,
    dropout_option,
    kernel_regularizer,
    recurrent_layer,
    recurrent_stack,
    units_option,
)
from tsforecast.schema import option, probability


@dataclass(frozen=True)
class RecurrentParams(HeadParams):
    """Stacked recurrent layers; every layer but the last returns sequences."""

    units: tuple[int, ...] = units_option((32,), "Units of each stacked layer.")
    activation: Activation = option("tanh", help="Activation of the recurrent layers.")
    kernel_initializer: Initializer = option(
        "glorot_uniform", help="Initialiser of the input kernels."
    )
    dropout: float = dropout_option()
    recurrent_dropout: float = option(0.0, help="Dropout on recurrent state.", check=probability)
    layer_norm: bool = option(False, help="LayerNormalization between stacked layers.")
    encoder_decoder: bool = option(
        False,
        help="Encoder-decoder: the stack's final states start a decoder that unrolls "
        "`horizon` steps (heads vector, quantile and distribution).",
    )


def check_recurrent(params: RecurrentParams, window: Any) -> None:
    """The encoder-decoder emits ``horizon`` steps itself, so it takes only per-step heads."""
    if params.encoder_decoder and params.head not in ("vector", "quantile", "distribution"):
        raise ConfigError(
            f"model.encoder_decoder decodes window.horizon steps itself; it works with "
            f"model.head vector, quantile or distribution, not {params.head}."
        )


def _encoder_decoder(tensors: Any, kind: str, params: RecurrentParams, shape: Any) -> Any:
    import keras

    layer_cls = recurrent_layer(kind)
    common = {
        "activation": params.activation,
        "kernel_initializer": params.kernel_initializer,
        "dropout": params.dropout,
        "recurrent_dropout": params.recurrent_dropout,
        "kernel_regularizer": kernel_regularizer(params),
    }
    x, states = tensors.encoder_input, []
    for i, units in enumerate(params.units):
        last = i == len(params.units) - 1
        # (batch, steps, features) -> (batch, steps, units), or (batch, units) for the last;
        # plus the final state(s): [h] (and [h, c] for LSTM) of shape (batch, units)
        x, *state = layer_cls(
            units,
            return_sequences=not last,
            return_state=True,
            name=f"encoder_{kind}_{i + 1}",
            **common,
        )(x)
        states.append(state)
        if params.layer_norm and not last:
            x = keras.layers.LayerNormalization(name=f"encoder_layer_norm_{i + 1}")(x)
    # The encoder's summary (with the statics), repeated as the decoder's input at every
    # future step, beside that step's known-future covariates:
    # (batch, units) -> (batch, horizon, units [+ n_static] [+ n_future])
    if tensors.static is not None:
        x = keras.layers.Concatenate(name="summary_and_statics")([x, tensors.static])
    y = keras.layers.RepeatVector(shape.horizon, name="repeat_summary")(x)
    if tensors.ahead is not None:
        y = keras.layers.Concatenate(name="decoder_input")([y, tensors.ahead])
    for i, units in enumerate(params.units):
        y = layer_cls(units, return_sequences=True, name=f"decoder_{kind}_{i + 1}", **common)(
            y, initial_state=states[i]
        )
        if params.layer_norm and i < len(params.units) - 1:
            y = keras.layers.LayerNormalization(name=f"decoder_layer_norm_{i + 1}")(y)
    return y  # (batch, horizon, units[-1])


def _build(kind: str, params: RecurrentParams, shape: Any) -> Any:
    import keras

    regularizer = kernel_regularizer(params)
    tensors = covariates.inputs(shape)
    if params.encoder_decoder:
        decoded = _encoder_decoder(tensors, kind, params, shape)
        outputs = heads.from_decoder(decoded, shape, params, regularizer)
        return keras.Model(tensors.inputs, outputs, name=f"{kind}_encoder_decoder")
    sequence = params.head == "sequence"
    x = recurrent_stack(
        tensors.encoder_input,
        kind,
        params.units,
        return_sequences=sequence,
        dropout=params.dropout,
        recurrent_dropout=params.recurrent_dropout,
        layer_norm=params.layer_norm,
        activation=params.activation,
        kernel_initializer=params.kernel_initializer,
        regularizer=regularizer,
    )
    if sequence:
        outputs = heads.sequence_head(x, shape, regularizer)
    else:
        x = covariates.joined(x, tensors.head_input)
        outputs = heads.from_features(x, shape, params, regularizer)
    return keras.Model(tensors.inputs, outputs, name=kind)


def build_simple_rnn(params: RecurrentParams, shape: Any) -> Any:
    return _build("simple_rnn", params, shape)


def build_gru(params: RecurrentParams, shape: Any) -> Any:
    return _build("gru", params, shape)


def build_lstm(params: RecurrentParams, shape: Any) -> Any:
    return _build("lstm", params, shape)
