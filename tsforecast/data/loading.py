"""Reading a table and validating it into series, before anything is fitted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsforecast.config import DataConfig
from tsforecast.errors import DataError


@dataclass(frozen=True)
class SeriesTable:
    """Validated series stacked one after another, in original units.

    Attributes:
        values: ``(n_rows, n_inputs)`` float64; target columns first, then feature columns.
        columns: Names of the ``values`` columns.
        n_targets: How many leading columns are targets.
        offsets: ``(n_series + 1,)`` row offsets; series ``i`` is ``offsets[i]:offsets[i+1]``.
        ids: Series names (``None`` without an id column).
        times: ``(n_rows,)`` datetime64 timestamps (in UTC where the data named a time
            zone or an offset), or ``None`` without a time column.
        zones: Per series, the time zone (or fixed UTC offset) of its last timestamp, in
            which its forecasts are stamped; None for timestamps without one.
    """

    values: np.ndarray
    columns: tuple[str, ...]
    n_targets: int
    offsets: np.ndarray
    ids: tuple[str, ...] | None
    times: np.ndarray | None
    zones: tuple[Any, ...] | None = None

    @property
    def n_series(self) -> int:
        return len(self.offsets) - 1

    def series_name(self, i: int) -> str:
        return f"'{self.ids[i]}'" if self.ids is not None else "the series"

    def frequency(self) -> str | None:
        """The pandas frequency of the first series with three timestamps or more (at most
        its last 1,000), or None without timestamps or a regular spacing."""
        if self.times is None:
            return None
        for lo, hi in zip(self.offsets[:-1], self.offsets[1:], strict=True):
            if hi - lo >= 3:
                return pd.infer_freq(pd.DatetimeIndex(self.times[max(lo, hi - 1000) : hi]))
        return None


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
    wanted = [*config.target_columns, *config.feature_columns]
    wanted += [c for c in (config.time_column, config.id_column) if c is not None]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        available = ", ".join(str(c) for c in frame.columns)
        raise DataError(
            f"Column '{missing[0]}' is not in the data; available columns: {available}."
        )


def _numeric(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
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


def _fill_missing(values: pd.DataFrame, groups: np.ndarray, policy: str) -> pd.DataFrame:
    array = values.to_numpy()
    infinite = np.isinf(array)
    if infinite.any():
        row, col = np.argwhere(infinite)[0]
        raise DataError(f"Column '{values.columns[col]}' holds an infinite value at row {row + 1}.")
    with np.errstate(invalid="ignore"):
        huge = np.abs(array) > FLOAT32_MAX
    if huge.any():
        row, col = np.argwhere(huge)[0]
        raise DataError(
            f"Column '{values.columns[col]}' holds {array[row, col]:g} at row {row + 1}, beyond "
            f"the float32 range (about {FLOAT32_MAX:.3g}) the models compute in; rescale it."
        )
    gaps = np.isnan(array)
    if not gaps.any():
        return values
    if policy == "error":
        row, col = np.argwhere(gaps)[0]
        raise DataError(
            f"The data has {int(gaps.sum())} missing values; the first is in column "
            f"'{values.columns[col]}' at row {row + 1}. Set data.missing to interpolate, "
            "ffill or drop to handle them."
        )
    if policy == "drop":
        return values[~gaps.any(axis=1)]
    grouped = values.groupby(groups, sort=False)
    if policy == "interpolate":
        filled = grouped.transform(lambda s: s.interpolate(limit_direction="both"))
    else:  # ffill, with a backward fill for gaps at the start of a series
        filled = grouped.transform(lambda s: s.ffill().bfill())
    if filled.isna().any().any():
        column = filled.columns[filled.isna().any()][0]
        raise DataError(f"Column '{column}' has a series with no values at all.")
    return filled


def _parse_times(frame: pd.DataFrame, column: str) -> pd.Series:
    """Timestamps as naive UTC: values with different UTC offsets, or none, are comparable."""
    raw = frame[column]
    try:
        times = pd.to_datetime(raw, errors="coerce", format="mixed", utc=True)
    except (TypeError, ValueError, OverflowError):  # values pandas cannot even coerce
        times = pd.Series(pd.NaT, index=raw.index)
    bad = times.isna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise DataError(
            f"Column '{column}' has a value that is not a timestamp at row {row + 1}: "
            f"{raw.iloc[row]!r}."
        )
    return times.dt.tz_localize(None)


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


def _check_times(
    times: np.ndarray, rows: np.ndarray, column: str, name: str, hint: str = ""
) -> None:
    """Timestamps of one series must strictly increase at a regular spacing."""
    if len(times) < 2:
        return
    steps = np.diff(times)
    bad = steps <= np.timedelta64(0)
    if bad.any():
        i = int(np.argmax(bad)) + 1
        kind = "repeats" if steps[i - 1] == np.timedelta64(0) else "goes back in time"
        raise DataError(
            f"Column '{column}' {kind} at row {rows[i] + 1} of {name} "
            f"({pd.Timestamp(times[i])} after {pd.Timestamp(times[i - 1])}); "
            "timestamps must strictly increase."
        )
    if len(times) >= 3 and pd.infer_freq(pd.DatetimeIndex(times)) is None:
        usual = pd.Series(steps).median()
        irregular = steps != usual.to_timedelta64()
        if irregular.any():
            i = int(np.argmax(irregular)) + 1
            raise DataError(
                f"Column '{column}' is irregularly spaced at row {rows[i] + 1} of {name}: "
                f"a step of {pd.Timedelta(steps[i - 1])} where {usual} is usual. "
                + (hint or "Resample the data to a regular frequency first.")
            )


def _evenly_spaced(times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per series: do its timestamps increase by one constant step? (Vectorised.)

    Series that do pass :func:`_check_times` without a closer look; the others get one.
    """
    n_series = len(offsets) - 1
    lengths = np.diff(offsets)
    series = np.repeat(np.arange(n_series), lengths)
    steps = np.diff(times.astype("datetime64[ns]").astype(np.int64))
    inside = series[1:] == series[:-1]  # steps that do not cross into the next series
    first_step = np.zeros(n_series, dtype=np.int64)
    long_enough = lengths >= 2
    first_step[long_enough] = steps[offsets[:-1][long_enough]]
    bad = inside & ((steps <= 0) | (steps != first_step[series[1:]]))
    return np.bincount(series[1:][bad], minlength=n_series) == 0


def build_table(frame: pd.DataFrame, config: DataConfig) -> SeriesTable:
    """Validate a raw table against the data config and stack its series.

    Raises:
        DataError: naming the column and first offending row of any problem.
    """
    _check_columns(frame, config)
    frame = frame.reset_index(drop=True)
    columns = [*config.target_columns, *config.feature_columns]
    if config.id_column is not None:
        id_values = frame[config.id_column]
        if id_values.isna().any():
            row = int(np.argmax(id_values.isna().to_numpy()))
            raise DataError(f"Column '{config.id_column}' is empty at row {row + 1}.")
        codes, uniques = pd.factorize(id_values.astype(str), sort=False)
    else:
        codes, uniques = np.zeros(len(frame), dtype=np.int64), None
    values = _numeric(frame, columns)
    values = _fill_missing(values, codes, config.missing)
    keep = values.index.to_numpy()
    codes = codes[keep]
    # Stable grouping: rows of each series stay in file order.
    order = np.argsort(codes, kind="stable")
    rows = keep[order]
    counts = np.bincount(codes, minlength=len(uniques) if uniques is not None else 1)
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
    offsets = np.concatenate([[0], np.cumsum(counts)])
    times = None
    if config.time_column is not None:
        parsed = _parse_times(frame, config.time_column).to_numpy()[rows]
        hint = ""
        if len(keep) < len(frame):
            hint = (
                "data.missing: drop removed the rows with gaps, leaving holes in the time "
                "column; use interpolate or ffill instead."
            )
        for i in np.flatnonzero(~_evenly_spaced(parsed, offsets)):
            lo, hi = offsets[i], offsets[i + 1]
            name = f"series '{uniques[i]}'" if uniques is not None else "the series"
            _check_times(parsed[lo:hi], rows[lo:hi], config.time_column, name, hint)
        times = parsed
        zones = _zones(frame[config.time_column], rows[offsets[1:] - 1])
    return SeriesTable(
        values=values.to_numpy(dtype="float64")[order],
        columns=tuple(columns),
        n_targets=len(config.target_columns),
        offsets=offsets.astype(np.int64),
        ids=tuple(str(u) for u in uniques) if uniques is not None else None,
        times=times,
        zones=zones if config.time_column is not None else None,
    )


def load_table(config: DataConfig) -> SeriesTable:
    """The configured series to train on: ``config.path`` (only its first ``config.rows``
    rows, when set), or the generated series."""
    if config.source == "synthetic_sines":
        from tsforecast.data.synthetic import synthetic_table

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
