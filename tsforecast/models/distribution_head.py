"""A DeepAR-style distribution output: parameters of a distribution per step and target.

:class:`DistributionParameters` maps features to the parameters of a Normal, Student-t or
negative binomial distribution for every future step and target, constrained to their
valid ranges; :class:`DistributionNLL` is the matching negative log-likelihood loss; and
:func:`sample_paths`, :func:`quantiles_from_params` and :func:`mean_from_params` read
predicted parameters in plain numpy (scipy for the quantiles).

Layout of the parameters: ``(batch, horizon, n_targets, n_params)``, the last axis in the
order of :data:`PARAMETERS`. The negative binomial uses DeepAR's mean and dispersion
``alpha``: variance ``mean + alpha * mean**2``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

#: Parameter names of each likelihood, in the order of the last output axis.
PARAMETERS = {
    "normal": ("loc", "scale"),
    "student_t": ("loc", "scale", "df"),
    "negative_binomial": ("mean", "dispersion"),
}


def n_params(likelihood: str) -> int:
    """How many parameters the likelihood has, or a ValueError naming the valid ones."""
    if likelihood not in PARAMETERS:
        raise ValueError(f"likelihood must be one of {', '.join(PARAMETERS)}; got {likelihood!r}.")
    return len(PARAMETERS[likelihood])


# ---------------------------------------------------------------------------------------------
# Keras layer and loss


@keras.saving.register_keras_serializable(package="tsforecast")
class DistributionParameters(keras.layers.Layer):
    """Distribution parameters for every future step and target, from features.

    A dense map emits unconstrained values, then: Normal ``loc`` as is and ``scale``
    softplus; Student-t the same plus ``df = 2 + softplus`` (so the variance is finite);
    negative binomial ``mean`` and ``dispersion`` both softplus. Scales, means and
    dispersions are at least ``min_scale``.

    Shapes: ``(batch, horizon, units)`` (one map shared by the steps) or ``(batch, units)``
    (one map to every step; ``horizon`` required) ``-> (batch, horizon, n_targets,
    n_params)``.
    """

    def __init__(
        self,
        likelihood: str,
        n_targets: int,
        horizon: int | None = None,
        min_scale: float = 1e-6,
        kernel_initializer: Any = "glorot_uniform",
        **kwargs: object,
    ) -> None:
        super().__init__(**kwargs)
        self.n_params = n_params(likelihood)
        self.likelihood = likelihood
        self.n_targets = n_targets
        self.horizon = horizon
        self.min_scale = min_scale
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _steps(self, input_shape: tuple) -> int:
        if len(input_shape) == 3:
            if self.horizon is not None and self.horizon != input_shape[1]:
                raise ValueError(
                    f"DistributionParameters got {input_shape[1]} steps of features but "
                    f"horizon={self.horizon}."
                )
            return input_shape[1]
        if len(input_shape) != 2 or self.horizon is None:
            raise ValueError(
                "DistributionParameters reads (batch, horizon, units) features, or "
                f"(batch, units) with horizon given; got shape {tuple(input_shape)}."
            )
        return self.horizon

    def build(self, input_shape):
        per_step = len(input_shape) == 3
        steps = self._steps(input_shape)
        size = self.n_targets * self.n_params * (1 if per_step else steps)
        self.kernel = self.add_weight(
            shape=(input_shape[-1], size), initializer=self.kernel_initializer, name="kernel"
        )
        self.bias = self.add_weight(shape=(size,), initializer="zeros", name="bias")

    def call(self, inputs):
        ops = keras.ops
        steps = self._steps(inputs.shape)
        raw = ops.matmul(inputs, self.kernel) + self.bias
        # (batch, [horizon,] size) -> (batch, horizon, n_targets, n_params)
        raw = ops.reshape(raw, (-1, steps, self.n_targets, self.n_params))
        first, rest = raw[..., :1], raw[..., 1:]
        positive = ops.softplus(rest) + self.min_scale
        if self.likelihood == "normal":
            return ops.concatenate([first, positive], axis=-1)
        if self.likelihood == "student_t":
            scale = positive[..., :1]
            df = 2.0 + ops.softplus(rest[..., 1:])
            return ops.concatenate([first, scale, df], axis=-1)
        mean = ops.softplus(first) + self.min_scale
        return ops.concatenate([mean, positive], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self._steps(input_shape), self.n_targets, self.n_params)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "likelihood": self.likelihood,
            "n_targets": self.n_targets,
            "horizon": self.horizon,
            "min_scale": self.min_scale,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


def _lgamma(x: Any) -> Any:
    """``log(|Gamma(x)|)`` elementwise: keras.ops has none, so the backend's own."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.math.lgamma(x)
    import jax

    return jax.lax.lgamma(x)


def negative_log_likelihood(y_true: Any, params: Any, likelihood: str) -> Any:
    """Elementwise NLL of ``y_true (..., )`` under ``params (..., n_params)``."""
    ops = keras.ops
    if likelihood == "normal":
        loc, scale = params[..., 0], params[..., 1]
        z = (y_true - loc) / scale
        return 0.5 * np.log(2 * np.pi) + ops.log(scale) + 0.5 * z * z
    if likelihood == "student_t":
        loc, scale, df = params[..., 0], params[..., 1], params[..., 2]
        z = (y_true - loc) / scale
        return (
            _lgamma(df / 2)
            - _lgamma((df + 1) / 2)
            + 0.5 * ops.log(df * np.pi)
            + ops.log(scale)
            + (df + 1) / 2 * ops.log1p(z * z / df)
        )
    if likelihood == "negative_binomial":
        mean, alpha = params[..., 0], params[..., 1]
        r = 1.0 / alpha
        log1p_am = ops.log1p(alpha * mean)
        log_prob = (
            _lgamma(y_true + r)
            - _lgamma(y_true + 1.0)
            - _lgamma(r)
            - r * log1p_am
            + y_true * (ops.log(alpha * mean) - log1p_am)
        )
        return -log_prob
    raise ValueError(f"likelihood must be one of {', '.join(PARAMETERS)}; got {likelihood!r}.")


@keras.saving.register_keras_serializable(package="tsforecast")
class DistributionNLL(keras.losses.Loss):
    """Negative log-likelihood averaged over every step and target.

    Shapes: ``y_true (batch, horizon, n_targets)``, ``y_pred (batch, horizon, n_targets,
    n_params)`` as :class:`DistributionParameters` emits.
    """

    def __init__(self, likelihood: str = "normal", **kwargs: object) -> None:
        n_params(likelihood)
        kwargs.setdefault("name", f"{likelihood}_nll")
        super().__init__(**kwargs)
        self.likelihood = likelihood

    def call(self, y_true, y_pred):
        y_true = keras.ops.cast(y_true, y_pred.dtype)
        loss = negative_log_likelihood(y_true, y_pred, self.likelihood)  # (batch, horizon, n_t)
        batch = keras.ops.shape(loss)[0]
        return keras.ops.mean(keras.ops.reshape(loss, (batch, -1)), axis=1)  # (batch,)

    def get_config(self) -> dict:
        return {**super().get_config(), "likelihood": self.likelihood}


# ---------------------------------------------------------------------------------------------
# Reading predicted parameters (numpy)


def _split(params: Any, likelihood: str) -> list[np.ndarray]:
    params = np.asarray(params, dtype="float64")
    if params.shape[-1] != n_params(likelihood):
        raise ValueError(
            f"{likelihood} has {n_params(likelihood)} parameters on the last axis; "
            f"got shape {params.shape}."
        )
    return [params[..., i] for i in range(params.shape[-1])]


def _negative_binomial(mean: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy/scipy's ``(n, p)`` of DeepAR's mean and dispersion."""
    return 1.0 / alpha, 1.0 / (1.0 + alpha * mean)


def mean_from_params(params: Any, likelihood: str) -> np.ndarray:
    """The distribution means, a point forecast: ``(..., n_params) -> (...)``."""
    return _split(params, likelihood)[0]


def sample_paths(params: Any, likelihood: str, n_samples: int, seed: int | None = None) -> Any:
    """Draw forecast paths from predicted parameters.

    Steps are drawn independently: the head gives each step's marginal distribution, so
    the paths hold no correlation between steps.

    Args:
        params: ``(batch, horizon, n_targets, n_params)``.
        likelihood: ``normal``, ``student_t`` or ``negative_binomial``.
        n_samples: Paths to draw.
        seed: Seed of the numpy generator, for repeatable draws.

    Returns:
        ``(n_samples, batch, horizon, n_targets)``.
    """
    parts = _split(params, likelihood)
    rng = np.random.default_rng(seed)
    size = (n_samples, *parts[0].shape)
    if likelihood == "normal":
        loc, scale = parts
        return rng.normal(loc, scale, size=size)
    if likelihood == "student_t":
        loc, scale, df = parts
        return loc + scale * rng.standard_t(df, size=size)
    n, p = _negative_binomial(*parts)
    return rng.negative_binomial(n, p, size=size).astype("float64")


def quantiles_from_params(params: Any, likelihood: str, levels: Any) -> np.ndarray:
    """Quantiles of the predicted distributions, in closed form (scipy's ``ppf``).

    Args:
        params: ``(batch, horizon, n_targets, n_params)``.
        likelihood: ``normal``, ``student_t`` or ``negative_binomial``.
        levels: Quantile levels strictly between 0 and 1.

    Returns:
        ``(batch, horizon, n_targets, n_levels)``; the negative binomial's are integers.
    """
    from scipy import stats

    parts = [p[..., None] for p in _split(params, likelihood)]
    q = np.asarray(levels, dtype="float64")
    if likelihood == "normal":
        loc, scale = parts
        return stats.norm.ppf(q, loc=loc, scale=scale)
    if likelihood == "student_t":
        loc, scale, df = parts
        return stats.t.ppf(q, df, loc=loc, scale=scale)
    n, p = _negative_binomial(*parts)
    return stats.nbinom.ppf(q, n, p)
