"""Reading a table and validating it into series, before anything is fitted."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsforecast.config import DataConfig
from tsforecast.config.data import SYNTHETIC_COLUMN, SyntheticConfig, calendar_columns
from tsforecast.data.calendar import calendar_values
from tsforecast.data.synthetic import sine_series
from tsforecast.data.times import TimeStyle, parse_times, regularise
from tsforecast.errors import DataError


@dataclass(frozen=True)
class StaticCovariates:
    """Per-series values that do not change over time.

    Attributes:
        numeric: ``(n_series, len(numeric_names))`` float64 values.
        numeric_names: Their columns.
        categorical: ``(n_series, len(categorical_names))`` category names (str).
        categorical_names: Their columns (the id column, with data.id_embedding).
    """

    numeric: np.ndarray
    numeric_names: tuple[str, ...]
    categorical: np.ndarray
    categorical_names: tuple[str, ...]


@dataclass(frozen=True)
class SeriesTable:
    """Validated series stacked one after another, in original units.

    Attributes:
        values: ``(n_rows, n_columns)`` float64: the targets, the past-only features, then
            the known-future covariates (future columns, then calendar features).
        columns: Names of the ``values`` columns.
        n_targets: How many leading columns are targets.
        offsets: ``(n_series + 1,)`` row offsets; series ``i`` is ``offsets[i]:offsets[i+1]``.
        ids: Series names (``None`` without an id column).
        times: ``(n_rows,)`` datetime64 timestamps (in UTC where the data named a time
            zone or an offset), or ``None`` without a time column.
        zones: Per series, the time zone (or fixed UTC offset) of its last timestamp, in
            which its forecasts are stamped; None for timestamps without one.
        n_future: How many trailing columns are known ahead.
        static: Per-series covariates, or None.
        time_style: How the input writes its timestamps.
        frequency: The pandas frequency of the timestamps, or None.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    n_targets: int
    offsets: np.ndarray
    ids: tuple[str, ...] | None
    times: np.ndarray | None
    zones: tuple[Any, ...] | None = None
    n_future: int = 0
    static: StaticCovariates | None = None
    time_style: TimeStyle | None = None
    frequency: str | None = None

    @property
    def n_series(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_past(self) -> int:
        """Columns read over the input window only: the targets and past features."""
        return len(self.columns) - self.n_future

    def series_name(self, i: int) -> str:
        return f"'{self.ids[i]}'" if self.ids is not None else "the series"

    def series_of_rows(self) -> np.ndarray:
        """``(n_rows,)`` the series each row belongs to."""
        return np.repeat(np.arange(self.n_series), np.diff(self.offsets))


def _read_errors() -> tuple[type[BaseException], ...]:
    """What pandas raises for files it cannot read, compressed ones (by suffix) included."""
    import lzma
    import tarfile
    import zipfile

    from pyarrow import ArrowException

    return (
        OSError,
        ValueError,
        TypeError,
        NotImplementedError,
        EOFError,
        ImportError,  # a compression whose optional library is not installed (.zst)
        pd.errors.ParserError,
        zipfile.BadZipFile,
        lzma.LZMAError,
        tarfile.TarError,
        ArrowException,
    )


def read_table(path: str | Path, file_format: str = "auto") -> pd.DataFrame:
    """Read a CSV or Parquet file, turning every failure into a DataError."""
    path = Path(path)
    try:
        if not path.exists():
            raise DataError(f"Data file not found: {path}")
        if not path.is_file():
            raise DataError(f"Data path is not a file: {path}")
    except OSError as exc:
        raise DataError(f"Cannot read data file {path}: {exc.strerror or exc}.") from None
    if file_format == "auto":
        file_format = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    try:
        frame = pd.read_parquet(path) if file_format == "parquet" else pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise DataError(f"Data file {path} is empty.") from None
    except UnicodeDecodeError:
        raise DataError(f"Cannot read CSV file {path}: it is not UTF-8 text.") from None
    except _read_errors() as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"Cannot read {file_format.upper()} file {path}: {first}") from None
    if frame.empty:
        raise DataError(f"Data file {path} has no data rows.")
    if file_format == "csv":
        if not isinstance(frame.index, pd.RangeIndex):  # pandas made the extra fields an index
            raise DataError(
                f"Data file {path} has rows with more fields than its header has columns "
                f"({len(frame.columns)}); check the delimiter and quoting."
            )
        _check_header(path, frame)
    return frame


def _check_header(path: Path, frame: pd.DataFrame) -> None:
    """pandas renames a repeated CSV column ``a`` to ``a.1``; refuse repeats instead."""
    try:
        header = pd.read_csv(path, header=None, nrows=1, dtype=str).iloc[0]
    except (*_read_errors(), IndexError):
        return  # the full read succeeded; nothing more to learn here
    names = [str(name) for name in header if isinstance(name, str)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated and len(header) == len(frame.columns):
        raise DataError(f"Data file {path} has more than one column named '{repeated[0]}'.")


def _check_columns(frame: pd.DataFrame, config: DataConfig) -> None:
    wanted = [*config.target_columns, *config.feature_columns, *config.future_columns]
    wanted += [*config.static_columns]
    wanted += [c for c in (config.time_column, config.id_column) if c is not None]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        available = ", ".join(str(c) for c in frame.columns)
        raise DataError(
            f"Column '{missing[0]}' is not in the data; available columns: {available}."
        )


def numeric_values(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = {}
    for column in columns:
        raw = frame[column]
        if pd.api.types.is_bool_dtype(raw):
            raise DataError(f"Column '{column}' holds true/false values; it must be numeric.")
        try:
            values = pd.to_numeric(raw, errors="coerce")
        except (TypeError, ValueError):
            values = pd.Series(np.nan, index=raw.index)  # cells pandas cannot even coerce
        bad = values.isna() & raw.notna()
        if bad.any():
            row = int(np.argmax(bad.to_numpy()))
            raise DataError(
                f"Column '{column}' must be numeric; row {row + 1} holds {raw.iloc[row]!r}."
            )
        out[column] = values.astype("float64")
    return pd.DataFrame(out, index=frame.index)


#: Models compute in float32: larger magnitudes cannot be represented.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_finite(values: np.ndarray, columns: list[str]) -> None:
    """Values must be finite (or missing) and within float32 (rows numbered as read)."""
    infinite = np.isinf(values)
    if infinite.any():
        row, col = np.argwhere(infinite)[0]
        raise DataError(f"Column '{columns[col]}' holds an infinite value at row {row + 1}.")
    with np.errstate(invalid="ignore"):
        huge = np.abs(values) > FLOAT32_MAX
    if huge.any():
        row, col = np.argwhere(huge)[0]
        raise DataError(
            f"Column '{columns[col]}' holds {values[row, col]:g} at row {row + 1}, beyond "
            f"the float32 range (about {FLOAT32_MAX:.3g}) the models compute in; rescale it."
        )


def _fill_missing(
    values: np.ndarray,
    offsets: np.ndarray,
    policy: str,
    columns: list[str],
    skipped: np.ndarray,
    where: Any,
) -> np.ndarray:
    """Fill the missing values of each series as ``data.missing`` says (``drop`` removed
    the rows with missing values before; what remains are timestamps the data skips).

    Args:
        values: ``(n_rows, n_columns)`` with NaN where a value is missing.
        offsets: Series boundaries.
        policy: ``error``, ``interpolate``, ``ffill`` or ``drop``.
        columns: Names of the columns.
        skipped: ``(n_rows,)`` rows added for timestamps the data skips.
        where: ``where(row, column) -> str``: where a missing value is, for messages.
    """
    gaps = np.isnan(values)
    if not gaps.any():
        return values
    if policy in ("error", "drop") and skipped.any():
        row = int(np.argmax(skipped))
        hint = "set data.missing to interpolate or ffill to fill them."
        if policy == "drop":
            hint = (
                "data.missing: drop removed the rows with gaps, leaving holes in the time "
                "column; use interpolate or ffill instead."
            )
        raise DataError(
            f"The time column skips {int(skipped.sum())} timestamps; the first is "
            f"{where(row, 0)}; {hint}"
        )
    if policy == "error":
        row, col = np.argwhere(gaps)[0]
        raise DataError(
            f"The data has {int(gaps.sum())} missing values; the first is "
            f"{where(int(row), int(col))}. Set data.missing to interpolate, ffill or drop to "
            "handle them."
        )
    frame = pd.DataFrame(values, columns=columns)
    groups = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    grouped = frame.groupby(groups, sort=False)
    if policy == "interpolate":
        filled = grouped.transform(lambda s: s.interpolate(limit_direction="both"))
    else:  # ffill, with a backward fill for gaps at the start of a series
        filled = grouped.transform(lambda s: s.ffill().bfill())
    if filled.isna().any().any():
        column = filled.columns[filled.isna().any()][0]
        raise DataError(f"Column '{column}' has a series with no values at all.")
    return filled.to_numpy()


def _zones(raw: pd.Series, last_rows: np.ndarray) -> tuple[Any, ...] | None:
    """The time zone of each series' last timestamp (``last_rows`` of ``raw``): the column's
    zone for zone-aware datetimes, else the UTC offset its text names; None when none does."""
    zone = getattr(raw.dtype, "tz", None)
    if zone is not None:
        return (zone,) * len(last_rows)
    zones = []
    for value in raw.iloc[last_rows]:
        try:
            zones.append(pd.Timestamp(value).tzinfo)
        except (TypeError, ValueError):
            zones.append(None)
    return tuple(zones) if any(z is not None for z in zones) else None


def _static(
    frame: pd.DataFrame, config: DataConfig, first_rows: np.ndarray, codes: np.ndarray, ids: Any
) -> StaticCovariates | None:
    """The static columns of every series (first row of each), checked to be constant."""
    numeric, numeric_names, categorical, categorical_names = [], [], [], []
    for column in config.static_columns:
        raw = frame[column]
        if raw.isna().any():
            row = int(np.argmax(raw.isna().to_numpy()))
            raise DataError(f"Static column '{column}' is empty at row {row + 1}.")
        per_series = raw.iloc[first_rows].to_numpy()
        changed = raw.to_numpy() != per_series[codes]
        if changed.any():
            row = int(np.argmax(changed))
            raise DataError(
                f"Static column '{column}' changes within series '{ids[codes[row]]}' at row "
                f"{row + 1} ({raw.iloc[row]!r} after {per_series[codes[row]]!r}); static "
                "columns must be constant within each series."
            )
        as_numbers = pd.to_numeric(pd.Series(per_series), errors="coerce")
        if not pd.api.types.is_bool_dtype(raw) and as_numbers.notna().all():
            numeric.append(as_numbers.to_numpy(dtype="float64"))
            numeric_names.append(column)
        else:
            categorical.append(np.asarray([str(v) for v in per_series], dtype=object))
            categorical_names.append(column)
    if config.id_embedding and ids is not None:
        categorical.append(np.asarray([str(v) for v in ids], dtype=object))
        categorical_names.append(config.id_column or "series")
    if not numeric and not categorical:
        return None
    n = len(first_rows)
    return StaticCovariates(
        np.stack(numeric, axis=1) if numeric else np.zeros((n, 0)),
        tuple(numeric_names),
        np.stack(categorical, axis=1) if categorical else np.zeros((n, 0), dtype=object),
        tuple(categorical_names),
    )


def build_table(frame: pd.DataFrame, config: DataConfig) -> SeriesTable:
    """Validate a raw table against the data config and stack its series.

    Raises:
        DataError: naming the column and first offending row (as numbered in the file) or
            timestamp (as written there) of any problem.
    """
    _check_columns(frame, config)
    frame = frame.reset_index(drop=True)
    columns = [*config.target_columns, *config.feature_columns, *config.future_columns]
    if config.id_column is not None:
        id_values = frame[config.id_column]
        if id_values.isna().any():
            row = int(np.argmax(id_values.isna().to_numpy()))
            raise DataError(f"Column '{config.id_column}' is empty at row {row + 1}.")
        codes, uniques = pd.factorize(id_values.astype(str), sort=False)
    else:
        codes, uniques = np.zeros(len(frame), dtype=np.int64), None
    values = numeric_values(frame, columns).to_numpy(dtype="float64")
    _check_finite(values, columns)
    rows = np.argsort(codes, kind="stable")  # rows of each series stay in file order
    if config.missing == "drop":
        rows = rows[~np.isnan(values[rows]).any(axis=1)]
    counts = np.bincount(codes[rows], minlength=len(uniques) if uniques is not None else 1)
    if (counts == 0).any():
        empty = int(np.argmax(counts == 0))
        name = f"Series '{uniques[empty]}'" if uniques is not None else "The series"
        raise DataError(f"{name} has no rows left after dropping the rows with gaps.")
    if uniques is not None and len(counts) > 1 and (counts == 1).all():
        raise DataError(
            f"data.id_column '{config.id_column}' gives every row its own series "
            f"({len(counts)} series of one row each); it must name the series that rows "
            "belong to, with many rows per series."
        )
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    names = [f"series '{u}'" for u in uniques] if uniques is not None else ["the series"]
    times = zones = style = frequency = None
    source = rows
    if config.time_column is not None:
        raw = frame[config.time_column]
        parsed, style = parse_times(raw, config.time_column, config.time_format)

        def where(i: int, k: int) -> tuple[str, str]:
            row = int(rows[offsets[i] + k])
            return f"row {row + 1} of {names[i]}", str(raw.iloc[row])

        frequency = config.frequency or style.frequency
        regular = regularise(parsed[rows], offsets, frequency, config.time_column, where)
        source = np.where(regular.source >= 0, rows[np.maximum(regular.source, 0)], -1)
        times, offsets, frequency = regular.times, regular.offsets, regular.frequency
        zones = _zones(raw, source[offsets[1:] - 1])
    values = np.where((source >= 0)[:, None], values[np.maximum(source, 0)], np.nan)

    def gap(row: int, col: int) -> str:
        if source[row] >= 0:
            return f"in column '{columns[col]}' at row {source[row] + 1}"
        i = int(np.searchsorted(offsets, row, side="right")) - 1
        return f"{style.write(pd.DatetimeIndex(times[row : row + 1]))[0]} in {names[i]}"

    values = _fill_missing(values, offsets, config.missing, columns, source < 0, gap)
    columns_out = list(columns)
    if config.calendar:
        local = local_times(times, offsets, zones)
        if config.time_column is not None:
            local = _written_wall_clock(frame[config.time_column], source, offsets, times, local)
        values = np.hstack(
            [values, calendar_values(local, config.calendar, config.holidays_country)]
        )
        columns_out += calendar_columns(config.calendar)
    ids = tuple(str(u) for u in uniques) if uniques is not None else None
    first_rows = rows[np.concatenate([[0], np.cumsum(counts)[:-1]])]
    return SeriesTable(
        values=values,
        columns=tuple(columns_out),
        n_targets=len(config.target_columns),
        offsets=offsets,
        ids=ids,
        times=times,
        zones=zones,
        n_future=len(config.future_columns) + len(calendar_columns(config.calendar)),
        static=_static(frame, config, first_rows, codes, ids),
        time_style=style,
        frequency=frequency,
    )


#: A date-time whose text ends in a UTC offset (``+02:00``, ``-0500``).
_TEXT_OFFSET = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*([+-])(\d{2}):?(\d{2})\s*$")


def _written_wall_clock(
    raw: pd.Series, source: np.ndarray, offsets: np.ndarray, times: np.ndarray, local: np.ndarray
) -> np.ndarray:
    """Where text timestamps carry their own UTC offsets (which change at DST), each row's
    wall-clock time in the offset it is written with, not in the last row's; rows laid in
    by the grid take the offset of the row before them."""
    if getattr(raw.dtype, "tz", None) is not None or raw.dtype.kind in "iufM":
        return local
    found = raw.astype(str).str.extract(_TEXT_OFFSET)
    if found[0].isna().all():
        return local
    sign = np.where(found[0].to_numpy() == "-", -1.0, 1.0)
    minutes = sign * (found[1].astype(float).to_numpy() * 60 + found[2].astype(float).to_numpy())
    per_row = pd.Series(np.where(source >= 0, minutes[np.maximum(source, 0)], np.nan))
    series = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    per_row = per_row.groupby(series).ffill().groupby(series).bfill().to_numpy()
    if np.isnan(per_row).any():
        return local
    shift = (per_row * 60).astype("int64").astype("timedelta64[s]")
    return (times.astype("datetime64[ns]") + shift).astype("datetime64[ns]")


def local_times(times: np.ndarray, offsets: np.ndarray, zones: Any) -> np.ndarray:
    """Timestamps in each series' own zone (UTC ones moved there), for calendar features."""
    if zones is None:
        return times
    local = times.copy()
    for i, zone in enumerate(zones):
        if zone is not None:
            lo, hi = offsets[i], offsets[i + 1]
            index = pd.DatetimeIndex(times[lo:hi]).tz_localize("UTC").tz_convert(zone)
            local[lo:hi] = index.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    return local


def synthetic_table(config: SyntheticConfig) -> SeriesTable:
    """The generated series stacked into a table with one column, ``value``."""
    series = sine_series(config.n_series, config.n_steps, config.seed)
    offsets = np.arange(config.n_series + 1, dtype=np.int64) * config.n_steps
    return SeriesTable(
        values=series.reshape(-1, 1).astype("float64"),
        columns=(SYNTHETIC_COLUMN,),
        n_targets=1,
        offsets=offsets,
        ids=tuple(str(i) for i in range(config.n_series)),
        times=None,
    )


def load_table(config: DataConfig) -> SeriesTable:
    """The configured series to train on: ``config.path`` (only its first ``config.rows``
    rows, when set), or the generated series."""
    if config.source == "synthetic_sines":
        return synthetic_table(config.synthetic)
    frame = read_table(config.path, config.format)
    if config.rows is not None:
        if len(frame) < config.rows:
            raise DataError(
                f"data.rows is {config.rows}, but {config.path} has only {len(frame)} data rows."
            )
        frame = frame.iloc[: config.rows]
    return build_table(frame, config)


def load_input(config: DataConfig, path: str | Path | None = None) -> SeriesTable:
    """The series to forecast from: every row of ``path`` (default: the training file), so
    that a forecast starts after the last row of the file, whatever ``data.rows`` is."""
    if path is None and config.source == "synthetic_sines":
        return load_table(config)
    return build_table(read_table(path or config.path, config.format), config)
