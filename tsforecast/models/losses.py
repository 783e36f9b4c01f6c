"""Custom Keras losses, registered so that saved models reload with ``safe_mode=True``."""

from __future__ import annotations

import keras

from tsforecast.models.common import DEFAULT_QUANTILES


@keras.saving.register_keras_serializable(package="tsforecast")
class PinballLoss(keras.losses.Loss):
    """Pinball (quantile) loss averaged over every step, target and quantile level.

    For level ``q`` and error ``e = actual - forecast`` the loss is ``max(q * e, (q - 1) * e)``,
    minimised by the ``q``-quantile of the actual values.

    Shapes: ``y_true (batch, horizon, n_targets)``, ``y_pred (batch, horizon, n_targets,
    n_levels)``.
    """

    def __init__(
        self, quantiles: tuple[float, ...] | list[float] = DEFAULT_QUANTILES, **kwargs: object
    ) -> None:
        kwargs.setdefault("name", "pinball")
        super().__init__(**kwargs)
        self.quantiles = tuple(float(q) for q in quantiles)

    def call(self, y_true, y_pred):
        levels = keras.ops.convert_to_tensor(self.quantiles, dtype=y_pred.dtype)
        error = keras.ops.expand_dims(y_true, -1) - y_pred  # (batch, horizon, n_targets, n_levels)
        loss = keras.ops.maximum(levels * error, (levels - 1.0) * error)
        batch = keras.ops.shape(loss)[0]
        return keras.ops.mean(keras.ops.reshape(loss, (batch, -1)), axis=1)  # (batch,)

    def get_config(self) -> dict:
        return {**super().get_config(), "quantiles": list(self.quantiles)}
