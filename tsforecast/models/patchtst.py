"""PatchTST (Nie et al. 2023): a Transformer encoder over patches of each series: ``patchtst``.

Channel independence: every target column is its own univariate series, and all series go
through the same weights. Each window is standardised per series (RevIN), cut into patches
of ``patch_len`` steps ``stride`` apart (the end padded by repeating the last value), each
patch embedded linearly with a learned position embedding, encoded by Transformer layers,
and the flattened encoding mapped to the horizon by one Dense layer (the flatten head).

Only the target columns are read: with channel-independent series, an extra feature column
would be a series of its own whose forecast is discarded (the paper's ``MS`` setting), so it
cannot change a target's forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tsforecast.errors import ConfigError
from tsforecast.models.common import dropout_option, head_option
from tsforecast.schema import option, positive, probability


@dataclass(frozen=True)
class PatchTSTParams:
    """``patchtst``: channel-independent Transformer encoder over patches of each series."""

    patch_len: int = option(8, help="Steps in one patch.", check=positive)
    stride: int = option(4, help="Steps between the starts of consecutive patches.", check=positive)
    pad_end: bool = option(
        True, help="Repeat the last value `stride` times before patching, as the paper does."
    )
    d_model: int = option(32, help="Width of the patch embeddings and encoder.", check=positive)
    n_heads: int = option(4, help="Attention heads; must divide d_model.", check=positive)
    d_ff: int = option(
        64, help="Hidden width of each encoder layer's feed-forward part.", check=positive
    )
    n_layers: int = option(2, help="Transformer encoder layers.", check=positive)
    dropout: float = dropout_option()
    attention_dropout: float = option(
        0.0, help="Dropout on the attention weights.", check=probability
    )
    head_dropout: float = option(
        0.0, help="Dropout on the flattened encoding before the head.", check=probability
    )
    norm: Literal["batch", "layer"] = option(
        "batch", help="Normalisation in the encoder layers: `batch` (the paper's) or `layer`."
    )
    revin: bool = option(True, help="Standardise each window per series (RevIN) and undo it.")
    revin_affine: bool = option(True, help="Learn RevIN's per-series scale and shift.")
    head: str = head_option()


def check_patchtst(params: PatchTSTParams, window: Any) -> None:
    """Heads must divide the width; a window must hold at least one patch."""
    if params.d_model % params.n_heads:
        raise ConfigError(
            f"model.n_heads ({params.n_heads}) must divide model.d_model ({params.d_model})."
        )
    padded = window.input_width + (params.stride if params.pad_end else 0)
    if params.patch_len > padded:
        raise ConfigError(
            f"model.patch_len ({params.patch_len}) is longer than the (padded) input window "
            f"({padded} steps)."
        )


def _norm(params: PatchTSTParams, name: str) -> Any:
    import keras

    if params.norm == "batch":
        # over the d_model channels, statistics across series and patches: BatchNorm1d's
        return keras.layers.BatchNormalization(name=name)
    return keras.layers.LayerNormalization(name=name)


def _encoder_layer(x: Any, params: PatchTSTParams, i: int) -> Any:
    """Post-norm Transformer encoder layer: ``(series, n_patches, d_model)`` kept."""
    import keras

    tag = f"encoder_{i}"
    attention = keras.layers.MultiHeadAttention(
        params.n_heads,
        params.d_model // params.n_heads,
        dropout=params.attention_dropout,
        name=f"{tag}_attention",
    )(x, x)
    attention = keras.layers.Dropout(params.dropout, name=f"{tag}_attention_dropout")(attention)
    x = keras.layers.Add(name=f"{tag}_attention_add")([x, attention])
    x = _norm(params, f"{tag}_attention_norm")(x)
    # (series, n_patches, d_model) -> (..., d_ff) -> (..., d_model)
    y = keras.layers.Dense(params.d_ff, activation="gelu", name=f"{tag}_ff_1")(x)
    y = keras.layers.Dropout(params.dropout, name=f"{tag}_ff_dropout_1")(y)
    y = keras.layers.Dense(params.d_model, name=f"{tag}_ff_2")(y)
    y = keras.layers.Dropout(params.dropout, name=f"{tag}_ff_dropout_2")(y)
    x = keras.layers.Add(name=f"{tag}_ff_add")([x, y])
    return _norm(params, f"{tag}_ff_norm")(x)


def build_patchtst(params: PatchTSTParams, shape: Any) -> Any:
    """PatchTST: ``(batch, input_width, n_inputs) -> (batch, horizon, n_targets)``."""
    import keras

    from tsforecast.models import blocks, layers

    check_patchtst(params, shape)
    inputs = keras.Input((shape.input_width, shape.n_inputs), name="window")
    # (batch, input_width, n_inputs) -> (batch, input_width, n_targets)
    x = blocks.ColumnSlice(0, shape.n_targets, name="targets")(inputs)
    if params.revin:
        x, statistics = blocks.ReversibleInstanceNorm(params.revin_affine, name="revin")(x)
    # (batch, input_width, n_targets) -> (batch * n_targets, input_width, 1)
    x = layers.ChannelsToSeries(name="channels_to_series")(x)
    # -> (batch * n_targets, n_patches, patch_len) -> (batch * n_targets, n_patches, d_model)
    x = blocks.Patching(params.patch_len, params.stride, params.pad_end, name="patching")(x)
    x = keras.layers.Dense(params.d_model, name="patch_embedding")(x)
    x = blocks.PositionalEmbedding(name="position_embedding")(x)
    x = keras.layers.Dropout(params.dropout, name="embedding_dropout")(x)
    for i in range(1, params.n_layers + 1):
        x = _encoder_layer(x, params, i)
    # flatten head: (batch * n_targets, n_patches * d_model) -> (batch * n_targets, horizon, 1)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(params.head_dropout, name="head_dropout")(x)
    x = keras.layers.Dense(shape.horizon, name="head_dense")(x)
    x = keras.layers.Reshape((shape.horizon, 1), name="head_steps")(x)
    if not params.revin:
        outputs = layers.SeriesToChannels(shape.n_targets, name="forecast")(x)
        return keras.Model(inputs, outputs, name="patchtst")
    # (batch * n_targets, horizon, 1) -> (batch, horizon, n_targets), then de-normalised
    x = layers.SeriesToChannels(shape.n_targets, name="series_to_channels")(x)
    outputs = layers.InstanceDenormalization(shape.n_targets, name="forecast")([x, statistics])
    return keras.Model(inputs, outputs, name="patchtst")
