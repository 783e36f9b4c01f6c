"""Output heads and multi-step strategies, and the one reader of a model's raw output.

Heads (``model.head``):

- ``vector``: the last features feed one Dense emitting every future step (seq-to-vector).
- ``sequence``: at every input step the model predicts the next ``horizon`` steps
  (seq-to-seq); training uses every step, forecasts the last one.
- ``recursive``: a one-step model is rolled forward ``horizon`` times, each forecast fed
  back as the newest input (the iterative strategy); it is trained on one-step targets.
- ``quantile``: every future step gets one value per quantile level, trained with the
  pinball loss; the median is the point forecast.
- ``distribution``: every future step gets the parameters of a Normal, Student-t or
  negative binomial distribution (DeepAR's likelihood head), trained with its negative
  log-likelihood; the mean is the point forecast and the quantiles are read from it.

Whatever the head, :func:`read_output` turns the raw model output into the
``(n_windows, horizon, n_targets)`` point forecast (and quantiles) that evaluation,
training and forecasting use. Keras is imported only inside the builders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

HEADS = ("vector", "sequence", "recursive", "quantile", "distribution")


@dataclass(frozen=True)
class TargetLayout:
    """The targets the trained network learns from each window.

    Attributes:
        horizon: Future steps per target (1 for the one-step model of ``recursive``).
        steps: Input steps that each emit a forecast (``sequence`` head); a forecast made at
            step ``t`` covers rows ``t + 1 .. t + horizon`` after the window start. ``None``
            for one forecast per window, made after its last input step.
    """

    horizon: int
    steps: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Forecast:
    """What a model forecast for a batch of windows, on the scaled data.

    Attributes:
        point: ``(n_windows, horizon, n_targets)`` point forecasts.
        quantiles: ``(n_windows, horizon, n_targets, n_levels)`` for the quantile head.
        levels: The quantile levels of the last axis of ``quantiles``.
    """

    point: np.ndarray
    quantiles: np.ndarray | None = None
    levels: tuple[float, ...] = ()

    @property
    def lower(self) -> np.ndarray | None:
        """The lowest quantile, ``(n_windows, horizon, n_targets)``."""
        return None if self.quantiles is None else self.quantiles[..., 0]

    @property
    def upper(self) -> np.ndarray | None:
        """The highest quantile, ``(n_windows, horizon, n_targets)``."""
        return None if self.quantiles is None else self.quantiles[..., -1]


def head_of(params: Any) -> str:
    return getattr(params, "head", "vector")


def read_output(raw: Any, params: Any) -> Forecast:
    """Turn a model's raw output into point forecasts (and quantiles) of every window.

    Args:
        raw: What ``model.predict`` returned.
        params: The model family's parameters (their ``head`` and ``quantiles``).
    """
    raw = np.asarray(raw)
    head = head_of(params)
    if head == "sequence":
        # (n, steps, horizon, n_targets) -> the forecast made after the last input step
        return Forecast(raw[:, -1])
    if head == "quantile":
        levels = tuple(float(q) for q in params.quantiles)
        # (n, horizon, n_targets, n_levels) -> median (n, horizon, n_targets)
        return Forecast(raw[..., levels.index(0.5)], raw, levels)
    if head == "distribution":
        from tsforecast.models.distribution_head import mean_from_params, quantiles_from_params

        levels = tuple(float(q) for q in params.quantiles)
        # (n, horizon, n_targets, n_params) -> mean, and quantiles (..., n_levels)
        quantiles = quantiles_from_params(raw, params.likelihood, levels)
        return Forecast(mean_from_params(raw, params.likelihood), quantiles, levels)
    return Forecast(raw)


# ---------------------------------------------------------------------------------------------
# Keras builders


def vector_head(
    features: Any, shape: Any, regularizer: Any = None, initializer: str = "glorot_uniform"
) -> Any:
    """Seq-to-vector head: one Dense emitting every future step of every target.

    Shapes: ``(batch, units) -> (batch, horizon, n_targets)``.
    """
    import keras

    x = keras.layers.Dense(
        shape.horizon * shape.n_targets,
        kernel_initializer=initializer,
        kernel_regularizer=regularizer,
        name="head_dense",
    )(features)
    return keras.layers.Reshape((shape.horizon, shape.n_targets), name="forecast")(x)


def quantile_head(
    features: Any, shape: Any, quantiles: tuple[float, ...], regularizer: Any = None
) -> Any:
    """One value per quantile level for every future step of every target.

    The levels are built in order (see :class:`~tsforecast.models.layers.OrderedQuantiles`),
    so the forecast quantiles never cross.
    Shapes: ``(batch, units) -> (batch, horizon, n_targets, n_levels)``.
    """
    import keras

    n = len(quantiles)
    x = keras.layers.Dense(
        shape.horizon * shape.n_targets * n, kernel_regularizer=regularizer, name="head_dense"
    )(features)
    x = keras.layers.Reshape((shape.horizon, shape.n_targets, n), name="quantile_values")(x)
    return _ordered(x, quantiles)


def _ordered(values: Any, quantiles: tuple[float, ...]) -> Any:
    from tsforecast.models.layers import OrderedQuantiles

    return OrderedQuantiles(list(quantiles).index(0.5), name="forecast")(values)


def sequence_head(features: Any, shape: Any, regularizer: Any = None) -> Any:
    """Seq-to-seq head: a forecast of the next ``horizon`` steps at every step.

    Shapes: ``(batch, steps, units) -> (batch, steps, horizon, n_targets)``.
    """
    import keras

    steps = features.shape[1]
    x = keras.layers.Dense(
        shape.horizon * shape.n_targets, kernel_regularizer=regularizer, name="head_dense"
    )(features)  # Dense acts on the last axis, i.e. on every step alike
    return keras.layers.Reshape((steps, shape.horizon, shape.n_targets), name="forecast")(x)


def last_step(sequence: Any) -> Any:
    """The features of the last step: ``(batch, steps, channels) -> (batch, channels)``."""
    import keras

    steps = sequence.shape[1]
    x = keras.layers.Cropping1D((steps - 1, 0), name="last_step")(sequence)
    return keras.layers.Flatten(name="last_step_features")(x)


def distribution_head(features: Any, shape: Any, likelihood: str) -> Any:
    """The parameters of each future step's distribution.

    Shapes: ``(batch, units) -> (batch, horizon, n_targets, n_params)``.
    """
    from tsforecast.models.distribution_head import DistributionParameters

    return DistributionParameters(likelihood, shape.n_targets, shape.horizon, name="forecast")(
        features
    )


def from_features(
    features: Any,
    shape: Any,
    params: Any,
    regularizer: Any = None,
    initializer: str = "glorot_uniform",
) -> Any:
    """The head ``params.head`` on one feature vector per window, ``(batch, units)``;
    ``initializer`` of the vector head's kernel."""
    if head_of(params) == "quantile":
        return quantile_head(features, shape, params.quantiles, regularizer)
    if head_of(params) == "distribution":
        return distribution_head(features, shape, params.likelihood)
    return vector_head(features, shape, regularizer, initializer)


def from_sequence(
    sequence: Any, shape: Any, params: Any, regularizer: Any = None, covariates: Any = None
) -> Any:
    """The head ``params.head`` on per-step features ``(batch, steps, units)``.

    The sequence head reads every step; the others read the last step only, beside the
    ``covariates`` of the head ``(batch, width)`` if there are any.
    """
    from tsforecast.models.covariates import joined

    if head_of(params) == "sequence":
        return sequence_head(sequence, shape, regularizer)
    return from_features(joined(last_step(sequence), covariates), shape, params, regularizer)


def from_decoder(decoded: Any, shape: Any, params: Any, regularizer: Any = None) -> Any:
    """Per-step head on decoder output ``(batch, horizon, units)``.

    Shapes: ``-> (batch, horizon, n_targets)``, or ``(..., n_levels)`` for quantiles.
    """
    import keras

    if head_of(params) == "distribution":
        from tsforecast.models.distribution_head import DistributionParameters

        # (batch, horizon, units) -> (batch, horizon, n_targets, n_params), one map per step
        return DistributionParameters(params.likelihood, shape.n_targets, name="forecast")(decoded)
    quantile = head_of(params) == "quantile"
    levels = len(params.quantiles) if quantile else 1
    x = keras.layers.Dense(
        shape.n_targets * levels, kernel_regularizer=regularizer, name="head_dense"
    )(decoded)
    if not quantile:
        return keras.layers.Reshape((shape.horizon, shape.n_targets), name="forecast")(x)
    x = keras.layers.Reshape((shape.horizon, shape.n_targets, levels), name="quantile_values")(x)
    return _ordered(x, params.quantiles)


def recursive_model(one_step: Any, shape: Any) -> Any:
    """Roll a one-step model forward ``horizon`` times, feeding its forecasts back.

    ``one_step`` maps ``(batch, input_width, n_targets) -> (batch, 1, n_targets)``; the
    window must be the targets only, since the future of past-only features is unknown.
    Known-future covariates are handed to each step for its own window and next step.
    Shapes: ``(batch, input_width, n_targets) -> (batch, horizon, n_targets)``.
    """
    import keras

    from tsforecast.models import covariates
    from tsforecast.models.layers import RollForward

    named = covariates.raw_inputs(shape)
    outputs = RollForward(one_step, shape.horizon, name="forecast")(named)
    return keras.Model(named, outputs, name=f"{one_step.name}_recursive")


def trained_part(model: Any, params: Any) -> Any:
    """The network that is fitted: the one-step model inside a recursive model, else itself."""
    if head_of(params) != "recursive":
        return model
    return model.get_layer("forecast").one_step
