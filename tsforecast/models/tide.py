"""TiDE (Das et al. 2023): a dense encoder-decoder with a per-step temporal decoder: ``tide``.

Every block is a residual MLP (Dense-ReLU-Dense with dropout, plus a linear skip, then
layer normalisation). The covariates of every step are first projected to
``temporal_width`` features by such a block; the dense encoder reads the flattened
lookback of the targets, the flattened projected covariates and the static attributes; the
dense decoder emits ``decoder_output_dim`` features for every future step; the temporal
decoder maps each step's features, joined with that step's projected future covariates, to
the targets; and a linear map from the lookback to the horizon of each target (shared by
the targets) is added as a global residual.

Multivariate windows: the targets are encoded jointly (their lookbacks are flattened
together) and the temporal decoder emits every target at each step; the extra feature
columns of the window are past covariates, projected per step like future ones.

Unlike the reference code, the temporal decoder's output is not layer-normalised: a layer
norm over one output (or over the targets) would flatten the forecast to its bias
(google-research/google-research#2133).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tsforecast.models.common import dropout_option, head_option
from tsforecast.schema import option, positive


@dataclass(frozen=True)
class TiDEParams:
    """``tide``: residual-MLP encoder and decoder, per-step temporal decoder, linear residual."""

    units: int = option(
        64, help="Width of the encoder, the decoder and the covariate projection.", check=positive
    )
    n_encoder_layers: int = option(1, help="Residual blocks in the dense encoder.", check=positive)
    n_decoder_layers: int = option(1, help="Residual blocks in the dense decoder.", check=positive)
    decoder_output_dim: int = option(
        8, help="Features the dense decoder emits for every future step.", check=positive
    )
    temporal_decoder_units: int = option(
        32, help="Hidden width of the per-step temporal decoder.", check=positive
    )
    temporal_width: int = option(
        4, help="Features each step's covariates are projected to.", check=positive
    )
    dropout: float = dropout_option()
    layer_norm: bool = option(True, help="LayerNormalization at the end of each residual block.")
    head: str = head_option()


def residual_block(
    x: Any, units: int, output_dim: int, params: TiDEParams, tag: str, norm: bool = True
) -> Any:
    """TiDE's residual MLP on the last axis: ``(..., d) -> (..., output_dim)``.

    ``Dense(units, relu) -> Dense(output_dim) -> Dropout``, plus ``Dense(output_dim)`` of the
    input, then LayerNormalization when ``params.layer_norm`` and ``norm``.
    """
    import keras

    y = keras.layers.Dense(units, activation="relu", name=f"{tag}_hidden")(x)
    y = keras.layers.Dense(output_dim, name=f"{tag}_output")(y)
    y = keras.layers.Dropout(params.dropout, name=f"{tag}_dropout")(y)
    skip = keras.layers.Dense(output_dim, name=f"{tag}_skip")(x)
    y = keras.layers.Add(name=f"{tag}_add")([y, skip])
    if params.layer_norm and norm:
        y = keras.layers.LayerNormalization(name=f"{tag}_norm")(y)
    return y


def tide_core(
    past: Any, params: TiDEParams, shape: Any, future: Any = None, static: Any = None
) -> Any:
    """The TiDE graph on symbolic inputs; the forecast layer is named ``forecast``.

    Args:
        past: ``(batch, input_width, n_inputs)``, targets first; the other columns are past
            covariates.
        params: The family's parameters.
        shape: The data's ``ModelShape``.
        future: Covariates known over the lookback and the horizon,
            ``(batch, input_width + horizon, n_future)``.
        static: Attributes of each series, ``(batch, n_static)``.

    Returns:
        ``(batch, horizon, n_targets)``.
    """
    import keras

    from tsforecast.models import blocks

    width, horizon, n_targets = shape.input_width, shape.horizon, shape.n_targets
    targets = blocks.ColumnSlice(0, n_targets, name="targets")(past)  # (batch, width, n_t)

    # global residual: (batch, width, n_targets) -> (batch, n_targets, width) -> horizon
    skip = keras.layers.Permute((2, 1), name="lookback_by_target")(targets)
    skip = keras.layers.Dense(horizon, name="linear_residual")(skip)
    skip = keras.layers.Permute((2, 1), name="linear_forecast")(skip)  # (batch, horizon, n_t)

    encoder_inputs = [keras.layers.Flatten(name="lookback")(targets)]  # (batch, width * n_t)
    if shape.n_inputs > n_targets:
        covariates = blocks.ColumnSlice(n_targets, None, name="past_covariates")(past)
        # (batch, width, n_extra) -> (batch, width, temporal_width) -> flattened
        covariates = residual_block(
            covariates, params.units, params.temporal_width, params, "past_projection"
        )
        encoder_inputs.append(keras.layers.Flatten(name="past_projected")(covariates))
    future_steps = None
    if future is not None:
        # (batch, width + horizon, n_future) -> (batch, width + horizon, temporal_width)
        projected = residual_block(
            future, params.units, params.temporal_width, params, "future_projection"
        )
        encoder_inputs.append(keras.layers.Flatten(name="future_projected")(projected))
        # the horizon part: (batch, horizon, temporal_width)
        future_steps = keras.layers.Cropping1D((width, 0), name="horizon_covariates")(projected)
    if static is not None:
        encoder_inputs.append(static)  # (batch, n_static)
    x = encoder_inputs[0]
    if len(encoder_inputs) > 1:
        x = keras.layers.Concatenate(name="encoder_input")(encoder_inputs)

    for i in range(1, params.n_encoder_layers + 1):
        x = residual_block(x, params.units, params.units, params, f"encoder_{i}")
    for i in range(1, params.n_decoder_layers + 1):
        last = i == params.n_decoder_layers
        size = params.decoder_output_dim * horizon if last else params.units
        x = residual_block(x, params.units, size, params, f"decoder_{i}")
    # (batch, horizon * decoder_output_dim) -> (batch, horizon, decoder_output_dim)
    x = keras.layers.Reshape((horizon, params.decoder_output_dim), name="decoded_steps")(x)
    if future_steps is not None:
        x = keras.layers.Concatenate(name="decoded_with_covariates")([x, future_steps])
    # per step: (batch, horizon, d) -> (batch, horizon, n_targets)
    x = residual_block(
        x, params.temporal_decoder_units, n_targets, params, "temporal_decoder", norm=False
    )
    return keras.layers.Add(name="forecast")([x, skip])


def build_tide(params: TiDEParams, shape: Any) -> Any:
    """TiDE: ``(batch, input_width, n_inputs) -> (batch, horizon, n_targets)``, reading the
    known-future and static covariates of ``shape`` too."""
    import keras

    from tsforecast.models import covariates

    t = covariates.inputs(shape)
    outputs = tide_core(t.window, params, shape, future=t.future, static=t.static)
    return keras.Model(t.inputs, outputs, name="tide")
