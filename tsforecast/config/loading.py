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


def _default_loss(raw: Mapping, model: ModelConfig) -> Any:
    """The quantile head's loss defaults to pinball; other heads keep the schema default."""
    training = raw.get("training")
    if getattr(model.params, "head", "vector") != "quantile":
        return training
    if training is None:
        return {"loss": "pinball"}
    if isinstance(training, Mapping) and "loss" not in training:
        return {**training, "loss": "pinball"}
    return training


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
    data = parse_section(DataConfig, raw["data"], "data")
    if data.path is not None:
        path = os.path.expanduser(data.path)
        if not os.path.isabs(path):
            path = os.path.join(base_dir or os.getcwd(), path)
        data = dataclasses.replace(data, path=os.path.normpath(path))
    if data.source == "synthetic_sines" and not data.target_columns:
        data = dataclasses.replace(data, target_columns=(SYNTHETIC_COLUMN,))
    model = _parse_model(raw["model"])
    config = Config(
        data=data,
        window=parse_section(WindowConfig, raw["window"], "window"),
        model=model,
        training=parse_section(TrainingConfig, _default_loss(raw, model), "training"),
        output=parse_section(OutputConfig, raw.get("output"), "output"),
    )
    registry.check_params(config.model.type, config.model.params, config.window)
    for check in CROSS_CHECKS:
        check(config)
    return config


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into its key path and YAML-parsed value."""
    key, sep, value = text.partition("=")
    keys = key.strip().split(".")
    if not sep or not all(keys):
        raise ConfigError(f"--set expects KEY.PATH=VALUE, e.g. model.units=32; got '{text}'.")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
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
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"Config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"Config path is a directory, not a YAML file: {path}") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise ConfigError(f"Cannot read config file {path}: it is not UTF-8 text.") from None
    try:
        return yaml.safe_load(text)
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
