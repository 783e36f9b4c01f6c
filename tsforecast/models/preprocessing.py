"""Per-window preprocessing wrapped around any model family, inside the saved model.

The wrapper turns a window of scaled values into a forecast of scaled values like every
other model, so training, metrics and ``predict`` need nothing special, and the
``.keras`` file holds the whole pipeline (registered layers, no Lambda):

    window -> Difference -> InstanceNormalization -> ChannelsToSeries -> family model
           -> SeriesToChannels -> InstanceDenormalization -> Integrate -> forecast

Each stage is present only when configured.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any


def wrap(build: Callable[[Any, Any], Any], params: Any, shape: Any, preprocessing: Any) -> Any:
    """Build the family model inside the configured preprocessing stages.

    Args:
        build: The family's ``(params, shape) -> keras.Model`` builder.
        params: The family's parameters.
        shape: The data's :class:`~tsforecast.models.registry.ModelShape`.
        preprocessing: A :class:`~tsforecast.models.registry.Preprocessing`.
    """
    import keras

    from tsforecast.models import covariates, layers

    named = covariates.raw_inputs(shape)
    window = named["window"] if isinstance(named, dict) else named
    x, width = window, shape.input_width
    lag = preprocessing.difference_lag
    if lag:
        # (batch, input_width, n_inputs) -> (batch, input_width - lag, n_inputs)
        x = layers.Difference(lag, name="difference")(x)
        width -= lag
    if preprocessing.instance_norm:
        x, statistics = layers.InstanceNormalization(
            preprocessing.instance_norm, name="instance_norm"
        )(x)
    core_shape = dataclasses.replace(shape, input_width=width)
    if preprocessing.channel_independent:  # the config allows no covariates with it
        # (batch, width, n_inputs) -> (batch * n_inputs, width, 1)
        x = layers.ChannelsToSeries(name="channels_to_series")(x)
        core_shape = dataclasses.replace(core_shape, n_inputs=1, n_targets=1)
    core = build(params, core_shape)
    if isinstance(named, dict):
        # the core reads the covariates as they are; its window is shorter by the lag
        inputs = {**named, "window": x}
        if "future" in named and lag:
            inputs["future"] = keras.layers.Cropping1D((lag, 0), name="future_of_differences")(
                named["future"]
            )
        y = core(inputs)
    else:
        y = core(x)
    if preprocessing.channel_independent:
        # (batch * n_targets, horizon, 1) -> (batch, horizon, n_targets)
        y = layers.SeriesToChannels(shape.n_targets, name="series_to_channels")(y)
    if preprocessing.instance_norm:
        y = layers.InstanceDenormalization(shape.n_targets, name="instance_denorm")([y, statistics])
    if lag:
        y = layers.Integrate(lag, shape.n_targets, name="integrate")([y, window])
    return keras.Model(named, y, name=f"{core.name}_preprocessed")
