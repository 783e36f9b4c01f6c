"""Parameter fields and Keras pieces shared by several model families."""

from __future__ import annotations

from typing import Any, Literal

from tsforecast.schema import non_negative, option, probability

Activation = Literal["relu", "tanh", "sigmoid", "leaky_relu", "elu", "selu", "gelu", "linear"]
Initializer = Literal[
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "orthogonal"
]


def head_option() -> Any:
    return option("vector", help="Output head; `vector` maps the last state to every step.")


def l1_option() -> Any:
    return option(0.0, help="L1 penalty on kernel weights.", check=non_negative)


def l2_option() -> Any:
    return option(0.0, help="L2 penalty on kernel weights.", check=non_negative)


def dropout_option() -> Any:
    return option(0.0, help="Dropout rate.", check=probability)


def kernel_regularizer(params: Any) -> Any:
    """A Keras L1L2 regularizer from ``params.l1``/``params.l2``, or None when both are 0."""
    import keras

    if params.l1 == 0.0 and params.l2 == 0.0:
        return None
    return keras.regularizers.L1L2(l1=params.l1, l2=params.l2)
