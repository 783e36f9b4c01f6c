"""Reading a config file, applying ``--set`` overrides, validating, and writing it back."""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tsforecast.config.checks import CROSS_CHECKS
from tsforecast.config.data import SYNTHETIC_COLUMN, DataConfig
from tsforecast.config.sections import (
    Config,
    EvaluationConfig,
    ModelConfig,
    OutputConfig,
    TrainingConfig,
    WindowConfig,
)
from tsforecast.errors import ConfigError
from tsforecast.models import registry
from tsforecast.schema import check_keys, describe, parse_section

SECTIONS = {
    "data": DataConfig,
    "window": WindowConfig,
    "model": ModelConfig,
    "training": TrainingConfig,
    "evaluation": EvaluationConfig,
    "output": OutputConfig,
}
_REQUIRED_SECTIONS = ("data", "window", "model")
#: Sections other commands read from the same file and ``train`` accepts and ignores:
#: ``search`` belongs to ``tsforecast tune`` (see :mod:`tsforecast.search`).
_OTHER_SECTIONS = ("search",)


def _parse_model(raw: Any) -> ModelConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"model must be a mapping of keys; got {describe(raw)}.")
    if "type" not in raw:
        raise ConfigError(f"model.type is required; one of {', '.join(registry.names())}.")
    spec = registry.get(raw["type"])
    rest = {k: v for k, v in raw.items() if k != "type"}
    params = parse_section(spec.params, rest, "model")
    return ModelConfig(type=spec.name, params=params)


#: The loss each head trains with unless training.loss says otherwise.
_HEAD_LOSS = {"quantile": "pinball", "distribution": "nll"}


def _default_loss(raw: Mapping, model: ModelConfig) -> Any:
    """The quantile head's loss defaults to pinball, the distribution head's to nll; other
    heads keep the schema default."""
    training = raw.get("training")
    loss = _HEAD_LOSS.get(getattr(model.params, "head", "vector"))
    if loss is None:
        return training
    if training is None:
        return {"loss": loss}
    if isinstance(training, Mapping) and "loss" not in training:
        return {**training, "loss": loss}
    return training


def _default_instance_norm(data: Any, model: ModelConfig) -> Any:
    """``data.instance_norm`` defaults to the family's (the registry's ``instance_norm``),
    for a vector head."""
    norm = registry.get(model.type).instance_norm
    if not norm or getattr(model.params, "head", "vector") != "vector":
        return data
    if isinstance(data, Mapping) and "instance_norm" not in data:
        return {**data, "instance_norm": norm}
    return data


def _resolved(data: DataConfig) -> DataConfig:
    """The data section with its defaults that depend on other keys filled in."""
    changes: dict[str, Any] = {}
    if data.transform == ("none",):
        changes["transform"] = ()
    if data.scaler_scope is None:
        many = data.id_column is not None or data.source == "synthetic_sines"
        changes["scaler_scope"] = "series" if many and data.split.by == "time" else "global"
    return dataclasses.replace(data, **changes)


def config_from_dict(raw: Any, base_dir: Path | None = None) -> Config:
    """Build a :class:`Config` from a plain mapping (as loaded from YAML).

    Args:
        raw: The whole configuration mapping.
        base_dir: Folder that relative ``data.path`` values resolve against.
    """
    if not isinstance(raw, Mapping):
        raise ConfigError(f"The config must be a mapping of sections; got {describe(raw)}.")
    check_keys(raw, [*SECTIONS, *_OTHER_SECTIONS], kind="section")
    for key in _REQUIRED_SECTIONS:
        if key not in raw:
            raise ConfigError(f"The config has no '{key}' section; it is required.")
    model = _parse_model(raw["model"])
    data = _resolved(parse_section(DataConfig, _default_instance_norm(raw["data"], model), "data"))
    if data.path is not None:
        path = os.path.expanduser(data.path)
        if not os.path.isabs(path):
            path = os.path.join(base_dir or os.getcwd(), path)
        data = dataclasses.replace(data, path=os.path.normpath(path))
    if data.source == "synthetic_sines" and not data.target_columns:
        data = dataclasses.replace(data, target_columns=(SYNTHETIC_COLUMN,))
    config = Config(
        data=data,
        window=parse_section(WindowConfig, raw["window"], "window"),
        model=model,
        training=parse_section(TrainingConfig, _default_loss(raw, model), "training"),
        output=parse_section(OutputConfig, raw.get("output"), "output"),
        evaluation=parse_section(EvaluationConfig, raw.get("evaluation"), "evaluation"),
    )
    registry.check_params(config.model.type, config.model.params, config.window)
    for check in CROSS_CHECKS:
        check(config)
    return config


#: The most digits an integer in a config may have: any larger cannot fit TensorFlow's
#: int64 anyway, and Python refuses to convert integers of thousands of digits.
MAX_INT_DIGITS = 40


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses repeated keys and integers of absurd length."""


def _mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict:
    loader.flatten_mapping(node)  # merge keys (<<) first, as the safe loader does
    seen: dict[Any, Any] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key '{key}' appears twice in one mapping", key_node.start_mark
            )
        seen[key] = None
    return loader.construct_mapping(node, deep=True)


def _integer(loader: _StrictLoader, node: yaml.ScalarNode) -> int:
    digits = sum(c.isdigit() for c in node.value)
    if digits > MAX_INT_DIGITS:
        raise yaml.constructor.ConstructorError(
            None, None, f"an integer of {digits} digits is out of range", node.start_mark
        )
    return loader.construct_yaml_int(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _integer)


def parse_yaml(text: str) -> Any:
    """YAML text as plain data: the safe loader, refusing repeated keys and huge integers.

    Raises:
        yaml.YAMLError: on malformed YAML, naming the line in ``problem_mark``.
    """
    return yaml.load(text, Loader=_StrictLoader)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into its key path and YAML-parsed value."""
    key, sep, value = text.partition("=")
    keys = key.strip().split(".")
    if not sep or not all(keys):
        raise ConfigError(f"--set expects KEY.PATH=VALUE, e.g. model.units=32; got '{text}'.")
    try:
        parsed = parse_yaml(value) if value.strip() else None
    except yaml.constructor.ConstructorError as exc:
        raise ConfigError(f"--set {key.strip()}: {exc.problem}.") from None
    except yaml.YAMLError:
        parsed = value
    return keys, parsed


def apply_overrides(raw: dict, overrides: list[str]) -> dict:
    """Return a copy of ``raw`` with each ``KEY.PATH=VALUE`` override set."""
    result = copy.deepcopy(raw)
    for text in overrides:
        keys, value = parse_override(text)
        node = result
        for i, key in enumerate(keys[:-1]):
            child = node.get(key)
            if child is None:
                child = node[key] = {}
            if not isinstance(child, dict):
                where = ".".join(keys[: i + 1])
                raise ConfigError(f"--set {text}: {where} is not a section.")
            node = child
        node[keys[-1]] = value
    return result


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file with the safe loader, turning every failure into ConfigError."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ConfigError(f"Config path is a directory, not a YAML file: {path}")
        if path.exists() and not path.is_file():
            raise ConfigError(f"Config path is not a regular file: {path}")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {path}") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Cannot read config file {path}: it is not UTF-8 text.") from None
    try:
        return parse_yaml(text)
    except RecursionError:
        raise ConfigError(f"Malformed YAML in {path}: nested too deeply.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"Malformed YAML in {path}{where}: {problem}.") from None


def read_config_file(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """A config file's mapping of sections with the ``KEY.PATH=VALUE`` overrides applied,
    not yet validated."""
    raw = read_yaml(path)
    if raw is None:
        raise ConfigError(f"Config file {path} is empty.")
    if not isinstance(raw, dict):
        raise ConfigError(f"The config must be a mapping of sections; got {describe(raw)}.")
    return apply_overrides(raw, list(overrides))


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Load, override and validate a config file (a ``search`` section is left to
    :func:`tsforecast.search_space.load_search`).

    Args:
        path: The YAML file.
        overrides: ``KEY.PATH=VALUE`` strings applied before validation.
    """
    raw = read_config_file(path, overrides)
    return config_from_dict(raw, base_dir=Path(path).resolve().parent)


# ---------------------------------------------------------------------------------------------
# Output


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    return value


def config_to_dict(config: Config) -> dict:
    """The fully resolved config as plain data, defaults filled in."""
    out = {}
    for name in SECTIONS:
        section = getattr(config, name)
        if name == "model":
            out[name] = {"type": section.type, **plain(section.params)}
        else:
            out[name] = plain(section)
    return out


def dump_config(config: Config) -> str:
    """The resolved config as YAML text that :func:`load_config` reads back unchanged."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, default_flow_style=None)


def _flat(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(_flat(value, f"{prefix}.{key}" if prefix else key))
    return out


def config_difference(saved: Config | dict, given: Config | dict) -> str | None:
    """The first key (outside ``output``) where two configs differ, described; else None.

    Either may be a :class:`Config` or its :func:`config_to_dict` data.
    """
    saved, given = (_flat(c if isinstance(c, dict) else config_to_dict(c)) for c in (saved, given))
    for key in [*saved, *(k for k in given if k not in saved)]:
        if key.startswith("output."):
            continue
        if saved.get(key, "(unset)") != given.get(key, "(unset)"):
            return f"{key} is {given.get(key, '(unset)')!r} here but {saved.get(key, '(unset)')!r}"
    return None
