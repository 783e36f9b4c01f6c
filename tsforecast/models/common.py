"""Parameter fields and Keras pieces shared by several model families."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from tsforecast.schema import all_positive, non_empty, non_negative, option, probability

Activation = Literal["relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "linear"]
Initializer = Literal[
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "orthogonal"
]
RecurrentKind = Literal["simple_rnn", "gru", "lstm"]

#: ``model.quantiles`` when not given: an 80% interval around the median.
DEFAULT_QUANTILES = (0.1, 0.5, 0.9)


def head_option() -> Any:
    return option(
        "vector",
        help="Output head: `vector`, `sequence`, `recursive`, `quantile` or `distribution` "
        "(see Models for which families support which).",
    )


def seasonal_lags(horizon: int, season_length: int) -> np.ndarray:
    """The seasonal naive rule: how many steps before the forecast origin each future step
    repeats, ``season_length - h % season_length`` for step ``h`` (from 0).

    A season of 1 is the naive rule, every step repeating the last value. The
    :class:`~tsforecast.models.layers.SeasonalNaive` layer and the numpy baselines of
    :mod:`tsforecast.evaluation` both read it.
    Shapes: ``(horizon,)``.
    """
    return season_length - np.arange(horizon) % season_length


#: The likelihoods of the ``distribution`` head.
LIKELIHOODS = ("normal", "student_t", "negative_binomial")


def quantile_levels(value: Any) -> str | None:
    levels = list(value)
    if not all(0.0 < q < 1.0 for q in levels) or levels != sorted(set(levels)):
        return "increasing quantile levels strictly between 0 and 1"
    if 0.5 not in levels or levels[0] >= 0.5 or levels[-1] <= 0.5:
        return "a list holding 0.5 (the median) and at least one level on each side of it"
    return None


def quantiles_option() -> Any:
    return option(
        DEFAULT_QUANTILES,
        help="Quantile levels the `quantile` head predicts (and the `distribution` head "
        "reports); must hold 0.5 and one level on each side (the outermost give the "
        "interval).",
        check=quantile_levels,
    )


@dataclass(frozen=True)
class HeadParams:
    """The parameters every family with an output head shares: its head, the quantile
    levels of the quantile and distribution heads, the distribution head's likelihood, and
    the L1/L2 penalties on kernel weights."""

    l1: float = option(0.0, help="L1 penalty on kernel weights.", check=non_negative)
    l2: float = option(0.0, help="L2 penalty on kernel weights.", check=non_negative)
    head: str = head_option()
    quantiles: tuple[float, ...] = quantiles_option()
    likelihood: Literal[LIKELIHOODS] = option(
        "normal",
        help="Likelihood of the `distribution` head: `normal`, `student_t` or "
        "`negative_binomial` (counts; needs data.scaler none).",
    )


def units_option(default: tuple[int, ...], help: str) -> Any:
    return option(default, help=help, check=lambda v: non_empty(v) or all_positive(v))


def dropout_option() -> Any:
    return option(0.0, help="Dropout rate.", check=probability)


def kernel_regularizer(params: Any) -> Any:
    """A Keras L1L2 regularizer from ``params.l1``/``params.l2``, or None when both are 0."""
    import keras

    if params.l1 == 0.0 and params.l2 == 0.0:
        return None
    return keras.regularizers.L1L2(l1=params.l1, l2=params.l2)


def recurrent_layer(kind: str) -> Any:
    """The Keras layer class of a ``simple_rnn``, ``gru`` or ``lstm`` name."""
    import keras

    return {
        "simple_rnn": keras.layers.SimpleRNN,
        "gru": keras.layers.GRU,
        "lstm": keras.layers.LSTM,
    }[kind]


def recurrent_stack(
    x: Any,
    kind: str,
    units: tuple[int, ...],
    *,
    return_sequences: bool,
    dropout: float = 0.0,
    recurrent_dropout: float = 0.0,
    layer_norm: bool = False,
    activation: str = "tanh",
    kernel_initializer: str = "glorot_uniform",
    regularizer: Any = None,
) -> Any:
    """Stacked recurrent layers; every layer but the last returns sequences, as stacking needs.

    Shapes: ``(batch, steps, features) -> (batch, steps, units[-1])`` when
    ``return_sequences``, else ``(batch, units[-1])``.
    """
    import keras

    layer_cls = recurrent_layer(kind)
    for i, n in enumerate(units):
        last = i == len(units) - 1
        x = layer_cls(
            n,
            activation=activation,
            kernel_initializer=kernel_initializer,
            return_sequences=return_sequences or not last,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            kernel_regularizer=regularizer,
            name=f"{kind}_{i + 1}",
        )(x)
        if layer_norm and not last:
            x = keras.layers.LayerNormalization(name=f"layer_norm_{i + 1}")(x)
    return x
