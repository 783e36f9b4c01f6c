"""Calendar covariates derived from timestamps: known ahead, so they are future inputs.

Cyclic ones (hour, day of week, ...) are encoded as a sine and a cosine, so that the last
hour of a day sits next to the first; ``is_weekend`` and ``holiday`` are 0 or 1. Holidays
come from the ``holidays`` package, for ``data.holidays_country``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tsforecast.config.data import CALENDAR


def _position(times: pd.DatetimeIndex, name: str) -> np.ndarray:
    """Where in its cycle each timestamp lies, counted from 0."""
    if name == "hour":
        position = times.hour + times.minute / 60.0
    elif name == "day_of_week":
        position = times.dayofweek
    elif name == "day_of_month":
        position = times.day - 1
    elif name == "month":
        position = times.month - 1
    elif name == "day_of_year":
        position = times.dayofyear - 1
    else:  # week_of_year
        position = times.isocalendar().week - 1
    return np.asarray(position, dtype="float64")


def calendar_values(
    times: np.ndarray, names: tuple[str, ...], country: str | None = None
) -> np.ndarray:
    """``(n_times, n_columns)`` calendar features of local timestamps.

    Args:
        times: Timestamps in the data's own (local) time.
        names: Calendar features, from :data:`CALENDAR`.
        country: ISO country code of the holidays, for ``holiday``.
    """
    index = pd.DatetimeIndex(times)
    columns = []
    for name in names:
        period = CALENDAR[name]
        if period is not None:
            angle = 2 * np.pi * _position(index, name) / period
            columns += [np.sin(angle), np.cos(angle)]
        elif name == "is_weekend":
            columns.append((index.dayofweek >= 5).astype("float64"))
        else:
            columns.append(holiday_flags(index, country))
    return np.stack(columns, axis=1) if columns else np.zeros((len(index), 0))


def holiday_flags(index: pd.DatetimeIndex, country: str | None) -> np.ndarray:
    """1.0 on the public holidays of ``country``, else 0.0."""
    import holidays

    years = range(int(index.year.min()), int(index.year.max()) + 1) if len(index) else []
    days = holidays.country_holidays(country, years=years)
    dates = index.normalize()
    return np.asarray([d.date() in days for d in dates], dtype="float64")
