"""The ``search:`` section: which config keys ``tsforecast tune`` varies, and over what.

``search.space`` maps dotted config keys to ``{choices: [...]}`` or
``{min: A, max: B[, step: S][, sampling: log]}``::

    search:
      algorithm: random          # random | bayesian | hyperband
      max_trials: 20
      space:
        model.units: {choices: [[32], [64], [64, 32]]}
        training.optimizer.learning_rate: {min: 0.0001, max: 0.01, sampling: log}
        window.input_width: {min: 24, max: 96, step: 24}

Nested mappings (``space: {model: {units: {choices: ...}}}``) mean the same, so
``--set search.space.model.dropout.max=0.3`` works too. Trials are compared on validation
loss, so keys that change the data, the validation windows or the loss itself cannot be
searched. ``train`` and the other commands accept a config with this section and ignore it.
No TensorFlow here.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import yaml

from tsforecast.config import (
    Config,
    TrainingConfig,
    WindowConfig,
    config_from_dict,
    config_to_dict,
    read_config_file,
)
from tsforecast.errors import ConfigError
from tsforecast.models import registry
from tsforecast.schema import check_keys, describe, option, parse_section, positive

SPEC_KEYS = ("choices", "min", "max", "step", "sampling")
#: Keys that trials cannot vary, and why.
FIXED = {
    "data": "trials are compared on validation loss, which needs the same data, split and scaling",
    "output": "it does not change the model",
    "model.type": "tune each model type with a config of its own",
    "window.horizon": "it changes the task and the validation windows",
    "training.loss": "validation losses of different losses cannot be compared",
    "training.distribute": "it does not change the model",
    "training.tensorboard": "it does not change the model",
}


#: What ``search.space`` holds, for the config reference.
SPACE_HELP = (
    "Dotted config key -> `{choices: [...]}`, or a numeric range `{min: A, max: B}` with an "
    "optional `step` and `sampling: log`. Any key of `window`, `model` and `training` but "
    "those that make validation losses incomparable or do not change the model."
)


@dataclass(frozen=True)
class SearchSettings:
    """How the search runs (the ``search`` keys besides ``space``)."""

    algorithm: Literal["random", "bayesian", "hyperband"] = option(
        "random", help="KerasTuner search algorithm."
    )
    max_trials: int = option(
        10,
        help="Most trials for random and bayesian; hyperband plans its brackets from "
        "training.epochs.",
        check=positive,
    )


@dataclass(frozen=True)
class SearchParam:
    """One searched key: a list of choices, or a numeric range."""

    path: str
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    sampling: str = "linear"
    integer: bool = False

    @property
    def encoded_choices(self) -> list[Any]:
        """Choices as KerasTuner holds them: scalars of one type as they are, else YAML text."""
        if _plain_scalars(self.choices):
            return list(self.choices)
        return [_yaml_text(v) for v in self.choices]

    def decode(self, value: Any) -> Any:
        """A KerasTuner value back as the config value."""
        if self.choices and not _plain_scalars(self.choices):
            return yaml.safe_load(value)
        return value

    def to_dict(self) -> dict[str, Any]:
        if self.choices:
            return {"choices": [_plain(v) for v in self.choices]}
        out: dict[str, Any] = {"min": self.low, "max": self.high}
        if self.step is not None:
            out["step"] = self.step
        if self.sampling != "linear":
            out["sampling"] = self.sampling
        return out


@dataclass(frozen=True)
class SearchSpace:
    """A validated search: the base config, the settings and the searched keys."""

    base: Config
    settings: SearchSettings
    params: tuple[SearchParam, ...]

    def trial_config(self, values: Mapping[str, Any]) -> Config:
        """The base config with each searched key set to ``values[key]``."""
        return _with_values(config_to_dict(self.base), values)

    def to_dict(self) -> dict[str, Any]:
        """Base config and search section as plain data that :func:`load_search` reads back."""
        return {
            **config_to_dict(self.base),
            "search": {
                **dataclasses.asdict(self.settings),
                "space": {p.path: p.to_dict() for p in self.params},
            },
        }


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _plain_scalars(values: tuple[Any, ...]) -> bool:
    kinds = {type(v) for v in values}
    return len(kinds) == 1 and kinds <= {int, float, str, bool}


def _yaml_text(value: Any) -> str:
    text = yaml.safe_dump(_plain(value), default_flow_style=True).strip()
    return text.removesuffix("\n...").strip()


def _with_values(raw: dict[str, Any], values: Mapping[str, Any]) -> Config:
    raw = copy.deepcopy(raw)
    for path, value in values.items():
        *parents, last = path.split(".")
        node = raw
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = _plain(value)
    return config_from_dict(raw)


def _leaf_types(cls: type, prefix: str) -> dict[str, Any]:
    out = {}
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            out.update(_leaf_types(tp, f"{prefix}.{f.name}"))
        else:
            out[f"{prefix}.{f.name}"] = tp
    return out


def searchable_keys(config: Config) -> dict[str, Any]:
    """Every config key a search may vary, with its annotated type."""
    keys = {
        **_leaf_types(WindowConfig, "window"),
        **_leaf_types(registry.get(config.model.type).params, "model"),
        **_leaf_types(TrainingConfig, "training"),
    }
    return {k: v for k, v in keys.items() if _fixed_reason(k) is None}


def _fixed_reason(path: str) -> str | None:
    for key, reason in FIXED.items():
        if path == key or path.startswith(key + "."):
            return reason
    return None


def _numeric_kind(tp: Any) -> str | None:
    """``int`` or ``float`` for numeric keys (optional ones included), else None."""
    if get_origin(tp) in (Union, types.UnionType):
        args = set(get_args(tp)) - {type(None)}
        if args == {int, float} or args == {float}:
            return "float"
        if args == {int}:
            return "int"
        return None
    return {int: "int", float: "float"}.get(tp)


def _flatten(raw: Mapping[str, Any], prefix: str, keys: dict[str, Any]) -> dict[str, Any]:
    """Dotted key -> spec, accepting nested sections as well as dotted names."""
    out = {}
    for key, value in raw.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        reason = _fixed_reason(path)
        if reason:
            raise ConfigError(f"search.space: {path} cannot be searched: {reason}.")
        section = any(k.startswith(path + ".") for k in keys)
        if path in keys:
            out[path] = value
        elif section and isinstance(value, Mapping) and set(value) & set(SPEC_KEYS):
            raise ConfigError(
                f"search.space: {path} is a section; search its keys, such as "
                f"{next(k for k in keys if k.startswith(path + '.'))}."
            )
        elif section and isinstance(value, Mapping):
            out.update(_flatten(value, path, keys))
        else:
            close = difflib.get_close_matches(path, list(keys), n=1, cutoff=0.6)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(
                f"search.space: '{path}' is not a config key that can be searched.{hint}"
            )
    return out


def _number(value: Any, where: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where} must be a number; got {describe(value)}.")
    return value


def _parse_param(path: str, spec: Any, tp: Any) -> SearchParam:
    where = f"search.space.{path}"
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"{where} must be a mapping with choices, or with min and max; got {describe(spec)}."
        )
    check_keys(spec, list(SPEC_KEYS), where)
    if "choices" in spec:
        extra = sorted(set(spec) - {"choices"})
        if extra:
            raise ConfigError(f"{where}: choices cannot be combined with {extra[0]}.")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            got = "an empty list" if choices == [] else describe(choices)
            raise ConfigError(f"{where}.choices must be a non-empty list; got {got}.")
        return SearchParam(path, choices=tuple(_freeze(v) for v in choices))
    if "min" not in spec or "max" not in spec:
        raise ConfigError(f"{where} needs choices, or both min and max.")
    kind = _numeric_kind(tp)
    if kind is None:
        raise ConfigError(f"{where}: a min/max range needs a numeric key; use choices instead.")
    low, high = _number(spec["min"], f"{where}.min"), _number(spec["max"], f"{where}.max")
    if low > high:
        raise ConfigError(f"{where}: min ({low}) must not exceed max ({high}).")
    sampling = spec.get("sampling", "linear")
    if sampling not in ("linear", "log"):
        raise ConfigError(f"{where}.sampling must be one of linear, log; got {describe(sampling)}.")
    if sampling == "log" and low <= 0:
        raise ConfigError(f"{where}: log sampling needs min > 0; got {low}.")
    step = spec.get("step")
    if step is not None:
        step = _number(step, f"{where}.step")
        if step <= 0:
            raise ConfigError(f"{where}.step must be a positive number; got {step}.")
        if sampling == "log":
            raise ConfigError(f"{where}: step applies to linear sampling only.")
    if kind == "int":
        for name, value in (("min", low), ("max", high), ("step", step)):
            if value is not None and not isinstance(value, int):
                raise ConfigError(f"{where}.{name} must be an integer for {path}; got {value}.")
    else:
        low, high = float(low), float(high)
        step = None if step is None else float(step)
    return SearchParam(
        path, low=low, high=high, step=step, sampling=sampling, integer=kind == "int"
    )


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _check_values(base: Config, param: SearchParam) -> None:
    """Every choice, and both ends of a range, must make a valid config on their own."""
    values = param.choices or tuple(dict.fromkeys((param.low, param.high)))
    raw = config_to_dict(base)
    for value in values:
        try:
            _with_values(raw, {param.path: value})
        except ConfigError as exc:
            label = "choice" if param.choices else "bound"
            raise ConfigError(
                f"search.space.{param.path}: the {label} {_yaml_text(value)} gives an invalid "
                f"config: {exc}"
            ) from None


def parse_search(raw: Any, base: Config) -> SearchSpace:
    """Validate a ``search`` section against the base config it varies.

    Raises:
        ConfigError: naming the search key and what is wrong with it.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"search must be a mapping of keys; got {describe(raw)}.")
    rest = {k: v for k, v in raw.items() if k != "space"}
    check_keys(raw, [*(f.name for f in dataclasses.fields(SearchSettings)), "space"], "search")
    settings = parse_section(SearchSettings, rest, "search")
    space = raw.get("space")
    if not isinstance(space, Mapping) or not space:
        raise ConfigError(
            "search.space must map config keys to the values to try, e.g. "
            "model.units: {choices: [[32], [64]]}."
        )
    keys = searchable_keys(base)
    specs = _flatten(space, "", keys)
    params = tuple(_parse_param(path, spec, keys[path]) for path, spec in specs.items())
    for param in params:
        _check_values(base, param)
    return SearchSpace(base, settings, params)


def load_search(
    path: str | Path, overrides: list[str] | tuple[str, ...] = ()
) -> tuple[Config, SearchSpace | None]:
    """Load a config file and its ``search`` section (None when it has none).

    Args:
        path: The YAML file.
        overrides: ``KEY.PATH=VALUE`` strings applied before validation; they may set
            search keys too.
    """
    raw = read_config_file(path, overrides)
    search = raw.pop("search", None)
    base = config_from_dict(raw, base_dir=Path(path).resolve().parent)
    if search is None:
        return base, None
    return base, parse_search(search, base)
