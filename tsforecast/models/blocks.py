"""Custom Keras layers of the N-HiTS, PatchTST, TSMixer and TiDE families.

Registered so that ``.keras`` files load with ``safe_mode=True``. The fixed bases of N-HiTS
and N-BEATS (interpolation, polynomial, Fourier) are plain matrices computed here in numpy,
so they are rebuilt from the layer config rather than stored as weights.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from tsforecast.models.layers import window_statistics

# ---------------------------------------------------------------------------------------------
# Column and series plumbing


@keras.saving.register_keras_serializable(package="tsforecast")
class ColumnSlice(keras.layers.Layer):
    """Columns ``start`` to ``stop`` (exclusive; None for the last) of every step.

    Shapes: ``(batch, steps, columns) -> (batch, steps, stop - start)``.
    """

    def __init__(self, start: int = 0, stop: int | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.start = start
        self.stop = stop

    def call(self, inputs):
        return inputs[:, :, self.start : self.stop]

    def compute_output_shape(self, input_shape):
        width = len(range(input_shape[2])[self.start : self.stop])
        return (input_shape[0], input_shape[1], width)

    def get_config(self) -> dict:
        return {**super().get_config(), "start": self.start, "stop": self.stop}


@keras.saving.register_keras_serializable(package="tsforecast")
class SeriesWithCovariates(keras.layers.Layer):
    """Makes every target its own series, each followed by the shared extra columns.

    Series ``b * n_targets + t`` holds target ``t`` of window ``b`` in its first column and
    the window's extra feature columns after it, the order
    :class:`~tsforecast.models.layers.SeriesToChannels` undoes.
    Shapes: ``(batch, steps, n_inputs) -> (batch * n_targets, steps, 1 + n_inputs - n_targets)``.
    """

    def __init__(self, n_targets: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.n_targets = n_targets

    def call(self, inputs):
        ops = keras.ops
        steps, columns = inputs.shape[1], inputs.shape[2]
        n_extra = columns - self.n_targets
        # (batch, steps, n_targets) -> (batch, n_targets, steps, 1)
        targets = ops.expand_dims(ops.transpose(inputs[:, :, : self.n_targets], (0, 2, 1)), -1)
        if n_extra:
            # (batch, steps, n_extra) -> (batch, n_targets, steps, n_extra), shared by targets
            extra = ops.expand_dims(inputs[:, :, self.n_targets :], 1)
            extra = ops.repeat(extra, self.n_targets, axis=1)
            targets = ops.concatenate([targets, extra], axis=-1)
        return ops.reshape(targets, (-1, steps, 1 + n_extra))

    def compute_output_shape(self, input_shape):
        batch = None if input_shape[0] is None else input_shape[0] * self.n_targets
        return (batch, input_shape[1], 1 + input_shape[2] - self.n_targets)

    def get_config(self) -> dict:
        return {**super().get_config(), "n_targets": self.n_targets}


# ---------------------------------------------------------------------------------------------
# Reversible instance normalisation


@keras.saving.register_keras_serializable(package="tsforecast")
class ReversibleInstanceNorm(keras.layers.Layer):
    """RevIN (Kim et al. 2022): each window standardised per column, with a learned affine map.

    ``x -> (x - mean) / std * weight + bias``, with the window statistics of
    :class:`~tsforecast.models.layers.InstanceNormalization` (mode ``standard``) held
    constant for the gradient; without ``affine`` the two layers are the same map. Returns
    the normalised window and the statistics ``(location, scale)`` of the inverse map
    ``y * scale + location`` stacked on the time axis: the learned affine map is folded
    into them, so :class:`~tsforecast.models.layers.InstanceDenormalization`
    undoes this layer exactly, affine part included.
    Shapes: ``(batch, steps, columns) -> (batch, steps, columns), (batch, 2, columns)``.
    """

    def __init__(self, affine: bool = True, epsilon: float = 1e-5, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.affine = affine
        self.epsilon = epsilon

    def build(self, input_shape):
        if self.affine:
            columns = (input_shape[-1],)
            self.weight = self.add_weight(shape=columns, initializer="ones", name="weight")
            self.bias = self.add_weight(shape=columns, initializer="zeros", name="bias")

    def call(self, inputs):
        ops = keras.ops
        # (batch, steps, columns) -> (batch, 1, columns) each: instance normalisation's
        mean, std = window_statistics(inputs, "standard", self.epsilon)
        mean, std = ops.stop_gradient(mean), ops.stop_gradient(std)
        normalised = (inputs - mean) / std
        location, scale = mean, std
        if self.affine:
            normalised = normalised * self.weight + self.bias
            # inverse: ((y - bias) / weight) * std + mean = y * scale + location
            scale = std / (self.weight + self.epsilon**2)
            location = mean - self.bias * scale
        # -> (batch, 2, columns): location, then scale
        return normalised, ops.concatenate([location, scale], axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape, (input_shape[0], 2, input_shape[2])

    def get_config(self) -> dict:
        return {**super().get_config(), "affine": self.affine, "epsilon": self.epsilon}


# ---------------------------------------------------------------------------------------------
# PatchTST


def patch_count(input_width: int, patch_len: int, stride: int, pad_end: bool) -> int:
    """Patches of a window; ``pad_end`` adds ``stride`` copies of the last step first."""
    return (input_width + (stride if pad_end else 0) - patch_len) // stride + 1


@keras.saving.register_keras_serializable(package="tsforecast")
class Patching(keras.layers.Layer):
    """Cuts a univariate series into patches of ``patch_len`` steps, ``stride`` apart.

    With ``pad_end`` the series is first extended by ``stride`` copies of its last value
    (PatchTST's replication padding), so the newest steps fill one more patch.
    Shapes: ``(batch, steps, 1) -> (batch, n_patches, patch_len)``.
    """

    def __init__(self, patch_len: int, stride: int, pad_end: bool = True, **kwargs: object):
        super().__init__(**kwargs)
        self.patch_len = patch_len
        self.stride = stride
        self.pad_end = pad_end

    def call(self, inputs):
        ops = keras.ops
        series = inputs[:, :, 0]  # (batch, steps)
        if self.pad_end:
            last = ops.repeat(series[:, -1:], self.stride, axis=1)
            series = ops.concatenate([series, last], axis=1)  # (batch, steps + stride)
        n = patch_count(inputs.shape[1], self.patch_len, self.stride, self.pad_end)
        index = np.arange(n)[:, None] * self.stride + np.arange(self.patch_len)[None, :]
        return ops.take(series, index, axis=1)  # (batch, n_patches, patch_len)

    def compute_output_shape(self, input_shape):
        n = patch_count(input_shape[1], self.patch_len, self.stride, self.pad_end)
        return (input_shape[0], n, self.patch_len)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "patch_len": self.patch_len,
            "stride": self.stride,
            "pad_end": self.pad_end,
        }


@keras.saving.register_keras_serializable(package="tsforecast")
class PositionalEmbedding(keras.layers.Layer):
    """Adds a learned embedding of each position, initialised uniform in ``[-scale, scale]``.

    Shapes: ``(batch, steps, channels) -> (batch, steps, channels)``.
    """

    def __init__(self, scale: float = 0.02, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.scale = scale

    def build(self, input_shape):
        self.embedding = self.add_weight(
            shape=tuple(input_shape[1:]),
            initializer=keras.initializers.RandomUniform(-self.scale, self.scale),
            name="embedding",
        )

    def call(self, inputs):
        return inputs + self.embedding

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}


# ---------------------------------------------------------------------------------------------
# Fixed bases (N-HiTS interpolation, N-BEATS trend and seasonality)


def interpolation_matrix(n_knots: int, steps: int) -> np.ndarray:
    """Linear interpolation of ``n_knots`` evenly spread values onto ``steps`` points.

    Knot ``i`` sits at the centre of the ``i``-th of ``n_knots`` equal cells and point ``j``
    at the centre of the ``j``-th of ``steps`` cells (``align_corners=False``); points beyond
    the outer knots take their value. Shapes: ``(n_knots, steps)``.
    """
    position = (np.arange(steps) + 0.5) * n_knots / steps - 0.5
    position = np.clip(position, 0.0, n_knots - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, n_knots - 1)
    weight = position - low
    matrix = np.zeros((n_knots, steps))
    matrix[low, np.arange(steps)] += 1.0 - weight
    matrix[high, np.arange(steps)] += weight
    return matrix


def polynomial_matrix(degree: int, steps: int) -> np.ndarray:
    """Powers ``t**0 .. t**degree`` of ``t = 0, 1/steps, ..., (steps - 1)/steps``.

    Shapes: ``(degree + 1, steps)``.
    """
    t = np.arange(steps) / steps
    return np.stack([t**i for i in range(degree + 1)])


def fourier_frequencies(harmonics: int, period: int) -> np.ndarray:
    """N-BEATS' frequencies: 0, then 1 to ``period / 2`` cycles per period in steps of
    ``1 / harmonics``."""
    return np.concatenate([[0.0], np.arange(harmonics, harmonics * period / 2) / harmonics])


def fourier_matrix(harmonics: int, steps: int, period: int, offset: int = 0) -> np.ndarray:
    """Cosines then sines of :func:`fourier_frequencies` at times ``(offset + j) / period``.

    A backcast of ``L`` steps uses ``offset=-L`` so that it and the forecast (offset 0)
    share one time axis. Shapes: ``(2 * n_frequencies, steps)``.
    """
    t = (offset + np.arange(steps)) / period
    angle = 2 * np.pi * fourier_frequencies(harmonics, period)[:, None] * t[None, :]
    return np.concatenate([np.cos(angle), np.sin(angle)])


def fourier_size(harmonics: int, period: int) -> int:
    """Coefficients of a Fourier basis: two per frequency."""
    return 2 * len(fourier_frequencies(harmonics, period))


class _FixedBasis(keras.layers.Layer):
    """Multiplies coefficients by a fixed basis: ``(..., n_coefficients) -> (..., steps)``."""

    def __init__(self, steps: int, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.steps = steps

    def matrix(self, n_coefficients: int) -> np.ndarray:
        raise NotImplementedError

    def build(self, input_shape):
        self.basis = self.matrix(input_shape[-1]).astype(self.compute_dtype)

    def call(self, inputs):
        return keras.ops.matmul(inputs, keras.ops.cast(self.basis, inputs.dtype))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.steps)

    def get_config(self) -> dict:
        return {**super().get_config(), "steps": self.steps}


@keras.saving.register_keras_serializable(package="tsforecast")
class Interpolation(_FixedBasis):
    """Linear interpolation of knots onto ``steps`` points (N-HiTS' hierarchical
    interpolation); see :func:`interpolation_matrix`."""

    def matrix(self, n_coefficients: int) -> np.ndarray:
        return interpolation_matrix(n_coefficients, self.steps)


@keras.saving.register_keras_serializable(package="tsforecast")
class PolynomialBasis(_FixedBasis):
    """N-BEATS trend basis; see :func:`polynomial_matrix`. Expects ``degree + 1``
    coefficients."""

    def __init__(self, steps: int, degree: int, **kwargs: object) -> None:
        super().__init__(steps, **kwargs)
        self.degree = degree

    def matrix(self, n_coefficients: int) -> np.ndarray:
        return polynomial_matrix(self.degree, self.steps)

    def get_config(self) -> dict:
        return {**super().get_config(), "degree": self.degree}


@keras.saving.register_keras_serializable(package="tsforecast")
class FourierBasis(_FixedBasis):
    """N-BEATS seasonality basis; see :func:`fourier_matrix`. Expects
    :func:`fourier_size` coefficients."""

    def __init__(
        self, steps: int, harmonics: int, period: int, offset: int = 0, **kwargs: object
    ) -> None:
        super().__init__(steps, **kwargs)
        self.harmonics = harmonics
        self.period = period
        self.offset = offset

    def matrix(self, n_coefficients: int) -> np.ndarray:
        return fourier_matrix(self.harmonics, self.steps, self.period, self.offset)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "harmonics": self.harmonics,
            "period": self.period,
            "offset": self.offset,
        }


def knots(horizon: int, n_freq_downsample: int) -> int:
    """Forecast knots of an N-HiTS block: ``ceil(horizon / n_freq_downsample)``."""
    return math.ceil(horizon / n_freq_downsample)
