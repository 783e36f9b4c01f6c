"""The ``data:`` section: where the series come from and how they are prepared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tsforecast.schema import non_empty, option, path_text, positive, split_size, unique


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
        None, help="Timestamp column; parsed as datetimes, must increase within each series."
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
    missing: Literal["error", "interpolate", "ffill", "drop"] = option(
        "error", help="What to do with empty cells in used columns."
    )
    rows: int | None = option(
        None, help="Use only the first this many rows of the file.", check=positive
    )
    transform: Literal["none", "difference"] = option(
        "none",
        help="`difference`: the model reads differenced inputs and its forecast is integrated "
        "back from the last observed values.",
    )
    difference_lag: int = option(
        1, help="Lag of `transform: difference`: 1, or a season length in steps.", check=positive
    )
    instance_norm: Literal[False, "last", "mean", "standard"] = option(
        False,
        help="Normalise each input window per column by its own `last` value, `mean`, or mean "
        "and standard deviation (`standard`), and undo it on the forecast.",
    )
    channel_independent: bool = option(
        False,
        help="Forecast every column as its own series with shared weights; needs every input "
        "column to be a target.",
    )
