"""The one list of model families, looked up by the name the YAML gives.

This module imports no TensorFlow: each family's parameters are plain dataclasses and its
builder is named as ``"module:function"``, imported only when a model is built.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tsforecast.errors import ConfigError
from tsforecast.models import baselines, dense, recurrent
from tsforecast.schema import suggest


@dataclass(frozen=True)
class ModelShape:
    """What a builder needs to know about the data.

    Inputs hold the target columns first, then the extra feature columns.
    """

    input_width: int
    horizon: int
    n_inputs: int
    n_targets: int


@dataclass(frozen=True)
class Preprocessing:
    """Per-window stages wrapped around any family (see :mod:`tsforecast.models.preprocessing`).

    Attributes:
        instance_norm: False, ``"last"``, ``"mean"`` or ``"standard"``: how each window is
            normalised.
        channel_independent: Every column becomes its own series through shared weights.
        difference_lag: Lag of the differences the model reads, or None for levels.
    """

    instance_norm: str | bool = False
    channel_independent: bool = False
    difference_lag: int | None = None

    @classmethod
    def from_data(cls, data: Any) -> Preprocessing:
        """The stages a :class:`~tsforecast.config.DataConfig` asks for."""
        return cls(
            instance_norm=data.instance_norm,
            channel_independent=data.channel_independent,
            difference_lag=data.difference_lag if data.transform == "difference" else None,
        )

    @property
    def active(self) -> bool:
        return bool(self.instance_norm or self.channel_independent or self.difference_lag)


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Attributes:
        name: The ``model.type`` string.
        params: Frozen dataclass of the family's YAML keys.
        builder: ``"module:function"`` with signature ``(params, shape) -> keras.Model``.
        heads: The ``model.head`` values the family supports.
        trainable: False for baselines that need no fitting.
        summary: One line for the README and error messages.
    """

    name: str
    params: type
    builder: str
    heads: tuple[str, ...] = ("vector",)
    trainable: bool = True
    summary: str = ""

    def build_function(self) -> Callable[[Any, ModelShape], Any]:
        module, _, function = self.builder.partition(":")
        return getattr(importlib.import_module(module), function)


_SPECS = (
    ModelSpec(
        "naive",
        baselines.NaiveParams,
        "tsforecast.models.baselines:build_naive",
        trainable=False,
        summary="Repeats the last observed value of each target; no training.",
    ),
    ModelSpec(
        "linear",
        dense.LinearParams,
        "tsforecast.models.dense:build_linear",
        summary="One Dense layer from the flattened input window to every future step.",
    ),
    ModelSpec(
        "mlp",
        dense.MLPParams,
        "tsforecast.models.dense:build_mlp",
        summary="Stacked Dense layers on the flattened input window.",
    ),
    ModelSpec(
        "lstm",
        recurrent.RecurrentParams,
        "tsforecast.models.recurrent:build_lstm",
        summary="Stacked LSTM layers; the last state feeds the head.",
    ),
)
_BY_NAME = {spec.name: spec for spec in _SPECS}


def names() -> list[str]:
    """Every registered ``model.type``."""
    return list(_BY_NAME)


def specs() -> tuple[ModelSpec, ...]:
    """Every registry entry, in the order listed."""
    return _SPECS


def get(name: Any) -> ModelSpec:
    """The entry for ``name``, or a ConfigError that lists the valid names."""
    if not isinstance(name, str) or name not in _BY_NAME:
        raise ConfigError(
            f"model.type '{name}' is not a known model.{suggest(str(name), names())}"
            f" Known models: {', '.join(names())}."
        )
    return _BY_NAME[name]


def check_params(name: str, params: Any, window: Any) -> None:
    """Checks every family shares: the head must be one the family supports."""
    spec = get(name)
    head = getattr(params, "head", "vector")
    if head not in spec.heads:
        raise ConfigError(
            f"model.head '{head}' is not supported by model type '{name}'; "
            f"it supports: {', '.join(spec.heads)}."
        )


def build_model(
    name: str, params: Any, shape: ModelShape, preprocessing: Preprocessing | None = None
) -> Any:
    """Build the Keras model of family ``name``, wrapped in any preprocessing stages."""
    build = get(name).build_function()
    if preprocessing is None or not preprocessing.active:
        return build(params, shape)
    from tsforecast.models.preprocessing import wrap

    return wrap(build, params, shape, preprocessing)
