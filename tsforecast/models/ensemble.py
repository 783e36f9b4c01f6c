"""Ensembles saved as one model: members reading the last steps of one window, and their
forecasts combined by fixed weights.

A member trained on ``w`` input steps reads the last ``w`` steps of the ensemble's wider
window (:class:`LastSteps`), which are exactly the inputs it was trained on, padding
included; the members' forecasts are averaged with the weights the selection found
(:class:`WeightedMean`). Every member must forecast in the same scaled units, the ones the
run's scaler writes.
"""

from __future__ import annotations

from typing import Any

import keras


@keras.saving.register_keras_serializable(package="tsforecast")
class LastSteps(keras.layers.Layer):
    """The last ``steps`` steps of a window: ``(batch, width, n) -> (batch, steps, n)``."""

    def __init__(self, steps: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.steps = int(steps)

    def call(self, inputs):
        return inputs[:, -self.steps :]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.steps, *input_shape[2:])

    def get_config(self):
        return {**super().get_config(), "steps": self.steps}


@keras.saving.register_keras_serializable(package="tsforecast")
class WeightedMean(keras.layers.Layer):
    """The weighted mean of several forecasts of one shape (the weights sum to 1)."""

    def __init__(self, weights: list[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.member_weights = [float(w) for w in weights]

    def call(self, inputs):
        total = inputs[0] * self.member_weights[0]
        for tensor, weight in zip(inputs[1:], self.member_weights[1:], strict=True):
            total = total + tensor * weight
        return total

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "weights": self.member_weights}


@keras.saving.register_keras_serializable(package="tsforecast")
class MedianOf(keras.layers.Layer):
    """The median of several forecasts: ``[(batch, horizon, n_targets), ...] -> (batch,
    horizon, n_targets)`` (for two, their mean). Kept so that runs saved with it load."""

    def call(self, inputs):
        return keras.ops.median(keras.ops.stack(inputs, axis=0), axis=0)

    def compute_output_shape(self, input_shape):
        return input_shape[0]


def _inputs_like(models: list[Any], width: int) -> dict[str, Any]:
    """One input per name any member reads; the window ``width`` steps long."""
    inputs: dict[str, Any] = {}
    for model in models:
        named = model.input if isinstance(model.input, dict) else {"window": model.input}
        for name, tensor in named.items():
            if name in inputs:
                continue
            shape = tuple(tensor.shape[1:])
            if name == "window":
                shape = (width, *shape[1:])
            inputs[name] = keras.Input(shape, dtype=tensor.dtype, name=name)
    return inputs


def _member_output(model: Any, inputs: dict[str, Any], width: int, index: int) -> Any:
    window = inputs["window"]
    steps = int((model.input["window"] if isinstance(model.input, dict) else model.input).shape[1])
    if steps != width:
        window = LastSteps(steps, name=f"last_steps_{index}")(window)
    if not isinstance(model.input, dict):
        return model(window)
    return model({name: window if name == "window" else inputs[name] for name in model.input})


def weighted_model(models: list[Any], weights: list[float], width: int) -> Any:
    """One model reading ``width`` steps (and every covariate any member reads) and
    forecasting the weighted mean of the members' forecasts.

    Args:
        models: The members, each reading at most ``width`` steps.
        weights: One per member, summing to 1.
        width: Input steps of the ensemble's window.
    """
    inputs = _inputs_like(models, width)
    outputs = [_member_output(m, inputs, width, i) for i, m in enumerate(models)]
    if len(outputs) == 1:
        output = outputs[0]
    else:
        output = WeightedMean(list(weights), name="weighted_mean")(outputs)
    only_window = list(inputs) == ["window"]
    return keras.Model(inputs["window"] if only_window else inputs, output, name="ensemble")
