"""TSMixer (Chen et al. 2023): MLPs that mix along time and along features: ``tsmixer``.

Each window is standardised per column (reversible instance normalisation), then
``n_blocks`` residual mixer blocks alternate a time-mixing MLP (one Dense along the time
axis, shared by every column) and a feature-mixing MLP (two Dense layers along the columns,
shared by every step), each after a batch or layer normalisation over time and columns. A
Dense along time then projects the target columns from ``input_width`` to ``horizon`` steps
and the normalisation is undone.

:func:`tsmixer_core` also takes known future covariates and static attributes, the
auxiliary inputs of TSMixer-Ext; see its docstring. :func:`build_tsmixer` builds the plain
model on the input window alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tsforecast.models.common import Activation, dropout_option, head_option
from tsforecast.schema import option, positive


@dataclass(frozen=True)
class TSMixerParams:
    """``tsmixer``: residual time-mixing and feature-mixing MLP blocks, then a projection."""

    n_blocks: int = option(
        2, help="Mixer blocks (time mixing then feature mixing).", check=positive
    )
    ff_dim: int = option(
        32,
        help="Hidden width of the feature-mixing MLPs (and, with covariates, of the mixed "
        "features).",
        check=positive,
    )
    activation: Activation = option("relu", help="Activation of the mixing MLPs.")
    dropout: float = dropout_option()
    norm: Literal["batch", "layer"] = option(
        "batch", help="Normalisation over time and columns before each mixing MLP."
    )
    revin: bool = option(True, help="Standardise each window per column (RevIN) and undo it.")
    revin_affine: bool = option(True, help="Learn RevIN's per-column scale and shift.")
    head: str = head_option()


# ---------------------------------------------------------------------------------------------
# Mixing layers, composed from Keras layers


def _norm(x: Any, params: TSMixerParams, name: str) -> Any:
    """Normalisation over the time and column axes together: ``(b, T, C)`` kept."""
    import keras

    if params.norm == "layer":
        return keras.layers.LayerNormalization(axis=(-2, -1), name=name)(x)
    # Batch statistics of every (step, column) entry: BatchNormalization on the flattened
    # window, as Keras' BatchNormalization takes one axis only.
    steps, columns = x.shape[1], x.shape[2]
    y = keras.layers.Flatten(name=f"{name}_flatten")(x)
    y = keras.layers.BatchNormalization(name=name)(y)
    return keras.layers.Reshape((steps, columns), name=f"{name}_restore")(y)


def time_mixing(x: Any, params: TSMixerParams, tag: str) -> Any:
    """Residual MLP along time, shared by all columns: ``(b, T, C)`` kept."""
    import keras

    steps = x.shape[1]
    y = _norm(x, params, f"{tag}_time_norm")
    y = keras.layers.Permute((2, 1), name=f"{tag}_to_columns")(y)  # (b, C, T)
    y = keras.layers.Dense(steps, activation=params.activation, name=f"{tag}_time_dense")(y)
    y = keras.layers.Permute((2, 1), name=f"{tag}_to_steps")(y)  # (b, T, C)
    y = keras.layers.Dropout(params.dropout, name=f"{tag}_time_dropout")(y)
    return keras.layers.Add(name=f"{tag}_time_add")([x, y])


def feature_mixing(x: Any, params: TSMixerParams, units: int, tag: str) -> Any:
    """Residual two-layer MLP along the columns, shared by all steps.

    The residual is projected by a Dense layer when ``units`` differs from the input width.
    Shapes: ``(b, T, C) -> (b, T, units)``.
    """
    import keras

    y = _norm(x, params, f"{tag}_feature_norm")
    y = keras.layers.Dense(params.ff_dim, activation=params.activation, name=f"{tag}_feature_1")(y)
    y = keras.layers.Dropout(params.dropout, name=f"{tag}_feature_dropout_1")(y)
    y = keras.layers.Dense(units, name=f"{tag}_feature_2")(y)
    y = keras.layers.Dropout(params.dropout, name=f"{tag}_feature_dropout_2")(y)
    if x.shape[-1] != units:
        x = keras.layers.Dense(units, name=f"{tag}_feature_residual")(x)
    return keras.layers.Add(name=f"{tag}_feature_add")([x, y])


def temporal_projection(x: Any, steps: int, name: str) -> Any:
    """One Dense along time, shared by all columns: ``(b, T, C) -> (b, steps, C)``."""
    import keras

    y = keras.layers.Permute((2, 1), name=f"{name}_to_columns")(x)  # (b, C, T)
    y = keras.layers.Dense(steps, name=name)(y)  # (b, C, steps)
    return keras.layers.Permute((2, 1), name=f"{name}_to_steps")(y)  # (b, steps, C)


# ---------------------------------------------------------------------------------------------
# Builders


def tsmixer_core(
    past: Any, params: TSMixerParams, shape: Any, future: Any = None, static: Any = None
) -> Any:
    """The TSMixer graph on symbolic inputs; the forecast layer is named ``forecast``.

    Without covariates this is TSMixer: mixer blocks over the input window, then the
    temporal projection of the target columns. With ``future`` or ``static`` it is
    TSMixer-Ext: the whole window is first projected to the horizon and mixed to ``ff_dim``
    features; the future covariates, mixed to ``ff_dim`` features too, are concatenated at
    every future step; every block then mixes along the horizon, and the statics, broadcast
    over the horizon and mixed to ``ff_dim`` features, are concatenated before each feature
    mixing (conditional feature mixing). A Dense layer maps each step to the targets.
    Only ``past`` is instance-normalised.

    Args:
        past: ``(batch, input_width, n_inputs)``, targets first.
        params: The family's parameters.
        shape: The data's ``ModelShape``.
        future: Known covariates of the forecast steps, ``(batch, horizon, n_future)``.
        static: Attributes of each series, ``(batch, n_static)``.

    Returns:
        ``(batch, horizon, n_targets)``.
    """
    import keras

    from tsforecast.models import blocks, layers

    x = past
    if params.revin:
        x, statistics = blocks.ReversibleInstanceNorm(params.revin_affine, name="revin")(x)

    if future is None and static is None:
        for i in range(1, params.n_blocks + 1):
            x = time_mixing(x, params, f"block{i}")
            x = feature_mixing(x, params, shape.n_inputs, f"block{i}")
        # (batch, input_width, n_inputs) -> (batch, input_width, n_targets) -> horizon steps
        x = blocks.ColumnSlice(0, shape.n_targets, name="targets")(x)
        x = temporal_projection(x, shape.horizon, "temporal_projection")
    else:
        # align: (batch, input_width, n_inputs) -> (batch, horizon, n_inputs) -> ff_dim
        x = temporal_projection(x, shape.horizon, "temporal_projection")
        x = feature_mixing(x, params, params.ff_dim, "past")
        if future is not None:
            # (batch, horizon, n_future) -> (batch, horizon, ff_dim), joined per step
            z = feature_mixing(future, params, params.ff_dim, "future")
            x = keras.layers.Concatenate(name="past_and_future")([x, z])
        if static is not None:
            # (batch, n_static) -> (batch, horizon, n_static)
            static = keras.layers.RepeatVector(shape.horizon, name="static_over_time")(static)
        for i in range(1, params.n_blocks + 1):
            tag = f"block{i}"
            x = time_mixing(x, params, tag)
            if static is not None:
                s = feature_mixing(static, params, params.ff_dim, f"{tag}_static")
                x = keras.layers.Concatenate(name=f"{tag}_with_static")([x, s])
            x = feature_mixing(x, params, params.ff_dim, tag)  # (batch, horizon, ff_dim)
        x = keras.layers.Dense(shape.n_targets, name="head_dense")(x)  # (batch, horizon, n_targets)

    if params.revin:
        return layers.InstanceDenormalization(shape.n_targets, name="forecast")([x, statistics])
    return keras.layers.Identity(name="forecast")(x)


def build_tsmixer(params: TSMixerParams, shape: Any) -> Any:
    """TSMixer: ``(batch, input_width, n_inputs) -> (batch, horizon, n_targets)``; with the
    known-future or static covariates of ``shape``, the extended TSMixer."""
    import keras

    from tsforecast.models import covariates

    t = covariates.inputs(shape)
    outputs = tsmixer_core(t.window, params, shape, future=t.ahead, static=t.static)
    return keras.Model(t.inputs, outputs, name="tsmixer")
