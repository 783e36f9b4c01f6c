"""N-HiTS (Challu et al. 2023) and N-BEATS stacks (Oreshkin et al. 2020): ``nhits``.

Stacks of MLP blocks with doubly residual links: each block reads what the blocks before it
left unexplained (the residual of the input window), removes its own backcast from it and
adds its forecast to the sum. A ``generic`` block max-pools its input with its stack's kernel
(multi-rate pooling) and emits ``ceil(horizon / n_freq_downsample)`` forecast knots that are
linearly interpolated to the horizon (hierarchical interpolation); ``trend`` and
``seasonality`` blocks read the whole window and project onto N-BEATS' polynomial and
Fourier bases instead, so ``stack_types: [trend, seasonality]`` is interpretable N-BEATS.
The forecast starts from the last observed value, as in the reference implementations.

Multivariate windows, as NeuralForecast's ``NHITS`` handles them: every target column is its
own series run through the same blocks (channel independence), and the extra feature
columns are historical covariates that every block pools and appends to its MLP input; only
the target series is backcast and forecast.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from tsforecast.errors import ConfigError
from tsforecast.models.common import Activation, dropout_option, head_option, units_option
from tsforecast.schema import all_positive, non_empty, non_negative, option, positive

StackType = Literal["generic", "trend", "seasonality"]


def _per_stack(default: tuple[int, ...] | None, help: str) -> Any:
    return option(default, help=help, check=lambda v: non_empty(v) or all_positive(v))


@dataclass(frozen=True)
class NHiTSParams:
    """``nhits``: stacks of pooled, interpolating MLP blocks (or N-BEATS trend/seasonality)."""

    stack_types: tuple[StackType, ...] = option(
        ("generic", "generic", "generic"),
        help="Kind of each stack: `generic` (pooling and interpolation), `trend` or "
        "`seasonality` (N-BEATS bases).",
        check=non_empty,
    )
    n_blocks: tuple[int, ...] = _per_stack(
        (1,), "Blocks in each stack: one value for every stack, or one per stack."
    )
    units: tuple[int, ...] = units_option((64, 64), "Width of each hidden layer of a block's MLP.")
    activation: Activation = option("relu", help="Activation of the hidden layers.")
    dropout: float = dropout_option()
    pool_kernel_sizes: tuple[int, ...] | None = _per_stack(
        None,
        "Max-pooling kernel (and stride) of each generic stack's input: one value, or one per "
        "stack; by default 2**(n - 1), ..., 4, 2, 1 over the n generic stacks.",
    )
    n_freq_downsample: tuple[int, ...] | None = _per_stack(
        None,
        "Generic stacks emit ceil(horizon / value) forecast knots, interpolated to the "
        "horizon: one value, or one per stack; by default as pool_kernel_sizes.",
    )
    pooling: Literal["max", "average"] = option(
        "max", help="Pooling of generic blocks: `max` as in N-HiTS, or `average`."
    )
    degree: int = option(2, help="Polynomial degree of trend stacks.", check=non_negative)
    harmonics: int = option(
        2, help="Frequency resolution of seasonality stacks (N-BEATS' harmonics).", check=positive
    )
    head: str = head_option()


def per_stack(params: NHiTSParams, key: str) -> tuple[int, ...]:
    """The per-stack values of ``key``: one given for all stacks, one per stack, or (for
    pooling and downsampling left unset) halving towards 1 over the generic stacks."""
    values, n = getattr(params, key), len(params.stack_types)
    if values is None:  # (4, 2, 1) over three generic stacks
        remaining, defaults = params.stack_types.count("generic"), []
        for kind in params.stack_types:
            remaining -= kind == "generic"
            defaults.append(2**remaining if kind == "generic" else 1)
        return tuple(defaults)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ConfigError(
            f"model.{key} must hold one value, or one per stack of model.stack_types ({n}); "
            f"got {len(values)}."
        )
    return values


def check_nhits(params: NHiTSParams, window: Any) -> None:
    """Per-stack lists must match ``stack_types``; pooling only applies to generic stacks."""
    kernels = per_stack(params, "pool_kernel_sizes")
    downsample = per_stack(params, "n_freq_downsample")
    per_stack(params, "n_blocks")
    for i, (kind, k, r) in enumerate(zip(params.stack_types, kernels, downsample, strict=True)):
        if kind != "generic" and (k != 1 or r != 1):
            raise ConfigError(
                f"model.stack_types[{i}] is {kind}: it reads the whole window and projects on "
                f"its basis, so its model.pool_kernel_sizes and model.n_freq_downsample must be "
                f"1; got {k} and {r}."
            )


# ---------------------------------------------------------------------------------------------
# Builder


def _mlp(x: Any, params: NHiTSParams, tag: str) -> Any:
    import keras

    for i, units in enumerate(params.units, start=1):
        x = keras.layers.Dense(units, activation=params.activation, name=f"{tag}_dense_{i}")(x)
        if params.dropout > 0:
            x = keras.layers.Dropout(params.dropout, name=f"{tag}_dropout_{i}")(x)
    return x


def _block(
    residual: Any,
    covariates: Any,
    params: NHiTSParams,
    shape: Any,
    kind: str,
    kernel: int,
    downsample: int,
    tag: str,
    backcast: bool,
) -> tuple[Any, Any]:
    """One block on ``(series, input_width, 1)`` residuals: ``(backcast, forecast)``.

    Shapes: backcast ``(series, input_width, 1)`` (None when not asked for), forecast
    ``(series, horizon, 1)``.
    """
    import keras

    from tsforecast.models import blocks

    width, horizon = shape.input_width, shape.horizon
    x = residual
    if covariates is not None:
        # (series, input_width, 1) + (series, input_width, n_extra) -> (..., 1 + n_extra)
        x = keras.layers.Concatenate(name=f"{tag}_with_covariates")([x, covariates])
    if kernel > 1:
        pool = (
            keras.layers.MaxPooling1D if params.pooling == "max" else keras.layers.AveragePooling1D
        )
        # (series, input_width, c) -> (series, ceil(input_width / kernel), c)
        x = pool(kernel, strides=kernel, padding="same", name=f"{tag}_pool")(x)
    x = keras.layers.Flatten(name=f"{tag}_flatten")(x)
    x = _mlp(x, params, tag)  # (series, units[-1])

    if kind == "generic":
        n_backcast, n_forecast = width, blocks.knots(horizon, downsample)
        back_basis = None  # the backcast is emitted step by step
        fore_basis = blocks.Interpolation(horizon, name=f"{tag}_interpolate")
    elif kind == "trend":
        n_backcast = n_forecast = params.degree + 1
        back_basis = blocks.PolynomialBasis(width, params.degree, name=f"{tag}_backcast_basis")
        fore_basis = blocks.PolynomialBasis(horizon, params.degree, name=f"{tag}_forecast_basis")
    else:
        n_backcast = n_forecast = blocks.fourier_size(params.harmonics, horizon)
        back_basis = blocks.FourierBasis(
            width, params.harmonics, horizon, offset=-width, name=f"{tag}_backcast_basis"
        )
        fore_basis = blocks.FourierBasis(
            horizon, params.harmonics, horizon, name=f"{tag}_forecast_basis"
        )

    # (series, units) -> (series, n_forecast) -> (series, horizon) -> (series, horizon, 1)
    forecast = keras.layers.Dense(n_forecast, name=f"{tag}_forecast_theta")(x)
    forecast = fore_basis(forecast)
    forecast = keras.layers.Reshape((horizon, 1), name=f"{tag}_forecast")(forecast)
    if not backcast:
        return None, forecast
    # (series, units) -> (series, n_backcast) -> (series, input_width, 1)
    back = keras.layers.Dense(n_backcast, name=f"{tag}_backcast_theta")(x)
    if back_basis is not None:
        back = back_basis(back)
    back = keras.layers.Reshape((width, 1), name=f"{tag}_backcast")(back)
    return back, forecast


def build_nhits(params: NHiTSParams, shape: Any) -> Any:
    """N-HiTS: ``(batch, input_width, n_inputs) -> (batch, horizon, n_targets)``."""
    import keras

    from tsforecast.models import blocks
    from tsforecast.models.layers import LastValue, SeriesToChannels

    check_nhits(params, shape)
    kernels = per_stack(params, "pool_kernel_sizes")
    downsample = per_stack(params, "n_freq_downsample")
    n_blocks = per_stack(params, "n_blocks")

    inputs = keras.Input((shape.input_width, shape.n_inputs), name="window")
    # (batch, input_width, n_inputs) -> (batch * n_targets, input_width, 1 + n_extra)
    series = blocks.SeriesWithCovariates(shape.n_targets, name="series")(inputs)
    residual = blocks.ColumnSlice(0, 1, name="target_series")(series)
    covariates = None
    if shape.n_inputs > shape.n_targets:
        covariates = blocks.ColumnSlice(1, None, name="covariates")(series)

    # (batch * n_targets, input_width, 1) -> (batch * n_targets, horizon, 1)
    forecasts = [LastValue(shape.horizon, 1, name="level")(residual)]
    total = sum(n_blocks)
    for s, (kind, count) in enumerate(zip(params.stack_types, n_blocks, strict=True), start=1):
        for b in range(1, count + 1):
            tag = f"stack{s}_{kind}_block{b}"
            last = len(forecasts) == total
            backcast, forecast = _block(
                residual,
                covariates,
                params,
                shape,
                kind,
                kernels[s - 1],
                downsample[s - 1],
                tag,
                backcast=not last,
            )
            forecasts.append(forecast)
            if backcast is not None:
                residual = keras.layers.Subtract(name=f"{tag}_residual")([residual, backcast])
    forecast = keras.layers.Add(name="forecast_sum")(forecasts)
    # (batch * n_targets, horizon, 1) -> (batch, horizon, n_targets)
    outputs = SeriesToChannels(shape.n_targets, name="forecast")(forecast)
    return keras.Model(inputs, outputs, name="nhits")
