"""Custom Keras layers, registered so that ``.keras`` files load with ``safe_mode=True``."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="tsforecast")
class LastValue(keras.layers.Layer):
    """Repeats the last observed value of each target over the horizon.

    Targets are the first ``n_targets`` input channels.
    """

    def __init__(self, horizon: int, n_targets: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.horizon = horizon
        self.n_targets = n_targets

    def call(self, inputs):
        # (batch, input_width, n_inputs) -> (batch, 1, n_targets) -> (batch, horizon, n_targets)
        last = inputs[:, -1:, : self.n_targets]
        return keras.ops.repeat(last, self.horizon, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, self.n_targets)

    def get_config(self) -> dict:
        return {**super().get_config(), "horizon": self.horizon, "n_targets": self.n_targets}


@keras.saving.register_keras_serializable(package="tsforecast")
class SeasonalNaive(keras.layers.Layer):
    """Forecasts each future step with the value one season earlier.

    Step ``h`` (from 0) of the horizon takes input step
    ``input_width - season_length + h % season_length``: the last observed season repeats.
    Targets are the first ``n_targets`` input channels.
    """

    def __init__(self, horizon: int, n_targets: int, season_length: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.horizon = horizon
        self.n_targets = n_targets
        self.season_length = season_length

    def call(self, inputs):
        width = inputs.shape[1]
        index = [width - self.season_length + h % self.season_length for h in range(self.horizon)]
        # (batch, input_width, n_inputs) -> (batch, horizon, n_targets)
        return keras.ops.take(inputs[:, :, : self.n_targets], index, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, self.n_targets)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "horizon": self.horizon,
            "n_targets": self.n_targets,
            "season_length": self.season_length,
        }


@keras.saving.register_keras_serializable(package="tsforecast")
class OrderedQuantiles(keras.layers.Layer):
    """Turns unconstrained values into quantiles that never cross.

    The value at ``median_index`` is the median; each level above adds a positive gap
    (softplus) to the one below it, each level below subtracts one, so
    ``q[0] <= q[1] <= ... <= q[-1]`` always (gaps below float precision round to zero).
    Shapes: ``(..., n_levels) -> (..., n_levels)``.
    """

    def __init__(self, median_index: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.median_index = median_index

    def call(self, inputs):
        ops, m = keras.ops, self.median_index
        median = inputs[..., m : m + 1]
        above = ops.cumsum(ops.softplus(inputs[..., m + 1 :]), axis=-1)
        below = ops.flip(ops.cumsum(ops.softplus(ops.flip(inputs[..., :m], -1)), axis=-1), -1)
        return ops.concatenate([median - below, median, median + above], axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "median_index": self.median_index}


@keras.saving.register_keras_serializable(package="tsforecast")
class RollForward(keras.layers.Layer):
    """Rolls a one-step model forward ``horizon`` times, feeding each forecast back.

    Every step drops the oldest input step and appends the forecast, so the window moves on
    one step; a loop op runs the one-step model, so the graph holds it once, whatever the
    horizon. Inputs must be the targets only.
    Shapes: ``(batch, input_width, n_targets) -> (batch, horizon, n_targets)``, with
    ``one_step`` mapping ``(batch, input_width, n_targets) -> (batch, 1, n_targets)``.
    """

    def __init__(self, one_step: keras.Model, horizon: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.one_step = one_step
        self.horizon = horizon

    def build(self, input_shape):
        if not self.one_step.built:
            self.one_step.build(input_shape)

    def call(self, inputs):
        ops = keras.ops

        def advance(_, state):
            window, forecast = state
            step = self.one_step(window)  # (batch, 1, n_targets)
            # both move on one step: (batch, width, n_targets) -> same shape
            window = ops.concatenate([window[:, 1:], step], axis=1)
            forecast = ops.concatenate([forecast[:, 1:], step], axis=1)
            return window, forecast

        # After `horizon` steps the forecast buffer holds exactly the horizon's forecasts.
        empty = ops.repeat(ops.zeros_like(inputs[:, :1]), self.horizon, axis=1)
        _, forecast = ops.fori_loop(0, self.horizon, advance, (inputs, empty))
        return forecast

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.horizon, input_shape[2])

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "one_step": keras.saving.serialize_keras_object(self.one_step),
            "horizon": self.horizon,
        }

    @classmethod
    def from_config(cls, config: dict) -> RollForward:
        config = dict(config)
        config["one_step"] = keras.saving.deserialize_keras_object(config["one_step"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="tsforecast")
class GatedActivation(keras.layers.Layer):
    """WaveNet's gated activation ``tanh(filter) * sigmoid(gate)``.

    The filter and the gate are the first and second half of the channels, so one
    convolution with ``2 * filters`` outputs computes both.
    Shapes: ``(..., 2 * filters) -> (..., filters)``.
    """

    def call(self, inputs):
        filter_, gate = keras.ops.split(inputs, 2, axis=-1)
        return keras.ops.tanh(filter_) * keras.ops.sigmoid(gate)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] // 2)
