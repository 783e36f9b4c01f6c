"""MkDocs hook: the benchmark reports (``benchmarks/*.md``, rewritten by the benchmark
scripts) become pages of the site at build time, so the site never holds a stale copy."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]

#: Page of the site -> the report it shows.
REPORTS = {
    "benchmarks/results.md": "benchmarks/RESULTS.md",
    "benchmarks/speed.md": "benchmarks/SPEED.md",
    "benchmarks/peers.md": "benchmarks/PEERS.md",
}


def on_files(files, config):
    for page, report in REPORTS.items():
        text = (ROOT / report).read_text(encoding="utf-8")
        files.append(File.generated(config, page, content=text))
    return files
