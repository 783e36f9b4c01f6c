"""The docs tell the truth about the code: the generated reference pages are current,
every config key and command option has a description, the site builds with
``mkdocs build --strict``, and the README is short and names what exists."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import get_type_hints

import click
import pytest

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


def test_the_site_builds_strictly(tmp_path):
    """``mkdocs build --strict``: every page in the nav, every link and anchor resolving,
    offline (the plain theme without highlight.js fetches nothing)."""
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    for page in ("reference/config", "reference/cli", "guide/models", "benchmarks/results"):
        assert (tmp_path / page / "index.html").is_file(), page
    html = "".join(p.read_text() for p in tmp_path.rglob("*.html"))
    assert "cdnjs" not in html and "googleapis" not in html


def first_cells(text: str) -> str:
    """The first cell of every table row: where a table names what it describes."""
    return " ".join(re.findall(r"^\| ([^|]+) \|", text, flags=re.M))


def test_the_models_page_describes_every_family():
    families = first_cells(sections_of((DOCS / "guide" / "models.md").read_text())["Families"])
    for name in registry.names():
        assert f"`{name}`" in families, name


# ---------------------------------------------------------------------------------------------
# README


README = (ROOT / "README.md").read_text()


def test_readme_is_a_front_page():
    assert len(README.splitlines()) <= 150
    first = README[README.index("```") : README.index("```", README.index("```") + 3)]
    assert "make demo" in first and "make test" in first, "the two commands come first"


def test_readme_make_targets_and_files_exist():
    targets = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), flags=re.M))
    for target in re.findall(r"\bmake ([\w-]+)", README):
        assert target in targets, f"make {target}"
    for path in re.findall(r"\b((?:configs|data|benchmarks|docs)/[\w./-]+\.\w+)", README):
        assert (ROOT / path).exists(), path
    for link in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README):
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link


def code_lines(text: str) -> list[str]:
    """The lines of the fenced code blocks of a Markdown text."""
    return [
        line
        for block in re.findall(r"^```.*?\n(.*?)^```", text, re.M | re.S)
        for line in block.splitlines()
    ]


def commands_run(text: str) -> list[str]:
    """The ``tsforecast COMMAND`` of every command line in the code blocks."""
    found = []
    for line in code_lines(text):
        found += re.findall(r"^(?:\$ )?(?:\w+=\S+ )*tsforecast ([a-z]+)\b", line.strip())
    return found


def test_readme_tables_name_every_command_and_family():
    named = first_cells(README)
    with click.Context(main) as ctx:
        for name in main.list_commands(ctx):
            assert f"`{name}`" in named, name
    for name in registry.names():
        assert f"`{name}`" in named, name
    for command in commands_run(README):
        assert command in main.commands, command


@pytest.mark.parametrize("page", sorted(p.name for p in (DOCS / "guide").glob("*.md")))
def test_guide_pages_name_only_real_commands(page):
    for command in commands_run((DOCS / "guide" / page).read_text()):
        assert command in main.commands, f"{page}: tsforecast {command}"


def test_readme_m3_figures_are_the_benchmark_results():
    stored = json.loads((ROOT / "benchmarks" / "m3.json").read_text())
    rows = {"tsforecast `auto`": "auto", "statsforecast AutoETS, same windows": "AutoETS"}
    for line in README.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] not in rows:
            continue
        name = rows.pop(cells[0])
        frequencies = ("yearly", "quarterly", "monthly", "other")
        shown = [f"{stored['records'][f]['rows'][name]['smape']:.2f}" for f in frequencies]
        assert cells[1:5] == shown, (name, cells)
        assert cells[5] == f"{stored['average'][name]['smape']:.2f}"
    assert not rows, f"README lacks the M3 rows {sorted(rows)}"


def test_readme_peer_figures_are_the_benchmark_results():
    spec = importlib.util.spec_from_file_location("peers", ROOT / "benchmarks" / "peers.py")
    peers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peers)
    stored = json.loads((ROOT / "benchmarks" / "peers.json").read_text())
    rows = {
        "NLinear, ETTh1, horizon 96": "nlinear96",
        "NLinear, ETTh1, horizon 720": "nlinear720",
        "LSTM, ETTh1 load, horizon 24": "lstm_load24",
        "N-HiTS, 10,000 series": "panel",
    }
    for line in README.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] not in rows:
            continue
        table = peers.summary(stored["runs"], rows.pop(cells[0]), stored["tools"])
        shown = [
            f"{peers.number(s['wall_s'])} s, {s['test_mse']:.3f}, "
            f"{peers.number(s['peak_rss_mb'])} MB"
            for s in (table[tool] for tool in ("tsforecast", "darts", "neuralforecast"))
        ]
        assert cells[1:] == shown, cells
    assert not rows, f"README lacks the peer rows {sorted(rows)}"
