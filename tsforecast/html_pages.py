"""The HTML pages: a run's ``report.html`` and compare's leaderboard (``--html``)."""

from __future__ import annotations

from typing import Any

from tsforecast.config.sections import CLASSICAL_BASELINES
from tsforecast.reports import SUMMARY_METRICS, number, summary_table

# ---------------------------------------------------------------------------------------------
# HTML reports: one file each, with the figures inside, to open or publish as a CI artifact

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.verdict { font-weight: 600; } .muted { color: #666; } img { max-width: 100%; }
pre { background: #f6f6f6; padding: 1em; overflow-x: auto; font-size: 0.85em; }
"""


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    from html import escape

    head = "".join(f"<th>{escape(str(cell))}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(number(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _page(title: str, body: str) -> str:
    from html import escape

    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>\n{body}\n</body></html>\n"
    )


def run_report(
    name: str, metrics: dict[str, Any], config_text: str, figures: dict[str, bytes]
) -> str:
    """``report.html`` of a run: its metrics beside the baselines, the periods of its
    splits, its figures (PNG, embedded) and its config.

    Args:
        name: The run directory's name.
        metrics: The run's metrics.json data.
        config_text: Its resolved config (YAML).
        figures: Caption -> PNG bytes.
    """
    import base64
    from html import escape

    model = str(metrics["model"])
    members = (metrics.get("auto") or {}).get("members")
    if members:  # model.type auto: what it kept
        model += " kept " + ", ".join(f"{m['candidate']} ({m['weight']:.2f})" for m in members)
    parts = [f'<p class="muted">Model {escape(model)}</p>']
    summary = summary_table(metrics).splitlines()
    verdicts = [line for line in summary if line.startswith(("On ", "This run", "The ", "model."))]
    parts += [f'<p class="verdict">{escape(line)}</p>' for line in verdicts]
    for part in ("test", "val"):
        section = metrics[part]
        who = [
            w for w in ("model", "naive", "seasonal_naive", *CLASSICAL_BASELINES) if w in section
        ]
        rows = [[m, *(section[w].get(m) for w in who)] for m in SUMMARY_METRICS]
        title = "Test" if part == "test" else "Validation"
        parts.append(f"<h2>{title} metrics ({section['n_windows']:,} windows)</h2>")
        parts.append(_html_table(["metric", *(w.replace("_", " ") for w in who)], rows))
    periods = metrics.get("periods", {})
    if periods:
        parts.append("<h2>Periods</h2>")
        rows = [
            [p, v["first"] or "-", v["last"] or "-", v["rows"], v["windows"]]
            for p, v in periods.items()
        ]
        parts.append(_html_table(["split", "first", "last", "rows", "windows"], rows))
    training = metrics.get("training", {})
    if training:
        parts.append("<h2>Training</h2>")
        parts.append(_html_table(["", "value"], [[k, v] for k, v in training.items()]))
    for caption, png in figures.items():
        data = base64.b64encode(png).decode("ascii")
        image = f'<img alt="{escape(caption)}" src="data:image/png;base64,{data}">'
        parts.append(f"<h2>{escape(caption)}</h2>{image}")
    parts.append(f"<h2>Config</h2><pre>{escape(config_text)}</pre>")
    return _page(f"Run {name}", "\n".join(parts))


def leaderboard_html(rows: list[dict[str, Any]]) -> str:
    """The leaderboard as one HTML page: a ranked table per group of comparable runs."""
    from html import escape

    parts = []
    for title in dict.fromkeys(row["group"] for row in rows):
        members = [row for row in rows if row["group"] == title]
        columns = [k for k in members[0] if k not in ("metrics", "path", "group", "alone")]
        note = " (no other run is scored on these test windows)" if members[0]["alone"] else ""
        parts.append(f"<h2>Test windows: {escape(title)}{escape(note)}</h2>")
        parts.append(_html_table(columns, [[row[c] for c in columns] for row in members]))
    return _page("Leaderboard", "\n".join(parts))
