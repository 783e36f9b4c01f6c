"""The one list of model families, looked up by the name the YAML gives.

This module imports no TensorFlow: each family's parameters are plain dataclasses and its
builder is named as ``"module:function"``, imported only when a model is built.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tsforecast.errors import ConfigError
from tsforecast.models import (
    auto,
    baselines,
    convolutional,
    dense,
    heads,
    nhits,
    patchtst,
    recurrent,
    tide,
    tsmixer,
)
from tsforecast.models.common import DEFAULT_QUANTILES
from tsforecast.models.covariates import Covariates
from tsforecast.schema import suggest

#: Heads of families that map a window to features: dense, recurrent and convolutional.
DIRECT = ("vector", "recursive", "quantile")
#: Families with per-step features can also emit a forecast at every step.
PER_STEP = ("vector", "sequence", "recursive", "quantile")
#: The recurrent families also end in DeepAR's likelihood head.
RECURRENT = (*PER_STEP, "distribution")


@dataclass(frozen=True)
class ModelShape:
    """What a builder needs to know about the data.

    The window input holds the target columns first, then the past-only feature columns;
    ``covariates`` says what the model reads besides (see :mod:`tsforecast.models.covariates`).
    """

    input_width: int
    horizon: int
    n_inputs: int
    n_targets: int
    covariates: Covariates = Covariates()


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
            difference_lag=data.difference_lag if "difference" in data.transform else None,
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
        check: ``(params, window) -> None``: the family's own config rules (ConfigError).
        sequence_steps: ``(params, input_width) -> steps``: the input step each output step
            of the sequence head ends at (default: every step).
        receptive_field: ``(params, input_width) -> int | None``: input steps one output
            step sees; None (the default) when it reads the whole window.
        covariates: Whether it reads known-future and static covariates (baselines ignore
            them; the config refuses covariates for other families that cannot read them).
        selector: True for ``auto``, which fits other families and keeps the best, rather
            than building a model of its own.
        instance_norm: The ``data.instance_norm`` the family trains with unless the config
            names one (measured: N-HiTS on raw windows loses to naive on M3 monthly).
    """

    name: str
    params: type
    builder: str
    heads: tuple[str, ...] = ("vector",)
    trainable: bool = True
    summary: str = ""
    check: Callable[[Any, Any], None] | None = None
    sequence_steps: Callable[[Any, int], tuple[int, ...]] | None = None
    receptive_field: Callable[[Any, int], int | None] | None = None
    covariates: bool = True
    selector: bool = False
    instance_norm: str | bool = False

    def build_function(self) -> Callable[[Any, ModelShape], Any]:
        module, _, function = self.builder.partition(":")
        return getattr(importlib.import_module(module), function)


_SPECS = (
    ModelSpec(
        "auto",
        auto.AutoParams,
        "",
        summary="Fits candidates across families, lookbacks, losses and statistical models, "
        "combines the best by greedy ensemble selection on validation windows and refits "
        "them on the training and validation rows.",
        heads=("vector", "quantile"),
        selector=True,
    ),
    ModelSpec(
        "naive",
        baselines.NaiveParams,
        "tsforecast.models.baselines:build_naive",
        trainable=False,
        summary="Repeats the last observed value of each target; no training.",
    ),
    ModelSpec(
        "seasonal_naive",
        baselines.SeasonalNaiveParams,
        "tsforecast.models.baselines:build_seasonal_naive",
        trainable=False,
        summary="Repeats the last observed season (`season_length` steps); no training.",
        check=baselines.check_seasonal_naive,
    ),
    ModelSpec(
        "linear",
        dense.LinearParams,
        "tsforecast.models.dense:build_linear",
        heads=DIRECT,
        summary="One Dense layer from the flattened input window to every future step.",
    ),
    ModelSpec(
        "mlp",
        dense.MLPParams,
        "tsforecast.models.dense:build_mlp",
        heads=DIRECT,
        summary="Stacked Dense layers on the flattened input window.",
    ),
    *(
        ModelSpec(
            kind,
            recurrent.RecurrentParams,
            f"tsforecast.models.recurrent:build_{kind}",
            heads=RECURRENT,
            summary=f"Stacked {layer} layers; the last state feeds the head, or every step's "
            "for `sequence`.",
            check=recurrent.check_recurrent,
        )
        for kind, layer in (("simple_rnn", "SimpleRNN"), ("gru", "GRU"), ("lstm", "LSTM"))
    ),
    ModelSpec(
        "conv1d",
        convolutional.Conv1DParams,
        "tsforecast.models.convolutional:build_conv1d",
        heads=PER_STEP,
        summary="Stacked causal Conv1D layers, optionally followed by recurrent layers.",
        check=convolutional.check_conv1d,
        sequence_steps=convolutional.conv1d_steps,
        receptive_field=convolutional.conv1d_receptive_field,
    ),
    ModelSpec(
        "wavenet",
        convolutional.WaveNetParams,
        "tsforecast.models.convolutional:build_wavenet",
        heads=PER_STEP,
        summary="Dilated causal Conv1D blocks (rates 1, 2, 4, ...) with gates, residual and "
        "skip connections.",
        check=convolutional.check_wavenet,
        receptive_field=convolutional.wavenet_field,
    ),
    ModelSpec(
        "nhits",
        nhits.NHiTSParams,
        "tsforecast.models.nhits:build_nhits",
        summary="N-HiTS: stacks of MLP blocks with multi-rate pooling and hierarchical "
        "interpolation, each target its own series; N-BEATS trend and seasonality stacks.",
        check=nhits.check_nhits,
        covariates=False,
        instance_norm="last",
    ),
    ModelSpec(
        "tide",
        tide.TiDEParams,
        "tsforecast.models.tide:build_tide",
        summary="TiDE: dense encoder-decoder of residual blocks over the lookback, the "
        "projected covariates and the statics, a per-step temporal decoder and a linear skip.",
    ),
    ModelSpec(
        "tsmixer",
        tsmixer.TSMixerParams,
        "tsforecast.models.tsmixer:build_tsmixer",
        summary="TSMixer: time-mixing and feature-mixing MLPs with reversible instance "
        "normalisation; with covariates, the extended TSMixer that mixes them in.",
    ),
    ModelSpec(
        "patchtst",
        patchtst.PatchTSTParams,
        "tsforecast.models.patchtst:build_patchtst",
        summary="PatchTST: each target its own series, cut into patches, read by a "
        "Transformer encoder (MultiHeadAttention) with reversible instance normalisation.",
        check=patchtst.check_patchtst,
        covariates=False,
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
    """Checks every family shares (the head must be one it supports), then its own."""
    spec = get(name)
    head = heads.head_of(params)
    if head not in spec.heads:
        raise ConfigError(
            f"model.head '{head}' is not supported by model type '{name}'; "
            f"it supports: {', '.join(spec.heads)}."
        )
    quantiles = getattr(params, "quantiles", DEFAULT_QUANTILES)
    if head not in ("quantile", "distribution") and tuple(quantiles) != DEFAULT_QUANTILES:
        raise ConfigError(
            f"model.quantiles applies to model.head quantile or distribution, not {head}."
        )
    if head != "distribution" and getattr(params, "likelihood", "normal") != "normal":
        raise ConfigError(f"model.likelihood applies to model.head distribution, not {head}.")
    if spec.check is not None:
        spec.check(params, window)


def check_covariates(
    name: str, params: Any, reads: list[str], preprocessing: Preprocessing
) -> None:
    """The family, head and preprocessing must be able to read the covariates ``reads``
    names (config keys); baselines ignore them.

    Raises:
        ConfigError: saying which families and heads can.
    """
    spec = get(name)
    if not reads or not spec.trainable:
        return
    able = [s.name for s in _SPECS if s.covariates and s.trainable and not s.selector]
    what = " and ".join(reads)
    if not spec.covariates:
        raise ConfigError(
            f"model.type {name} reads no covariates, but {what} is set; use one of "
            f"{', '.join(able)}, or remove {what}."
        )
    head = heads.head_of(params)
    if head == "sequence":
        raise ConfigError(
            f"model.head sequence reads no covariates, but {what} is set; use model.head "
            "vector, quantile or recursive."
        )
    if preprocessing.channel_independent:
        raise ConfigError(
            f"data.channel_independent forecasts each column alone and reads no covariates, "
            f"but {what} is set; turn one of them off."
        )


def target_layout(name: str, params: Any, shape: ModelShape) -> heads.TargetLayout:
    """The targets the trained network of this family and head learns from each window."""
    head = heads.head_of(params)
    if head == "recursive":
        return heads.TargetLayout(horizon=1)
    if head == "sequence":
        steps_of = get(name).sequence_steps
        steps = (
            steps_of(params, shape.input_width)
            if steps_of is not None
            else tuple(range(shape.input_width))
        )
        return heads.TargetLayout(shape.horizon, tuple(steps))
    return heads.TargetLayout(shape.horizon)


def receptive_field(name: str, params: Any, input_width: int) -> int | None:
    """Input steps one forecast sees, or None for families that read the whole window."""
    field = get(name).receptive_field
    return None if field is None else field(params, input_width)


def build_model(
    name: str, params: Any, shape: ModelShape, preprocessing: Preprocessing | None = None
) -> Any:
    """Build the Keras model of family ``name`` with the head ``params.head``.

    A recursive head builds the family as a one-step model and rolls it forward; any
    configured preprocessing stages are wrapped around the family model (vector heads).
    """
    spec = get(name)
    if spec.selector:
        raise ConfigError(f"model.type {name} picks among other families; it builds none itself.")
    build = spec.build_function()
    if heads.head_of(params) == "recursive":
        one_step = build(
            dataclasses.replace(params, head="vector"), dataclasses.replace(shape, horizon=1)
        )
        return heads.recursive_model(one_step, shape)
    if preprocessing is None or not preprocessing.active:
        return build(params, shape)
    from tsforecast.models.preprocessing import wrap

    return wrap(build, params, shape, preprocessing)
