"""Custom Keras layers, registered so that ``.keras`` files load with ``safe_mode=True``."""

from __future__ import annotations

import keras

from tsforecast.models.common import seasonal_lags


def window_statistics(inputs, mode: str, epsilon: float):
    """Each window's own statistics per column, ``(location, scale)``, for instance
    normalisation: ``last`` is the last value and a scale of 1, ``mean`` the mean and a
    scale of 1, ``standard`` the mean and ``sqrt(variance + epsilon)``.

    Shapes: ``(batch, steps, columns) -> (batch, 1, columns), (batch, 1, columns)``.
    """
    ops = keras.ops
    location = inputs[:, -1:, :] if mode == "last" else ops.mean(inputs, axis=1, keepdims=True)
    if mode == "standard":
        scale = ops.sqrt(ops.var(inputs, axis=1, keepdims=True) + epsilon)
    else:
        scale = ops.ones_like(location)
    return location, scale


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
        index = inputs.shape[1] - seasonal_lags(self.horizon, self.season_length)
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
class InstanceNormalization(keras.layers.Layer):
    """Normalises each window per column by its own statistics (NLinear / RevIN style).

    Modes: ``last`` subtracts the window's last value, ``mean`` its mean, ``standard``
    subtracts the mean and divides by the standard deviation (RevIN without the learned
    affine map); see :func:`window_statistics`. Returns the normalised window and the
    statistics ``(location, scale)`` stacked on the time axis, which
    :class:`InstanceDenormalization` applies in reverse.
    """

    MODES = ("last", "mean", "standard")

    def __init__(self, mode: str = "last", epsilon: float = 1e-5, **kwargs: object) -> None:
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {self.MODES}; got {mode!r}")
        self.mode = mode
        self.epsilon = epsilon

    def call(self, inputs):
        # (batch, steps, columns) -> (batch, 1, columns) each
        location, scale = window_statistics(inputs, self.mode, self.epsilon)
        normalised = (inputs - location) / scale
        # -> (batch, 2, columns): location, then scale
        return normalised, keras.ops.concatenate([location, scale], axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape, (input_shape[0], 2, input_shape[2])

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="tsforecast")
class InstanceDenormalization(keras.layers.Layer):
    """Maps a forecast back with the statistics of :class:`InstanceNormalization`.

    Only the first ``n_targets`` columns' statistics are used: the targets.
    """

    def __init__(self, n_targets: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.n_targets = n_targets

    def call(self, inputs):
        forecast, statistics = inputs
        location = statistics[:, :1, : self.n_targets]
        scale = statistics[:, 1:, : self.n_targets]
        # (batch, horizon, n_targets) * (batch, 1, n_targets) + (batch, 1, n_targets)
        return forecast * scale + location

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "n_targets": self.n_targets}


@keras.saving.register_keras_serializable(package="tsforecast")
class ChannelsToSeries(keras.layers.Layer):
    """Makes every column its own univariate series: ``(b, steps, c) -> (b * c, steps, 1)``."""

    def call(self, inputs):
        steps = inputs.shape[1]
        # (batch, steps, columns) -> (batch, columns, steps) -> (batch * columns, steps, 1)
        return keras.ops.reshape(keras.ops.transpose(inputs, (0, 2, 1)), (-1, steps, 1))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] * input_shape[2]
        return (batch, input_shape[1], 1)


@keras.saving.register_keras_serializable(package="tsforecast")
class SeriesToChannels(keras.layers.Layer):
    """Inverse of :class:`ChannelsToSeries`: ``(b * c, steps, 1) -> (b, steps, c)``."""

    def __init__(self, n_columns: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.n_columns = n_columns

    def call(self, inputs):
        steps = inputs.shape[1]
        # (batch * columns, steps, 1) -> (batch, columns, steps) -> (batch, steps, columns)
        grouped = keras.ops.reshape(inputs, (-1, self.n_columns, steps))
        return keras.ops.transpose(grouped, (0, 2, 1))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] // self.n_columns
        return (batch, input_shape[1], self.n_columns)

    def get_config(self) -> dict:
        return {**super().get_config(), "n_columns": self.n_columns}


@keras.saving.register_keras_serializable(package="tsforecast")
class Difference(keras.layers.Layer):
    """Lag-``lag`` differences along time: ``(b, steps, c) -> (b, steps - lag, c)``."""

    def __init__(self, lag: int = 1, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.lag = lag

    def call(self, inputs):
        return inputs[:, self.lag :, :] - inputs[:, : -self.lag, :]

    def compute_output_shape(self, input_shape):
        steps = None if input_shape[1] is None else input_shape[1] - self.lag
        return (input_shape[0], steps, input_shape[2])

    def get_config(self) -> dict:
        return {**super().get_config(), "lag": self.lag}


@keras.saving.register_keras_serializable(package="tsforecast")
class Integrate(keras.layers.Layer):
    """Inverse of :class:`Difference` for a forecast of lag-``lag`` differences.

    Step ``h`` of the forecast is ``level[h - lag] + diff[h]``, where levels before the
    horizon are the last ``lag`` observed input values of each target. Steps ``h``,
    ``h + lag``, ``h + 2 lag``, ... therefore accumulate one cumulative sum.
    """

    def __init__(self, lag: int, n_targets: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.lag = lag
        self.n_targets = n_targets

    def call(self, inputs):
        differences, window = inputs
        horizon = differences.shape[1]
        lag, n_targets = self.lag, self.n_targets
        seasons = -(-horizon // lag)
        # (batch, horizon, n_targets) -> (batch, seasons * lag, n_targets), zero padded
        padded = keras.ops.pad(differences, ((0, 0), (0, seasons * lag - horizon), (0, 0)))
        # -> (batch, seasons, lag, n_targets); each step sums over earlier seasons
        cumulative = keras.ops.cumsum(keras.ops.reshape(padded, (-1, seasons, lag, n_targets)), 1)
        # (batch, input_width, n_inputs) -> (batch, 1, lag, n_targets): the last observed season
        last = window[:, -lag:, :n_targets][:, None, :, :]
        levels = keras.ops.reshape(cumulative + last, (-1, seasons * lag, n_targets))
        return levels[:, :horizon, :]

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "lag": self.lag, "n_targets": self.n_targets}


@keras.saving.register_keras_serializable(package="tsforecast")
class RollForward(keras.layers.Layer):
    """Rolls a one-step model forward ``horizon`` times, feeding each forecast back.

    Every step drops the oldest input step and appends the forecast, so the window moves on
    one step; a loop op runs the one-step model, so the graph holds it once, whatever the
    horizon. The window must be the targets only. With covariates the inputs are a dict
    (see :mod:`tsforecast.models.covariates`): each step hands the one-step model its own
    ``input_width + 1`` rows of the future covariates, and the statics unchanged.
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
        named = dict(inputs) if isinstance(inputs, dict) else {"window": inputs}
        window = named.pop("window")
        future = named.pop("future", None)
        width = window.shape[1]

        def advance(h, state):
            window, forecast = state
            step_inputs = {"window": window, **named}
            if future is not None:
                # rows h .. h + width of the future covariates: this step's window and step
                step_inputs["future"] = ops.take(future, h + ops.arange(width + 1), axis=1)
            step = self.one_step(step_inputs if len(step_inputs) > 1 else window)
            # both move on one step: (batch, width, n_targets) -> same shape
            window = ops.concatenate([window[:, 1:], step], axis=1)
            forecast = ops.concatenate([forecast[:, 1:], step], axis=1)
            return window, forecast

        # After `horizon` steps the forecast buffer holds exactly the horizon's forecasts.
        empty = ops.repeat(ops.zeros_like(window[:, :1]), self.horizon, axis=1)
        _, forecast = ops.fori_loop(0, self.horizon, advance, (window, empty))
        return forecast

    def compute_output_shape(self, input_shape):
        window = input_shape["window"] if isinstance(input_shape, dict) else input_shape
        return (window[0], self.horizon, window[2])

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


@keras.saving.register_keras_serializable(package="tsforecast")
class CategoryEmbedding(keras.layers.Embedding):
    """An embedding of a categorical column that keeps the column's vocabulary.

    Its input is the index of each name in ``vocabulary`` counted from 1 (0: a name the
    vocabulary does not hold), as :func:`tsforecast.models.covariates.encode_categories`
    computes it outside the model; the vocabulary rides along in the layer's config, so
    that a saved model says which names its rows stand for.
    Shapes: ``(batch, 1) int -> (batch, 1, output_dim)``.
    """

    def __init__(self, vocabulary: list[str], output_dim: int, **kwargs: object) -> None:
        kwargs.pop("input_dim", None)
        super().__init__(len(vocabulary) + 1, output_dim, **kwargs)
        self.vocabulary = list(vocabulary)

    def get_config(self) -> dict:
        config = super().get_config()
        config.pop("input_dim", None)
        return {**config, "vocabulary": self.vocabulary}
