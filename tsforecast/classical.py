"""Classical baselines: what a statistician would fit, scored on the run's own windows.

``evaluation.baselines: [ets, theta, arima]`` adds statsforecast's AutoETS, AutoTheta and
AutoARIMA beside naive and seasonal naive. Each is fitted once per series and target on
that series' train rows, in original units (model selection and parameters see nothing
later), and forecasts every window from the rows before its origin with those fitted
parameters (statsforecast's ``forward``), so it is scored on exactly the windows the model
is. statsforecast is an optional dependency (``pip install 'tsforecast[classical]'``),
imported only when one of these baselines is asked for.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tsforecast.data import windows
from tsforecast.data.prepared import PreparedData
from tsforecast.errors import ConfigError, DataError

#: statsforecast's model of each baseline name.
MODELS = {"ets": "AutoETS", "theta": "AutoTheta", "arima": "AutoARIMA"}


def _model(name: str, season: int, n_train: int) -> Any:
    try:
        from statsforecast import models
    except ImportError:
        raise ConfigError(
            f"evaluation.baselines {name} needs statsforecast; install it with "
            "pip install 'tsforecast[classical]'."
        ) from None
    if name == "arima":
        # R's auto.arima approximates the likelihood during its search on long or finely
        # seasonal series; exact search takes minutes on weekly data of a few years
        return models.AutoARIMA(season_length=season, approximation=n_train > 150 or season > 12)
    return getattr(models, MODELS[name])(season_length=season)


class ClassicalBaseline:
    """A :data:`~tsforecast.evaluation.Baseline` fitted lazily, once per series and target.

    Args:
        name: ``ets``, ``theta`` or ``arima``.
        season: The season length in steps.
    """

    def __init__(self, name: str, season: int, refit: bool = False) -> None:
        self.name = name
        self.season = season
        self.refit = refit
        self._fitted: dict[tuple[int, int], Any] = {}

    def _fit(self, prepared: PreparedData, series: int, target: int, end: int | None = None) -> Any:
        """The model of one series and target, fitted on its rows before ``end`` (default:
        its train rows)."""
        key = (series, target, end)
        if key not in self._fitted:
            table = prepared.table
            lo = int(table.offsets[series])
            hi = int(prepared.bounds.train_end[series]) if end is None else end
            model = _model(self.name, self.season, hi - lo)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    self._fitted[key] = model.fit(table.values[lo:hi, target])
                except Exception as exc:  # statsforecast raises many kinds
                    raise DataError(
                        f"The {self.name} baseline cannot be fitted to "
                        f"{_where(prepared, series, target)}: {_first_line(exc)}"
                    ) from None
        return self._fitted[key]

    def __call__(
        self, prepared: PreparedData, starts: np.ndarray, width: int, horizon: int
    ) -> np.ndarray:
        """Scaled forecasts ``(n_windows, horizon, n_targets)`` of the given windows, each
        run forward over its history: by models fitted once on the train rows, or with
        ``refit`` on the history before the last origin at most a horizon earlier (a rolling
        origin refit every ``horizon`` steps of each series)."""
        table = prepared.table
        origins = windows.origins(starts, width)
        owners = windows.series_of(table.offsets, starts, width)
        out = np.empty((len(starts), horizon, table.n_targets))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, (series, origin) in enumerate(zip(owners, origins, strict=True)):
                lo = int(table.offsets[series])
                anchor = lo + (int(origin) - lo) // horizon * horizon if self.refit else None
                for j in range(table.n_targets):
                    model = self._fit(prepared, int(series), j, anchor)
                    history = table.values[lo:origin, j]
                    out[i, :, j] = model.forward(y=history, h=horizon)["mean"]
        if not np.isfinite(out).all():
            raise DataError(
                f"The {self.name} baseline forecasts NaN or infinite values; leave it out of "
                "evaluation.baselines for this data."
            )
        return prepared.scale_targets(out, starts)


def _where(prepared: PreparedData, series: int, target: int) -> str:
    return column_of(prepared.table, series, target)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def classical_baselines(
    names: tuple[str, ...], season: int, refit: bool = False
) -> dict[str, ClassicalBaseline]:
    """The baselines of ``evaluation.baselines``, by name (refit at every origin with
    ``evaluation.refit_baselines``)."""
    return {name: ClassicalBaseline(name, season, refit) for name in names}


def forecasts_after(
    name: str, season: int, table: Any, owners: np.ndarray, ends: np.ndarray, horizon: int
) -> np.ndarray:
    """``(len(ends), horizon, n_targets)`` forecasts in original units, each of the
    ``horizon`` rows after row ``ends[k]`` of its series, by a model fitted on that series'
    rows before ``ends[k]`` (the whole history, at the end of a series).

    Args:
        name: ``ets``, ``theta`` or ``arima``.
        season: The season length in steps.
        table: The series (a ``SeriesTable``).
        owners: The series of each forecast.
        ends: Absolute rows, one per forecast: its series' history ends before it.
        horizon: Steps forecast.

    Raises:
        DataError: when a model cannot be fitted or forecasts NaN.
    """
    out = np.empty((len(ends), horizon, table.n_targets))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k, (series, end) in enumerate(zip(owners, ends, strict=True)):
            lo = int(table.offsets[series])
            for j in range(table.n_targets):
                history = table.values[lo : int(end), j]
                try:
                    model = _model(name, season, len(history))
                    out[k, :, j] = model.forecast(y=history, h=horizon)["mean"]
                except Exception as exc:  # statsforecast raises many kinds
                    where = column_of(table, int(series), j)
                    raise DataError(
                        f"The {name} model cannot be fitted to {where}: {_first_line(exc)}"
                    ) from None
    if not np.isfinite(out).all():
        raise DataError(f"The {name} model forecasts NaN or infinite values for this input.")
    return out


def column_of(table: Any, series: int, target: int) -> str:
    """Which target of which series, in words."""
    column = f"column '{table.columns[target]}'"
    return f"{column} of series '{table.ids[series]}'" if table.ids is not None else column
