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
