"""An ensemble of models of one data preparation: one model forecasting their median."""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="tsforecast")
class MedianOf(keras.layers.Layer):
    """The median of several forecasts: ``[(batch, horizon, n_targets), ...] -> (batch,
    horizon, n_targets)`` (for two, their mean)."""

    def call(self, inputs):
        return keras.ops.median(keras.ops.stack(inputs, axis=0), axis=0)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def median_model(models: list[Any]) -> Any:
    """One model reading what ``models`` read and forecasting the median of theirs.

    Every model must take the same inputs (the same window and covariates).
    """
    first = models[0]
    if isinstance(first.input, dict):
        inputs: Any = {
            name: keras.Input(tensor.shape[1:], dtype=tensor.dtype, name=name)
            for name, tensor in first.input.items()
        }
    else:
        inputs = keras.Input(first.input.shape[1:], name="window")
    outputs = MedianOf(name="forecast")([model(inputs) for model in models])
    return keras.Model(inputs, outputs, name="median_ensemble")
