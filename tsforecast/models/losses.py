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


#: The scaling statistics a scale-free loss reads beside each target value, in order.
TARGET_STATISTICS = ("offset", "scale", "naive_scale")


@keras.saving.register_keras_serializable(package="tsforecast")
class ScaleFreeLoss(keras.losses.Loss):
    """A loss that no series dominates by its size: ``mase`` or ``smape``.

    The targets arrive with the statistics of their window's series beside them, on a last
    axis of ``1 + len(TARGET_STATISTICS)``: the scaled value, then the scaler's ``offset``
    and ``scale`` (original = scaled * scale + offset) and ``naive_scale``, the series'
    mean absolute one-step change on its scaled training rows.

    - ``mase``: ``|y - f| / naive_scale``, the absolute error in units of the series' own
      one-step change (MASE's scale), averaged.
    - ``smape``: ``200 |y - f| / (|y| + |f|)`` in original units, averaged (the M
      competitions' sMAPE, for positive series).

    Shapes: ``y_true (..., n_targets, 4)``, ``y_pred (..., n_targets)``.
    """

    def __init__(self, kind: str = "mase", **kwargs: object) -> None:
        kwargs.setdefault("name", kind)
        super().__init__(**kwargs)
        self.kind = kind

    def call(self, y_true, y_pred):
        ops = keras.ops
        y_pred = ops.cast(y_pred, "float32")
        value, offset, scale, naive = (y_true[..., i] for i in range(4))
        if self.kind == "mase":
            loss = ops.abs(value - y_pred) / naive
        else:
            actual, forecast = value * scale + offset, y_pred * scale + offset
            total = ops.abs(actual) + ops.abs(forecast)
            loss = 200.0 * ops.abs(actual - forecast) / ops.maximum(total, 1e-8)
        batch = ops.shape(loss)[0]
        return ops.mean(ops.reshape(loss, (batch, -1)), axis=1)  # (batch,)

    def get_config(self) -> dict:
        return {**super().get_config(), "kind": self.kind}
