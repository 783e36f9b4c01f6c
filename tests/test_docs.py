"""The generated reference pages are current, and every config key and command option
has a description."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import sys
from pathlib import Path
from typing import get_type_hints

import click

from tsforecast.cli import main
from tsforecast.config import ModelConfig
from tsforecast.config.loading import SECTIONS
from tsforecast.models import registry
from tsforecast.search_space import SearchSettings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def generator():
    spec = importlib.util.spec_from_file_location("gen_reference", DOCS / "gen_reference.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("gen_reference", module)
    spec.loader.exec_module(module)
    return module


def sections_of(page: str) -> dict[str, str]:
    """``## heading`` -> the text under it."""
    parts = re.split(r"^## (.+)$", page, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def schema_fields(cls: type, path: str):
    """``(dotted key, help)`` of every leaf field of a config section, read from the schema."""
    hints = get_type_hints(cls)
    for field in dataclasses.fields(cls):
        where = f"{path}.{field.name}"
        if dataclasses.is_dataclass(hints[field.name]):
            yield from schema_fields(hints[field.name], where)
        else:
            yield where, field.metadata.get("help", "")


# ---------------------------------------------------------------------------------------------
# Generated reference


def test_reference_pages_are_current():
    for path, text in generator().pages().items():
        assert path.is_file(), f"{path} is missing; run: make reference"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale; run: make reference"


def test_every_config_key_is_described_in_the_reference():
    page = sections_of((DOCS / "reference" / "config.md").read_text())
    parts = [(name, cls) for name, cls in SECTIONS.items() if cls is not ModelConfig]
    parts += [("search", SearchSettings)]
    for name, cls in parts:
        for key, text in schema_fields(cls, name):
            assert text, f"config key {key} has no help text in the schema"
            assert f"| `{key}` |" in page[f"`{name}`"], f"{key} is not in the config reference"
    assert "| `model.type` |" in page["`model`"]
    assert "| `search.space` |" in page["`search`"]
    for spec in registry.specs():
        family = page[f"`model.type: {spec.name}`"]
        for key, text in schema_fields(spec.params, "model"):
            assert text, f"{key} of model.type {spec.name} has no help text"
            assert f"| `{key}` |" in family, f"{key} ({spec.name}) is not in the reference"


def test_every_command_and_option_is_described_in_the_reference():
    page = sections_of((DOCS / "reference" / "cli.md").read_text())
    with click.Context(main) as ctx:
        commands = {name: main.get_command(ctx, name) for name in main.list_commands(ctx)}
    for name, command in {"": main, **commands}.items():
        title = f"`tsforecast {name}`".replace(" `", "`")
        assert command.help, f"tsforecast {name} has no help text"
        assert title in page, f"tsforecast {name} is not in the command reference"
        for param in command.params:
            if isinstance(param, click.Argument):
                described = param.human_readable_name.strip("[].")  # CONFIG... or [CONFIG]
                assert described in command.help or isinstance(param.type, click.Choice), (
                    f"tsforecast {name}: its help does not describe {described}"
                )
                continue
            assert param.help, f"tsforecast {name} {param.opts[0]} has no help text"
            for flag in param.opts:
                assert f"`{flag}" in page[title], f"tsforecast {name} {flag} is not documented"
