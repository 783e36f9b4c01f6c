"""``tsforecast init``: a first config drafted from a data file, with its reasons as comments.

The draft names the time column, the series id column (for a long table of many series),
the targets and the other numeric columns as inputs; picks a horizon and an input width
suited to the frequency, and a split that leaves test windows to score on; and uses
``model.type: auto``. What the file does not settle (several numeric columns, no readable
time column) is asked for by name: ``--target``, ``--time-column``, ``--id-column``.
The draft is loaded and split exactly as ``train`` will before it is returned.
"""

from __future__ import annotations

import os
import re
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tsforecast.config import Config, config_from_dict
from tsforecast.data.loading import SeriesTable, build_table, read_table
from tsforecast.data.splits import split_bounds
from tsforecast.data.times import parse_times
from tsforecast.errors import ConfigError, DataError
from tsforecast.evaluation import season_length
from tsforecast.files import check_outside

#: Column names that say "time" (matched as whole words, any case).
_TIME_NAMES = re.compile(r"(^|_)(time|date|datetime|timestamp|ds|year|period|month|week)s?($|_)")
#: Column names that say "the value to forecast" when several columns are numeric.
_TARGET_NAMES = ("y", "target")
#: The share of each series' rows for validation and for test, when it leaves enough.
_SHARE = 0.15
#: Test windows a split should leave when the series are long enough.
_WANTED_WINDOWS = 10


@dataclass(frozen=True)
class Draft:
    """A drafted config.

    Attributes:
        text: The commented YAML, ready to write.
        config: It, validated.
        summary: One line per decision, for the terminal.
    """

    text: str
    config: Config
    summary: tuple[str, ...]


@dataclass(frozen=True)
class _Columns:
    time: str
    ids: str | None
    targets: tuple[str, ...]
    features: tuple[str, ...]
    static: tuple[str, ...]
    ignored: tuple[str, ...]


def _is_numeric(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)


def _reads_as_times(frame: pd.DataFrame, name: str) -> bool:
    try:
        parse_times(frame[name].dropna(), name)
    except (DataError, ValueError, TypeError, OverflowError):
        return False
    return frame[name].notna().all()


def _time_column(frame: pd.DataFrame, given: str | None, data: Path) -> str:
    if given is not None:
        _check_present(frame, given, "--time-column", data)
        parse_times(frame[given], given)  # a DataError names the first value that is not one
        return given
    named = [c for c in frame.columns if _TIME_NAMES.search(str(c).lower())]
    others = [c for c in frame.columns if c not in named and not _is_numeric(frame[c])]
    for name in [*named, *others]:  # numbers are years only in a column named for time
        if (name in named or not _is_numeric(frame[name])) and _reads_as_times(frame, name):
            return str(name)
    raise ConfigError(
        f"No column of {data} reads as timestamps (columns: {_listed(frame.columns)}); "
        "name it with --time-column."
    )


def _id_column(frame: pd.DataFrame, time: str, given: str | None, data: Path) -> str | None:
    if given is not None:
        _check_present(frame, given, "--id-column", data)
        return given
    if not frame[time].duplicated().any():
        return None
    candidates = [
        str(c)
        for c in frame.columns
        if c != time
        and (not _is_numeric(frame[c]) or str(c).lower().endswith("id"))
        and frame[c].notna().all()
        and 1 < frame[c].nunique() < len(frame)
        and not frame.duplicated([c, time]).any()
    ]
    if not candidates:
        raise ConfigError(
            f"Timestamps repeat in column '{time}' of {data}, and no column tells the series "
            "apart; name it with --id-column."
        )
    return min(candidates, key=lambda c: frame[c].nunique())


def _constant_per_series(frame: pd.DataFrame, name: str, ids: str | None) -> bool:
    if ids is None:
        return False
    return bool((frame.groupby(ids, sort=False)[name].nunique(dropna=False) <= 1).all())


def _columns(
    frame: pd.DataFrame,
    data: Path,
    time_column: str | None,
    id_column: str | None,
    targets: tuple[str, ...],
) -> _Columns:
    time = _time_column(frame, time_column, data)
    ids = _id_column(frame, time, id_column, data)
    rest = [str(c) for c in frame.columns if c not in (time, ids)]
    numeric = [c for c in rest if _is_numeric(frame[c])]
    static = tuple(c for c in rest if _constant_per_series(frame, c, ids))
    varying = [c for c in numeric if c not in static]
    for name in targets:
        _check_present(frame, name, "--target", data)
        if name not in numeric:
            raise ConfigError(f"--target '{name}' is not a numeric column of {data}.")
    if not targets:
        conventional = [c for c in varying if c.lower() in _TARGET_NAMES]
        if len(varying) == 1 or len(conventional) == 1:
            targets = tuple(conventional or varying)
        elif not varying:
            raise ConfigError(f"{data} has no numeric column that varies over time to forecast.")
        else:
            raise ConfigError(
                f"{data} has {len(varying)} numeric columns ({_listed(varying)}); name the "
                "one to forecast with --target (repeatable); the others become inputs."
            )
    features = tuple(c for c in varying if c not in targets)
    ignored = tuple(c for c in rest if c not in (*targets, *features, *static))
    return _Columns(time, ids, tuple(targets), features, static, ignored)


def _check_present(frame: pd.DataFrame, name: str, option: str, data: Path) -> None:
    if name not in frame.columns:
        raise ConfigError(
            f"{option} '{name}' is not a column of {data} (columns: {_listed(frame.columns)})."
        )


def _listed(names: Any, most: int = 8) -> str:
    names = [str(n) for n in names]
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _cadence(frequency: str | None) -> tuple[str, int, int]:
    """A word for ``frequency`` and the horizon and input width that suit it."""
    season = season_length(frequency)
    offset = pd.tseries.frequencies.to_offset(frequency) if frequency else None
    kind = type(offset).__name__ if offset is not None else ""
    if isinstance(offset, pd.tseries.offsets.Tick) and offset.nanos < pd.Timedelta("1h").value:
        horizon = min(season, 96) if season > 1 else 60
        return f"every {pd.Timedelta(offset.nanos)}", horizon, 4 * horizon
    if isinstance(offset, pd.tseries.offsets.Tick) and season > 1:
        return (
            ("hourly" if season == 24 else f"every {pd.Timedelta(offset.nanos)}"),
            season,
            7 * season,
        )
    table = {
        7: ("daily", 14, 56),
        5: ("business-daily", 10, 40),
        52: ("weekly", 13, 52),
        12: ("monthly", 12, 36),
        4: ("quarterly", 8, 24),
    }
    if season in table:
        return table[season]
    if kind in ("YearBegin", "YearEnd"):
        return "yearly", 6, 24
    return f"at frequency {frequency}", 10, 30


@dataclass(frozen=True)
class _Plan:
    horizon: int
    width: int
    part: int  # validation and test rows of each series, or 0 for the share
    test_windows: int
    min_inputs: int | None = None  # windows of short series padded to this many observed


#: Rows a series must hold before its validation split, at the least.
_LEAST_OBSERVED = 2


def _plan(shortest: int, horizon: int, width: int, fixed_horizon: bool) -> _Plan:
    """The horizon (the suggested one, or shorter unless given), width and validation and
    test rows for the shortest series: 15% of its rows each, or more for ten test windows
    (else five) while the input keeps two horizons; at least one window with an input as
    long as the horizon. Failing that, one validation and one test window per series and
    an input width of whole horizons, the short series' windows padded on the left
    (``window.min_inputs``), as long as the shortest series holds a few rows before them."""
    share = round(_SHARE * shortest)
    for h in range(horizon, horizon - 1 if fixed_horizon else 0, -1):
        for windows, floor in ((_WANTED_WINDOWS, 2 * h), (5, 2 * h), (1, h)):
            part = max(share, h + windows - 1)
            w = min(width, shortest - 2 * part - h)
            if w >= min(width, floor):
                return _Plan(h, w, 0 if part == share else part, part - h + 1)
    train = shortest - 2 * horizon  # rows before validation in the shortest series
    if train >= _LEAST_OBSERVED:
        whole = max(2, -(-width // horizon)) * horizon  # the width in whole horizons
        # its own training windows where it can hold some, else at most a horizon observed
        observed = train - horizon if train - horizon >= 1 else train
        return _Plan(horizon, whole, horizon, 1, max(1, min(horizon, observed)))
    raise ConfigError(
        f"The shortest series has {shortest} rows: too few for a horizon of {horizon} with "
        f"validation and test windows (it needs {2 * horizon + _LEAST_OBSERVED}); give a "
        "shorter --horizon or longer series."
    )


def _flow(value: Any) -> str:
    """``value`` as a one-line YAML value."""
    text = yaml.safe_dump([value], default_flow_style=True, sort_keys=False, width=10_000)
    return text.strip()[1:-1]


def _check_loads(frame: pd.DataFrame, config: Config) -> tuple[SeriesTable, str | None]:
    """The table the config reads, filling gaps when it has any, and the first gap."""
    try:
        return build_table(frame, config.data), None
    except DataError as exc:
        if "data.missing" not in str(exc):
            raise
        filled = replace(config.data, missing="interpolate")
        first = re.split(r"[.;] [Ss]et data\.missing", str(exc))[0]
        return build_table(frame, filled), first + "."


def draft_config(
    data_path: str | Path,
    *,
    config_dir: str | Path = ".",
    horizon: int | None = None,
    time_column: str | None = None,
    id_column: str | None = None,
    targets: tuple[str, ...] = (),
) -> Draft:
    """Draft a config for ``data_path``, to be saved in ``config_dir``.

    Raises:
        ConfigError: for what the file does not settle, naming the option that does.
        DataError: when the file cannot be read or its time column parsed.
    """
    data = Path(data_path)
    frame = read_table(data)
    columns = _columns(frame, data, time_column, id_column, targets)
    relative = os.path.relpath(data.resolve(), Path(config_dir).resolve())
    raw: dict[str, Any] = {
        "data": {
            "path": relative,
            "time_column": columns.time,
            **({"id_column": columns.ids} if columns.ids else {}),
            "target_columns": list(columns.targets),
            **({"feature_columns": list(columns.features)} if columns.features else {}),
            **({"static_columns": list(columns.static)} if columns.static else {}),
        },
        "window": {"input_width": 1, "horizon": 1},
        "model": {"type": "auto"},
    }
    config = config_from_dict(raw, Path(config_dir))
    table, gap = _check_loads(frame, config)
    if gap is not None:
        raw["data"]["missing"] = "interpolate"
    cadence, suggested, width = _cadence(table.frequency)
    if horizon is not None:
        width = max(width, 3 * horizon)
    lengths = np.diff(table.offsets)
    plan = _plan(int(lengths.min()), horizon or suggested, width, horizon is not None)
    split = {"val": plan.part, "test": plan.part} if plan.part else {"val": 0.15, "test": 0.15}
    raw["data"]["split"] = split
    raw["window"] = {"input_width": plan.width, "horizon": plan.horizon}
    if plan.min_inputs is not None:
        raw["window"]["min_inputs"] = plan.min_inputs
    config = config_from_dict(raw, Path(config_dir))
    split_bounds(table, config.data.split, plan.width, plan.horizon, plan.min_inputs)
    reasons = {
        "data": _data_comments(columns, table, gap, cadence),
        "split": _split_comment(plan, table),
        "window": _window_comment(plan, cadence, suggested, horizon),
    }
    text = _render(raw, reasons, data)
    config_from_dict(yaml.safe_load(text), Path(config_dir))  # what is written validates
    summary = (
        f"time column '{columns.time}' ({cadence}, {len(lengths)} series of "
        f"{int(lengths.min())}-{int(lengths.max())} rows)",
        f"forecast {_listed(columns.targets)}, {plan.horizon} steps from {plan.width}",
        f"{plan.test_windows} test windows in the shortest series",
    )
    return Draft(text=text, config=config, summary=summary)


def save(draft: Draft, path: str | Path) -> None:
    """Write the draft to ``path``, which must not exist yet.

    Raises:
        ConfigError: when it does, or cannot be written.
    """
    check_outside(path, [], "--output")
    try:
        with open(path, "x", encoding="utf-8") as handle:
            handle.write(draft.text)
    except FileExistsError:
        raise ConfigError(f"{path} exists; init writes new configs only.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot write {path}: {exc.strerror or exc}.") from None


def _data_comments(
    columns: _Columns, table: SeriesTable, gap: str | None, cadence: str
) -> list[str]:
    lines = [f"'{columns.time}' holds the timestamps: {cadence} ({table.frequency})."]
    if columns.ids:
        lines.append(f"'{columns.ids}' names the series: {table.n_series} of them, stacked.")
    if columns.features:
        lines.append(
            "The other numeric columns are past inputs; move those known ahead (planned "
            "prices, calendars) to future_columns."
        )
    if columns.static:
        lines.append(f"{_listed(columns.static)}: constant within each series, read as static.")
    if columns.ignored:
        lines.append(f"Not used (neither numbers nor timestamps): {_listed(columns.ignored)}.")
    if gap is not None:
        lines.append(f"Gaps are filled by linear interpolation. {gap}")
    return lines


def _split_comment(plan: _Plan, table: SeriesTable) -> list[str]:
    shares = f"{plan.part} rows" if plan.part else "15% of the rows"
    windows = f"{plan.test_windows} test window{'s' if plan.test_windows > 1 else ''}"
    if table.n_series == 1:
        return [f"Validation and test take {shares} each: {windows}."]
    return [
        f"Validation and test take {shares} of each series: {windows} in the shortest, "
        f"{plan.test_windows * table.n_series} or more in all."
    ]


def _window_comment(plan: _Plan, cadence: str, suggested: int, given: int | None) -> list[str]:
    if given is not None:
        why = f"--horizon {given}"
    elif plan.horizon == suggested:
        why = f"the usual horizon for {cadence} data"
    else:
        why = f"shortened from {suggested} to fit the shortest series"
    lines = [f"{plan.horizon} steps ahead ({why}) from the last {plan.width}."]
    if plan.min_inputs is not None:
        lines.append(
            f"Some series are shorter than one window: windows need only {plan.min_inputs} "
            "observed steps, the rest padded with the series' first value."
        )
    return lines


def _one_line(text: str) -> str:
    """``text`` safe inside a YAML comment: line breaks and other control characters
    written as escapes, so no name can end the comment."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _comments(lines: list[str]) -> list[str]:
    return [f"  # {part}" for line in lines for part in textwrap.wrap(_one_line(line), 86)]


def _render(raw: dict[str, Any], reasons: dict[str, list[str]], data: Path) -> str:
    out = [
        f"# A first config for {_one_line(data.name)}, drafted by `tsforecast init`. Check the",
        "# comments, then: tsforecast train THIS_FILE",
        "data:",
    ]
    out += _comments(reasons["data"])
    for key, value in raw["data"].items():
        if key == "split":
            out += _comments(reasons["split"])
        out.append(f"  {key}: {_flow(value)}")
    out += ["window:", *_comments(reasons["window"])]
    out += [f"  {key}: {_flow(value)}" for key, value in raw["window"].items()]
    out += [
        "model:",
        "  # auto fits baselines, linear models, MLPs, N-HiTS (TiDE with covariates) and",
        "  # statistical models, combines the best on validation windows and refits them on",
        "  # the training and validation rows; candidates.csv lists them all.",
        "  type: auto",
        "  preset: medium  # fast | medium | best",
        "training:",
        "  epochs: 30",
        "  early_stopping: {patience: 5}",
        "output:",
        "  dir: runs",
    ]
    return "\n".join(out) + "\n"
