"""Output heads: how a model's features become a (horizon, n_targets) forecast."""

from __future__ import annotations

from typing import Any


def vector_head(features: Any, shape: Any, regularizer: Any = None) -> Any:
    """Seq-to-vector head: one Dense emitting every future step of every target.

    Shapes: ``(batch, units) -> (batch, horizon, n_targets)``.
    """
    import keras

    x = keras.layers.Dense(
        shape.horizon * shape.n_targets, kernel_regularizer=regularizer, name="head_dense"
    )(features)
    return keras.layers.Reshape((shape.horizon, shape.n_targets), name="forecast")(x)
