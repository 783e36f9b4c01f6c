"""Declarative, typed config sections: field helpers and the one generic parser.

Sections are frozen dataclasses whose fields carry help text and a value check. The parser
turns YAML mappings into them: unknown keys fail with a "did you mean" hint, and every
message names the dotted path and the value received. No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import types
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from tsforecast.errors import ConfigError

# ---------------------------------------------------------------------------------------------
# Field helpers


def option(default: Any = dataclasses.MISSING, *, help: str, check: Callable | None = None):
    """A dataclass field with help text and an optional value check.

    Args:
        default: Default value; omit for a required key. Lists are given as tuples.
        help: One sentence for the config reference.
        check: ``check(value) -> str | None`` returning a complaint, e.g. "a positive integer".
    """
    return field(default=default, metadata={"help": help, "check": check})


def positive(value: Any) -> str | None:
    return None if value > 0 else "a positive number"


def non_negative(value: Any) -> str | None:
    return None if value >= 0 else "zero or more"


def non_empty(value: Any) -> str | None:
    return None if len(value) > 0 else "a non-empty list"


def unique(value: Any) -> str | None:
    return None if len(set(value)) == len(value) else "a list without repeated names"


def split_size(value: Any) -> str | None:
    if isinstance(value, float) and 0.0 < value < 1.0:
        return None
    if isinstance(value, int) and value >= 1:
        return None
    return "a fraction between 0 and 1 or a positive row count"


def all_positive(value: Any) -> str | None:
    return None if all(v > 0 for v in value) else "a list of positive integers"


def fraction(value: Any) -> str | None:
    return None if 0.0 <= value <= 1.0 else "a fraction in [0, 1]"


def open_fraction(value: Any) -> str | None:
    return None if 0.0 < value < 1.0 else "a fraction strictly between 0 and 1"


def probability(value: Any) -> str | None:
    return None if 0.0 <= value < 1.0 else "a rate in [0, 1)"


def seed_range(value: Any) -> str | None:
    return None if 0 <= value < 2**32 else "an integer from 0 to 4294967295"


def path_text(value: Any) -> str | None:
    return None if "\x00" not in value else "a path without NUL characters"


#: Integers in a config must fit TensorFlow's int64.
MAX_INT = 2**63 - 1


_RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def safe_name(value: Any) -> str | None:
    if value is None or _RUN_NAME.fullmatch(value):
        return None
    return "a plain name of letters, digits, '.', '_' or '-' (no path separators)"


# ---------------------------------------------------------------------------------------------
# Parsing


def describe(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        scalars = all(isinstance(v, str | int | float) for v in value)
        if scalars and 0 < len(value) <= 8:
            return "[" + ", ".join(str(v) for v in value) + "]"
        return "a list"
    return str(value)


def suggest(key: str, valid: list[str]) -> str:
    """`` Did you mean 'x'?`` for the closest valid name, or an empty string."""
    close = difflib.get_close_matches(str(key), valid, n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def hint(key: str, valid: list[str]) -> str:
    """A suggestion for a misspelt key, or the list of valid keys."""
    return suggest(key, valid) or f" Valid keys: {', '.join(valid)}."


def check_keys(raw: Mapping, valid: list[str], where: str = "", kind: str = "key") -> None:
    """Raise a ConfigError naming the first key of ``raw`` that is not in ``valid``, with a
    "did you mean" hint or the list of valid keys.

    Args:
        raw: A mapping read from YAML.
        valid: The keys it may hold.
        where: Dotted path of the mapping, for the message ("" at the top).
        kind: What a key is called in the message, e.g. ``section``.
    """
    for key in raw:
        if key not in valid:
            name = f"{where}.{key}" if where else str(key)
            raise ConfigError(f"Unknown {kind} '{name}'.{hint(str(key), valid)}")


def _convert(tp: Any, value: Any, path: str) -> Any:
    """Convert a YAML value to the annotated type, or raise ConfigError naming ``path``."""
    origin = get_origin(tp)
    if origin is Literal:
        choices = get_args(tp)
        # A choice matches only a value of its own kind: YAML `false` is not 0 or 'false'.
        if not any(value == c and isinstance(value, bool) == isinstance(c, bool) for c in choices):
            names = ", ".join(describe(c) if isinstance(c, bool) else str(c) for c in choices)
            raise ConfigError(f"{path} must be one of {names}; got {describe(value)}.")
        return value
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if value is None:
            if len(args) < len(get_args(tp)):
                return None
            raise ConfigError(f"{path} must not be null.")
        if set(args) == {int, float}:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{path} must be a number; got {describe(value)}.")
            return _convert(float if isinstance(value, float) else int, value, path)
        return _convert(args[0], value, path)
    if origin is tuple:
        (item_type, _) = get_args(tp)
        items = value if isinstance(value, list | tuple) else [value]
        return tuple(_convert(item_type, v, f"{path}[{i}]") for i, v in enumerate(items))
    if dataclasses.is_dataclass(tp):
        return parse_section(tp, value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{path} must be true or false; got {describe(value)}.")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{path} must be an integer; got {describe(value)}.")
        if abs(value) > MAX_INT:
            raise ConfigError(f"{path} must be an integer below 2**63; got {describe(value)}.")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{path} must be a number; got {describe(value)}.")
        if not math.isfinite(value):
            raise ConfigError(f"{path} must be a finite number; got {describe(value)}.")
        return float(value)
    if tp is str:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{path} must be a non-empty string; got {describe(value)}.")
        return value
    raise TypeError(f"unsupported config type {tp!r} at {path}")  # a bug, not user input


def parse_section(cls: type, raw: Any, path: str) -> Any:
    """Parse a mapping into the frozen dataclass ``cls``.

    Args:
        cls: A dataclass whose fields were declared with :func:`option`.
        raw: The YAML mapping (``None`` means an empty mapping).
        path: Dotted path of this section, for messages.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{path} must be a mapping of keys; got {describe(raw)}.")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    check_keys(raw, list(fields), path)
    values = {}
    for name, f in fields.items():
        where = f"{path}.{name}"
        if name not in raw:
            if f.default is dataclasses.MISSING:
                raise ConfigError(f"{where} is required.")
            continue
        value = _convert(hints[name], raw[name], where)
        check = f.metadata.get("check")
        if check is not None and value is not None:
            complaint = check(value)
            if complaint:
                raise ConfigError(f"{where} must be {complaint}; got {describe(raw[name])}.")
        values[name] = value
    return cls(**values)
