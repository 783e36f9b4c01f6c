"""The ``data:`` section: where the series come from and how they are prepared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tsforecast.schema import (
    non_empty,
    non_negative,
    option,
    path_text,
    positive,
    split_size,
    unique,
)


def frequency_alias(value: str) -> str | None:
    import pandas as pd

    try:
        pd.tseries.frequencies.to_offset(value)
    except ValueError:
        return "a pandas offset alias such as h, D, W-SAT, MS, QS or YS"
    return None


def transforms(value: tuple[str, ...]) -> str | None:
    if "none" in value and len(value) > 1:
        return "none alone, or a list of transforms"
    if len(set(value)) < len(value):
        return "a list without repeats"
    if "difference" in value and value[-1] != "difference":
        return "a list with difference last (it happens inside the model)"
    return None


@dataclass(frozen=True)
class SplitConfig:
    """Split into train / validation / test: each series by time, or whole series."""

    val: float | int = option(
        0.15,
        help="Validation share: a fraction or a count of each series' rows (`by: time`) "
        "or of the series (`by: series`).",
        check=split_size,
    )
    test: float | int = option(
        0.15,
        help="Test share: a fraction or a count of each series' rows (`by: time`) "
        "or of the series (`by: series`).",
        check=split_size,
    )
    by: Literal["time", "series"] = option(
        "time",
        help="`time`: split every series chronologically; `series`: hold out whole series "
        "(the last ones for test, those before them for validation).",
    )


@dataclass(frozen=True)
class SyntheticConfig:
    """The sum-of-two-sines series of Hands-On Machine Learning (2nd ed.), chapter 15."""

    n_series: int = option(10000, help="How many series to generate.", check=positive)
    n_steps: int = option(
        50,
        help="Steps per series (the generator's `n_steps`): input steps plus horizon, e.g. 51.",
        check=positive,
    )
    seed: int = option(42, help="`np.random.seed` before generating, as the book does.")


#: The one column of generated series.
SYNTHETIC_COLUMN = "value"


#: The scalers of ``data.scaler``.
SCALERS = ("standard", "minmax", "none")


@dataclass(frozen=True)
class DataConfig:
    """Where the data comes from and how it is prepared."""

    source: Literal["file", "synthetic_sines"] = option(
        "file", help="`file` reads data.path; `synthetic_sines` generates series in memory."
    )
    path: str | None = option(
        None,
        help="CSV or Parquet file (required for `source: file`); a relative path resolves "
        "against the config file.",
        check=path_text,
    )
    synthetic: SyntheticConfig = option(SyntheticConfig(), help="")
    target_columns: tuple[str, ...] = option(
        (),
        help="Columns to forecast (required for `source: file`; generated series have one, "
        "`value`).",
        check=lambda v: non_empty(v) or unique(v),
    )
    feature_columns: tuple[str, ...] = option(
        (), help="Extra numeric columns used as past inputs only.", check=unique
    )
    time_column: str | None = option(
        None,
        help="Timestamp column: dates and times (with or without a UTC offset), years "
        "(`1700`, `1700.0`), quarters (`1959Q1`), months (`2021-03`) or ISO weeks "
        "(`2021-W05`); must increase within each series.",
    )
    time_format: str | None = option(
        None,
        help="How the time column is written, when its values do not say: `unix_s` or "
        "`unix_ms` for epoch seconds or milliseconds, or an strftime pattern such as "
        "`%d/%m/%Y`.",
    )
    frequency: str | None = option(
        None,
        help="The series' frequency as a pandas offset alias (`h`, `D`, `W-SAT`, `MS`, "
        "`QS`, `YS`); inferred from the timestamps when not given. Missing timestamps are "
        "added as rows that data.missing fills.",
        check=frequency_alias,
    )
    id_column: str | None = option(
        None, help="Column naming the series when many are stacked in one long table."
    )
    format: Literal["auto", "csv", "parquet"] = option(
        "auto", help="File format; `auto` goes by the file suffix."
    )
    split: SplitConfig = option(SplitConfig(), help="")
    scaler: Literal[SCALERS] = option(
        "standard", help="Scaling of every input column, fitted on the train split only."
    )
    scaler_scope: Literal["global", "series"] | None = option(
        None,
        help="`series`: scaling statistics per series, fitted on each series' train rows; "
        "`global`: one set for all series. Default: `series` for many series split by time, "
        "else `global`.",
    )
    missing: Literal["error", "interpolate", "ffill", "drop"] = option(
        "error", help="What to do with empty cells in used columns."
    )
    rows: int | None = option(
        None, help="Use only the first this many rows of the file.", check=positive
    )
    transform: tuple[Literal["none", "log", "log1p", "box_cox", "difference"], ...] = option(
        (),
        help="Target transforms, in the order they apply: `log`, `log1p`, `box_cox` (lambda "
        "fitted on train rows), then `difference` (the model reads differences and its "
        "forecast is integrated back); inverted before metrics and predict.",
        check=transforms,
    )
    difference_lag: int = option(
        1, help="Lag of `transform: difference`: 1, or a season length in steps.", check=positive
    )
    future_columns: tuple[str, ...] = option(
        (),
        help="Numeric columns known ahead (planned prices, weather forecasts): read over the "
        "input window and the horizon; predict takes their future values with --future.",
        check=unique,
    )
    static_columns: tuple[str, ...] = option(
        (),
        help="Columns constant within each series, numeric or categorical (categories are "
        "embedded inside the model).",
        check=unique,
    )
    calendar: tuple[
        Literal[
            "hour",
            "day_of_week",
            "day_of_month",
            "month",
            "day_of_year",
            "week_of_year",
            "is_weekend",
            "holiday",
        ],
        ...,
    ] = option(
        (),
        help="Calendar covariates from the time column, known ahead (cyclic ones as sine and "
        "cosine); `holiday` needs data.holidays_country.",
        check=unique,
    )
    holidays_country: str | None = option(
        None, help="Country code of the `holiday` calendar covariate, e.g. US or DE."
    )
    season_length: int | None = option(
        None,
        help="Steps in one season, for the seasonal naive baseline every run is scored "
        "beside (and `auto`); inferred from the frequency when not given (hourly 24, daily "
        "7, weekly 52, monthly 12, quarterly 4, yearly 1).",
        check=positive,
    )
    id_embedding: int = option(
        0,
        help="Learn an embedding of this many dimensions for each series id (0: none).",
        check=non_negative,
    )
    instance_norm: Literal[False, "last", "mean", "standard"] = option(
        False,
        help="Normalise each input window per column by its own `last` value, `mean`, or mean "
        "and standard deviation (`standard`), and undo it on the forecast. Default: false, "
        "or `last` for nhits, which loses to naive on raw windows of many series.",
    )
    channel_independent: bool = option(
        False,
        help="Forecast every column as its own series with shared weights; needs every input "
        "column to be a target.",
    )


#: Every calendar covariate and its period; None for the 0/1 indicators.
CALENDAR = {
    "hour": 24,
    "day_of_week": 7,
    "day_of_month": 31,
    "month": 12,
    "day_of_year": 366,
    "week_of_year": 53,
    "is_weekend": None,
    "holiday": None,
}


def calendar_columns(names: tuple[str, ...]) -> list[str]:
    """The value columns the calendar covariates ``names`` add, in order: a sine and a
    cosine for each cyclic one, one column for each indicator."""
    columns = []
    for name in names:
        columns += [f"{name}_sin", f"{name}_cos"] if CALENDAR[name] else [name]
    return columns


def known_countries() -> list[str]:
    """The country codes of the ``holiday`` calendar covariate: those ``holidays`` knows."""
    import holidays

    return sorted(holidays.list_supported_countries())


def input_columns(data: DataConfig) -> list[str]:
    """The value columns the models read, in order: the targets, the past features, the
    future columns and the calendar features."""
    return [
        *data.target_columns,
        *data.feature_columns,
        *data.future_columns,
        *calendar_columns(data.calendar),
    ]
