"""``model.type: auto``: fit candidates, combine the best by ensemble selection, refit.

1. **Candidates** come from ``model.preset`` (or ``model.candidates``): the naive
   baselines, linear models, MLPs (with a scale-free loss, at half the lookback), N-HiTS
   (TiDE when the data has covariates), in ``best`` also a GRU, TSMixer, PatchTST and
   another seed, and statsforecast's ETS, Theta (and ARIMA in ``best``) where
   ``tsforecast[classical]`` is installed. Every network shares the run's scaler, fitted
   on the training rows, and reads at most ``window.input_width`` steps; each uses
   ``data.instance_norm: last`` (except the naive baselines).
2. **Validation**: every candidate is fitted on the training rows only and forecasts the
   validation windows of ``model.origins`` origins per series, one horizon apart and
   ending at the validation split's last origin; the series are cut at the end of the
   validation split, so nothing later is read. Candidates are scored in original units by
   ``model.metric`` (MASE by default, scale-free).
3. **Ensemble selection** (Caruana et al., 2004): ``model.ensemble`` rounds of greedy
   forward selection with replacement, each adding the candidate whose inclusion gives
   the best score of the mean forecast; the weights are the counts of the round that
   scored best. Ties go to the candidate listed first, so the same data and config give
   the same choice on any machine.
4. **Refit** (``model.refit``): the networks kept are refit on the training and
   validation rows for the epochs each needed (its best epoch), with the same seed, and
   the statistical members are fitted on those rows; that is the ensemble the test split
   scores and ``predict`` uses. The networks are saved as one model forecasting their
   weighted mean (:func:`~tsforecast.models.ensemble.weighted_model`); the statistical
   members are fitted again on the whole history of each series at predict time.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tsforecast import classical
from tsforecast.config import Config, config_from_dict, config_to_dict
from tsforecast.data import windows
from tsforecast.data.loading import SeriesTable
from tsforecast.data.prepared import PreparedData, prepare_split
from tsforecast.data.splits import SplitBounds, split_bounds, truncated
from tsforecast.errors import ConfigError, TsForecastError
from tsforecast.evaluation import season_length
from tsforecast.forecasting import Predictor, blend
from tsforecast.models import registry
from tsforecast.models.auto import PRESETS
from tsforecast.models.ensemble import weighted_model
from tsforecast.models.heads import Forecast
from tsforecast.training.fit import Progress, build_and_fit

#: Most windows (over every series and target, validation origins and test windows) the
#: statistical candidates are fitted for: each window is one filtering pass over its
#: series' history.
STATISTICAL_WINDOWS = 50_000

#: The status of a candidate not fitted because ``model.budget_seconds`` was spent.
BUDGET_SPENT = "skipped: budget_seconds was spent"

#: Units of the MLP candidates.
MLP_UNITS = [256, 256]


@dataclass(frozen=True)
class Candidate:
    """One candidate: its name, and what it sets in the user's config (networks) or the
    statsforecast model it is (statistical)."""

    name: str
    width: int
    model: dict[str, Any]
    data: dict[str, Any] = dataclasses.field(default_factory=dict)
    training: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def statistical(self) -> bool:
        return self.model["type"] in classical.MODELS


@dataclass(frozen=True)
class Selection:
    """What ``auto`` kept.

    Attributes:
        model: The networks kept, as one model forecasting their weighted mean (refit on
            the training and validation rows with ``model.refit``).
        validated: The same ensemble as validated (fitted on the training rows only).
        prepared: The whole table, scaled by the scaler fitted on the training rows.
        blend: The statistical members and the networks' share (see
            :func:`tsforecast.forecasting.blend`), as metrics.json records it.
        history: The training history of the network member of largest weight.
        records: Every candidate: settings, validation scores, weight, status, seconds.
        summary: What metrics.json says of the search (no timings).
    """

    model: Any
    validated: Any
    prepared: PreparedData
    blend: dict[str, Any]
    history: list[dict[str, float]]
    records: list[dict[str, Any]]
    summary: dict[str, Any]

    def forecaster(self, prepared: PreparedData, config: Config, part: str) -> Callable:
        """Window starts -> scaled forecasts of ``part`` of ``prepared``: the validated
        ensemble for ``val`` (statistical members fitted on the training rows), the refit
        one for any other part (fitted on the training and validation rows)."""
        refit = part != "val" and self.summary["refit"]["enabled"]
        model = self.model if part != "val" else self.validated
        return blended_forecasts(model, prepared, config, self.blend, part, fit_validation=refit)


# ---------------------------------------------------------------------------------------------
# Candidates


def half_width(width: int, horizon: int) -> int | None:
    """Half the lookback, rounded down to a multiple of the horizon where that leaves at
    least one; None when it is not shorter than ``width`` or below two steps."""
    half = width // 2
    if half >= horizon:
        half = half // horizon * horizon
    return half if 2 <= half < width else None


def catalogue(config: Config, table: SeriesTable) -> list[Candidate]:
    """Every candidate of ``best`` this data and head allow, in the order they are fitted
    (cheap and strong first)."""
    data, window, params = config.data, config.window, config.model.params
    width, horizon = window.input_width, window.horizon
    season = season_length(table.frequency, data.season_length)
    covariates = bool(
        data.future_columns or data.calendar or data.static_columns or data.id_embedding
    )
    head = params.head
    quantile = head == "quantile"
    positive = bool((table.values[:, : table.n_targets] > 0).all())
    half = half_width(width, horizon)
    norm = {"instance_norm": "last"}
    headed = {"head": head, **({"quantiles": list(params.quantiles)} if quantile else {})}
    # a loss that no series dominates by its size (the quantile head keeps its pinball)
    scale_free = {} if quantile else {"loss": "smape" if positive else "mase"}
    seed = config.training.seed
    mlp = {"type": "mlp", "units": MLP_UNITS, **headed}
    deep = "tide" if covariates else "nhits"
    out = [
        Candidate("naive", width, {"type": "naive"}, {"instance_norm": False}),
        Candidate(
            "seasonal_naive",
            width,
            {"type": "seasonal_naive", "season_length": season},
            {"instance_norm": False},
        ),
        Candidate("ets", width, {"type": "ets"}),
        Candidate("theta", width, {"type": "theta"}),
        Candidate("linear", width, {"type": "linear", **headed}, norm),
        Candidate("linear_half", half or 0, {"type": "linear", **headed}, norm),
        Candidate("mlp", width, mlp, norm),
        Candidate("mlp_scale_free", width, mlp, norm, scale_free),
        Candidate("mlp_half", half or 0, mlp, norm, {} if quantile else {"loss": "mase"}),
        Candidate("mlp_seed", width, mlp, norm, {**scale_free, "seed": (seed + 1) % 2**31}),
        Candidate("nhits", width, {"type": deep, **headed}, norm),
        Candidate("nhits_half", half or 0, {"type": deep, **headed}, norm),
        Candidate("gru", width, {"type": "gru", "units": [64], **headed}, norm),
        Candidate("tsmixer", width, {"type": "tsmixer", **headed}, norm),
        Candidate("patchtst", width, {"type": "patchtst", **headed}, norm),
        Candidate("arima", width, {"type": "arima"}),
    ]
    kept = []
    for candidate in out:
        if candidate.width == 0:  # no half lookback for this window
            continue
        if candidate.name == "seasonal_naive" and not 1 < season <= width:
            continue
        if candidate.name == "mlp_scale_free" and quantile:
            continue
        if candidate.statistical:
            if head == "vector":
                kept.append(candidate)
            continue
        spec = registry.get(candidate.model["type"])
        if head not in spec.heads or (covariates and not spec.covariates):
            continue
        if candidate.name.startswith("nhits") and covariates:
            candidate = dataclasses.replace(candidate, name=candidate.name.replace("nhits", deep))
        kept.append(candidate)
    return kept


def candidates(config: Config, table: SeriesTable) -> list[Candidate]:
    """The candidates ``model.candidates`` (or the preset) names, among those the data and
    head allow, in the order of :func:`catalogue`."""
    params = config.model.params
    names = params.candidates if params.candidates is not None else PRESETS[params.preset]
    if not params.statistical:
        names = tuple(n for n in names if n not in classical.MODELS)
    wanted = {n.replace("nhits", "tide") for n in names} | set(names)
    return [c for c in catalogue(config, table) if c.name in wanted]


def candidate_config(config: Config, candidate: Candidate, **training: Any) -> Config:
    """The user's config with the candidate's model, data, window and training keys."""
    raw = copy.deepcopy(config_to_dict(config))
    raw["model"] = copy.deepcopy(candidate.model)
    raw["data"].update(candidate.data)
    raw["window"]["input_width"] = candidate.width
    if raw["window"].get("min_inputs") is not None:
        raw["window"]["min_inputs"] = min(raw["window"]["min_inputs"], candidate.width)
    raw["training"].update(candidate.training)
    for key, value in training.items():
        if isinstance(value, dict):
            raw["training"][key] = {**raw["training"].get(key, {}), **value}
        else:
            raw["training"][key] = value
    return config_from_dict(raw)


# ---------------------------------------------------------------------------------------------
# Scores


def scored_starts(prepared: PreparedData, horizon: int, most: int) -> np.ndarray:
    """The validation windows candidates are scored on: per series, up to ``most`` origins
    one horizon apart, ending at its last validation window."""
    starts = prepared.starts["val"]
    owners = windows.series_of(prepared.table.offsets, starts, prepared.width)
    kept = [
        starts[owners == i][::-1][::horizon][:most][::-1] for i in range(prepared.table.n_series)
    ]
    return np.concatenate(kept).astype(np.int64) if kept else starts


class Scorer:
    """Scores of forecasts ``(n_windows, horizon, n_targets)`` of fixed windows, in original
    units, as :class:`~tsforecast.evaluation.ErrorSums` defines them."""

    def __init__(self, prepared: PreparedData, starts: np.ndarray, horizon: int) -> None:
        table, width = prepared.table, prepared.width
        self.actual = windows.targets(table.values, starts, width, horizon, table.n_targets)
        self.actual = self.actual.astype("float64")
        self.series = windows.series_of(table.offsets, starts, width)
        self.n_series = table.n_series
        self.counts = np.bincount(self.series, minlength=self.n_series).astype("float64")
        self.scale = np.atleast_2d(prepared.mase_scale)[: self.n_series]

    def __call__(self, forecast: np.ndarray, metric: str) -> float:
        error = forecast - self.actual
        if metric == "mae":
            return float(np.abs(error).mean())
        if metric == "mse":
            return float(np.square(error).mean())
        if metric == "smape":
            denominator = np.abs(self.actual) + np.abs(forecast)
            usable = denominator > 1e-8
            ratio = np.divide(np.abs(error), denominator, out=np.zeros_like(error), where=usable)
            return float(200.0 * ratio.sum() / max(1, int(usable.sum())))
        # MASE: each series' MAE over its own scale, then the mean over the series
        per_window = np.abs(error).mean(axis=1)  # (n_windows, n_targets)
        sums = np.zeros((self.n_series, per_window.shape[1]))
        np.add.at(sums, self.series, per_window)
        scored = self.counts > 0
        per_series = sums[scored] / self.counts[scored, None] / self.scale[scored]
        return float(per_series.mean())

    def all(self, forecast: np.ndarray) -> dict[str, float]:
        return {f"val_{m}": self(forecast, m) for m in ("mase", "smape", "mae", "mse")}


def ensemble_selection(
    forecasts: list[np.ndarray], score: Callable[[np.ndarray], float], rounds: int
) -> tuple[np.ndarray, float]:
    """Greedy forward selection with replacement (Caruana et al., 2004).

    Each round adds the forecast whose inclusion gives the best score of the mean of
    those added so far (ties: the first listed). Returns the counts of the round that
    scored best (the earliest of equals) and that score.
    """
    total = np.zeros_like(forecasts[0])
    counts = np.zeros(len(forecasts), dtype=np.int64)
    best_counts, best_score = counts.copy(), np.inf
    for r in range(1, rounds + 1):
        scores = [score((total + f) / r) for f in forecasts]
        pick = int(np.argmin(scores))
        counts[pick] += 1
        total = total + forecasts[pick]
        if scores[pick] < best_score - 1e-12:
            best_counts, best_score = counts.copy(), scores[pick]
    return best_counts, float(best_score)


# ---------------------------------------------------------------------------------------------
# The search


@dataclass
class _Fitted:
    candidate: Candidate
    record: dict[str, Any]
    forecast: Forecast  # of the scored windows, in original units
    config: Config | None = None  # networks
    prepared: PreparedData | None = None
    trained: Any = None


def _statistical_room(base: PreparedData, scored: np.ndarray, horizon: int, table: SeriesTable):
    """Why statistical candidates are left out for this data, or None."""
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        return "skipped: statsforecast is not installed (pip install 'tsforecast[classical]')"
    n_test = max(0, int(np.sum(base.bounds.val_end - base.bounds.train_end)))
    needed = (len(scored) + len(base.starts["val"]) + n_test) * table.n_targets
    if needed > STATISTICAL_WINDOWS:
        return (
            f"skipped: {needed} windows to forecast, more than the {STATISTICAL_WINDOWS} "
            "statistical candidates are fitted for"
        )
    return None


def select(
    config: Config,
    table: SeriesTable,
    progress: Progress | None = None,
    bounds: SplitBounds | None = None,
) -> Selection:
    """Fit the candidates on the training rows, select an ensemble on the validation
    windows, and refit it on the training and validation rows.

    Args:
        config: A config of ``model.type: auto``.
        table: The series.
        progress: How each fit reports.
        bounds: The split (default: ``data.split`` of the config).

    Raises:
        TsForecastError: when no candidate could be fitted.
    """
    params, window = config.model.params, config.window
    width, horizon = window.input_width, window.horizon
    if bounds is None:
        bounds = split_bounds(table, config.data.split, width, horizon, window.min_inputs)
    # the candidates see the series up to the end of validation only
    seen, seen_bounds = truncated(table, bounds.val_end, bounds.train_end, bounds.val_end)
    base = prepare_split(config, seen, seen_bounds)
    scored = scored_starts(base, horizon, params.origins)
    scorer = Scorer(base, scored, horizon)
    season = season_length(table.frequency, config.data.season_length)
    no_statistical = _statistical_room(base, scored, horizon, table)
    started = time.monotonic()
    capped = False
    records: list[dict[str, Any]] = []
    fitted: list[_Fitted] = []
    for candidate in candidates(config, seen):
        record: dict[str, Any] = {
            "candidate": candidate.name,
            "model": candidate.model["type"],
            "input_width": candidate.width,
            "settings": {**candidate.model, **candidate.data, **candidate.training},
        }
        records.append(record)
        if candidate.statistical and no_statistical:
            record["status"] = no_statistical
            continue
        if (  # the first network is always fitted: a run needs one
            params.budget_seconds is not None
            and time.monotonic() - started >= params.budget_seconds
            and any(not f.candidate.statistical for f in fitted)
        ):
            capped = True
            record["status"] = BUDGET_SPENT
            continue
        clock = time.perf_counter()
        try:
            fitted.append(
                _fit_candidate(candidate, config, base, seen, seen_bounds, scored, season, progress)
            )
            fitted[-1].record = record
            record.update(scorer.all(fitted[-1].forecast.point), status="ok")
            if fitted[-1].trained is not None and fitted[-1].trained.fit is not None:
                best = fitted[-1].trained.fit.best_epoch
                record["best_epoch"] = None if best is None else best + 1
        except (TsForecastError, ConfigError) as exc:
            record["status"] = f"failed: {exc}"
        record["seconds"] = round(time.perf_counter() - clock, 3)
    if not any(f.candidate.statistical is False for f in fitted):
        raise TsForecastError(
            "model.type auto could fit no network candidate: "
            + "; ".join(f"{r['candidate']}: {r.get('status')}" for r in records)
        )
    rounds = params.ensemble
    counts, score = ensemble_selection(
        [f.forecast.point for f in fitted], lambda f: scorer(f, params.metric), rounds
    )
    weights = counts / counts.sum()
    for f, w in zip(fitted, weights, strict=True):
        f.record["weight"] = round(float(w), 6)
    for record in records:
        record.setdefault("weight", 0.0)
        record["chosen"] = record["weight"] > 0
    networks = [(f, w) for f, w in zip(fitted, weights, strict=True) if not f.candidate.statistical]
    statistical = [
        (f, w) for f, w in zip(fitted, weights, strict=True) if f.candidate.statistical and w > 0
    ]
    network_weight = float(sum(w for _, w in networks))
    if network_weight > 0:
        networks = [(f, w) for f, w in networks if w > 0]
    else:  # statistical members only: the best network is saved, weighted 0
        networks = [min(networks, key=lambda item: item[0].record[f"val_{params.metric}"])]
    shares = [w / network_weight if network_weight > 0 else 1.0 for _, w in networks]
    validated = weighted_model([f.trained.model for f, _ in networks], shares, width)
    refits, models = {}, []
    for f, _ in networks:
        if params.refit and f.trained.fit is not None:
            trained, epochs = _refit(config, f, seen, seen_bounds, base, progress)
            refits[f.candidate.name] = epochs
            models.append(trained.model)
        else:
            models.append(f.trained.model)
    model = weighted_model(models, shares, width) if refits else validated
    prepared = prepare_split(config, table, bounds, base.scaler)
    heaviest = max(networks, key=lambda item: item[1])[0]
    history = [] if heaviest.trained.fit is None else heaviest.trained.fit.history
    blend_record = {
        "season_length": season,
        "network_weight": round(network_weight, 6),
        "statistical": [
            {"name": f.candidate.name, "weight": round(float(w), 6)} for f, w in statistical
        ],
    }
    members = [
        {"candidate": r["candidate"], "weight": r["weight"]}
        for r in sorted(records, key=lambda r: -r["weight"])
        if r["weight"] > 0
    ]
    summary = {
        "preset": params.preset if params.candidates is None else None,
        "metric": params.metric,
        "rounds": rounds,
        "val_origins": len(scored),
        f"val_{params.metric}": score,
        "chosen": [m["candidate"] for m in members],
        "members": members,
        "blend": blend_record,
        "refit": {
            "enabled": bool(params.refit),
            "rows": "train+val" if params.refit else "train",
            "epochs": refits,
        },
        "budget_seconds": params.budget_seconds,
        "capped": capped,
        "skipped_by_budget": sum(r["status"] == BUDGET_SPENT for r in records),
        "candidates": [{k: v for k, v in r.items() if k != "seconds"} for r in records],
    }
    return Selection(model, validated, prepared, blend_record, history, records, summary)


def _fit_candidate(
    candidate: Candidate,
    config: Config,
    base: PreparedData,
    seen: SeriesTable,
    seen_bounds: SplitBounds,
    scored: np.ndarray,
    season: int,
    progress: Progress | None,
) -> _Fitted:
    """Fit one candidate on the training rows; its forecasts of the scored windows."""
    width, horizon = config.window.input_width, config.window.horizon
    if candidate.statistical:
        baseline = classical.ClassicalBaseline(candidate.model["type"], season)
        scaled = baseline(base, scored, width, horizon)
        return _Fitted(candidate, {}, Forecast(base.inverse(scaled, scored)))
    own = candidate_config(config, candidate)
    prepared = prepare_split(own, seen, seen_bounds, base.scaler)
    trained = build_and_fit(own, prepared, progress=progress)
    trained.model.name = candidate.name  # unique within an ensemble
    wrapped = weighted_model([trained.model], [1.0], width)
    predictor = Predictor(wrapped, base.scaler, config.window, config.model.params)
    scaled = predictor.scaled(base.source(), scored, f" of candidate {candidate.name}")
    return _Fitted(candidate, {}, _original(scaled, base, scored), own, prepared, trained)


def _original(forecast: Forecast, prepared: PreparedData, starts: np.ndarray) -> Forecast:
    point = prepared.inverse(np.asarray(forecast.point, dtype="float64"), starts)
    if forecast.quantiles is None:
        return Forecast(point)
    q = np.moveaxis(prepared.inverse(np.moveaxis(forecast.quantiles, -1, -2), starts), -2, -1)
    return Forecast(point, q, forecast.levels)


def _refit(
    config: Config,
    f: _Fitted,
    seen: SeriesTable,
    seen_bounds: SplitBounds,
    base: PreparedData,
    progress: Progress | None,
) -> tuple[Any, int]:
    """The network refit on the training and validation rows for the epochs it needed."""
    fit = f.trained.fit
    epochs = (fit.best_epoch + 1) if fit.best_epoch is not None else max(1, len(fit.history))
    own = candidate_config(
        config, f.candidate, epochs=int(epochs), early_stopping={"enabled": False}
    )
    rows = SplitBounds(seen_bounds.val_end, seen_bounds.val_end)
    prepared = prepare_split(own, seen, rows, base.scaler)
    # the validation loss is still reported, on the windows validated before (now seen)
    starts = {**prepared.starts, "val": f.prepared.starts["val"]}
    prepared = dataclasses.replace(prepared, starts=starts)
    trained = build_and_fit(own, prepared, progress=progress)
    trained.model.name = f.candidate.name
    return trained, int(epochs)


def blended_forecasts(
    model: Any,
    prepared: PreparedData,
    config: Config,
    blend_record: dict[str, Any],
    part: str,
    *,
    fit_validation: bool,
) -> Callable[[np.ndarray], Forecast]:
    """Window starts -> the ensemble's scaled forecasts of ``part``: the networks' weighted
    mean blended with the statistical members (fitted on the training rows, and on the
    validation rows too with ``fit_validation``), in original units."""
    window = config.window
    predictor = Predictor(model, prepared.scaler, window, config.model.params)
    source = prepared.source()
    fitted = prepared
    if fit_validation:
        rows = SplitBounds(prepared.bounds.val_end, prepared.bounds.val_end)
        fitted = dataclasses.replace(prepared, bounds=rows)
    members = {
        m["name"]: classical.ClassicalBaseline(m["name"], blend_record["season_length"])
        for m in blend_record["statistical"]
    }

    def forecast(starts: np.ndarray) -> Forecast:
        net = predictor.scaled(source, starts, f" on the {part} split")
        if not members:
            return net
        statistical = {
            name: prepared.inverse(
                baseline(fitted, starts, window.input_width, window.horizon), starts
            )
            for name, baseline in members.items()
        }
        point = blend(prepared.inverse(net.point, starts), statistical, blend_record)
        return Forecast(prepared.scale_targets(point, starts))

    return forecast
