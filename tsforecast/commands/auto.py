"""``model.type: auto``: fit a small set of candidate models and keep the best on the
validation split. The candidates see the series only up to the end of the validation
split, so the test split is never read for the choice.

The candidates, cheapest first, each a full config derived from the user's (same data,
window and training settings):

- ``naive``, and ``seasonal_naive`` (season of ``data.season_length`` or the frequency;
  when it fits the input window);
- ``linear`` with instance normalisation (``last``: NLinear);
- ``linear`` on log differences (``transform: [log, difference]`` with the season as lag;
  plain differences where a target is not positive);
- ``mlp`` with instance normalisation;
- ``nhits`` (``tide`` when the data has covariates, which N-HiTS does not read);
- ``gru`` with instance normalisation.

Candidates are launched while ``model.budget_seconds`` lasts, and scored by their MSE
on the validation windows in original units (so candidates that transform the data
compare fairly). With ``model.ensemble: N`` the best N that prepare the data alike (the
same target transforms) are combined into one model forecasting their median, kept when
it scores better on validation than the best candidate alone.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

from tsforecast.config import Config, config_from_dict, config_to_dict
from tsforecast.data.loading import SeriesTable
from tsforecast.data.prepared import PreparedData, prepare_split
from tsforecast.data.splits import SplitBounds, split_bounds, truncated
from tsforecast.errors import ConfigError, TsForecastError
from tsforecast.evaluation import compare_with_baselines, season_length
from tsforecast.forecasting import checked_forecasts
from tsforecast.training.fit import Progress, Trained, build_and_fit


@dataclass(frozen=True)
class Candidate:
    """One model ``auto`` tries: its name, and the config keys it sets."""

    name: str
    model: dict[str, Any]
    data: dict[str, Any]


@dataclass(frozen=True)
class Choice:
    """What ``auto`` kept.

    Attributes:
        trained: The chosen model (the median of several, with an ensemble).
        prepared: The data as the chosen candidates prepare it (its scaler and transforms).
        config: The config of the best candidate.
        records: Every candidate's name, settings, validation scores, seconds and status.
        chosen: The names of the candidates kept, best first.
    """

    trained: Trained
    prepared: PreparedData
    config: Config
    records: list[dict[str, Any]]
    chosen: list[str]


def candidates(config: Config, table: SeriesTable) -> list[Candidate]:
    """The candidates for ``config``'s data, cheapest first."""
    data = config.data
    width = config.window.input_width
    season = season_length(table.frequency, data.season_length)
    covariates = bool(
        data.future_columns or data.calendar or data.static_columns or data.id_embedding
    )
    norm = {"instance_norm": "last"}
    out = [Candidate("naive", {"type": "naive"}, {})]
    if 1 < season <= width:
        out.append(
            Candidate("seasonal_naive", {"type": "seasonal_naive", "season_length": season}, {})
        )
    out.append(Candidate("linear_instance_norm", {"type": "linear"}, norm))
    lag = season if 1 < season < width else 1
    positive = bool((table.values[:, : table.n_targets] > 0).all())
    transform = ["log", "difference"] if positive else ["difference"]
    name = "linear_log_difference" if positive else "linear_difference"
    out.append(Candidate(name, {"type": "linear"}, {"transform": transform, "difference_lag": lag}))
    out.append(Candidate("mlp_instance_norm", {"type": "mlp", "units": [64]}, norm))
    if covariates:
        out.append(Candidate("tide", {"type": "tide", "units": 64}, {}))
    else:
        out.append(Candidate("nhits", {"type": "nhits", "units": [64, 64]}, {}))
    out.append(Candidate("gru_instance_norm", {"type": "gru", "units": [32]}, norm))
    return out


def candidate_config(config: Config, candidate: Candidate) -> Config:
    """The user's config with the candidate's model and data keys."""
    raw = copy.deepcopy(config_to_dict(config))
    raw["model"] = dict(candidate.model)
    raw["data"].update(candidate.data)
    return config_from_dict(raw)


def _val_scores(trained: Trained, prepared: PreparedData, config: Config) -> dict[str, float]:
    """The candidate's validation MSE and MAE in original units."""
    window = config.window
    forecast = checked_forecasts(trained.model, prepared, config, "val")
    scores = compare_with_baselines(prepared, "val", forecast, window.input_width, window.horizon)
    return {"val_mse": scores["model"]["mse"], "val_mae": scores["model"]["mae"]}


def select(
    config: Config,
    table: SeriesTable,
    progress: Progress | None = None,
    bounds: SplitBounds | None = None,
) -> Choice:
    """Fit the candidates within the budget and keep the best on validation.

    Args:
        config: A config of ``model.type: auto``.
        table: The series.
        progress: How each candidate's fit reports.
        bounds: The split (default: ``data.split`` of the config).

    Raises:
        TsForecastError: when no candidate could be fitted.
    """
    params = config.model.params
    window = config.window
    if bounds is None:
        bounds = split_bounds(
            table, config.data.split, window.input_width, window.horizon, window.min_inputs
        )
    # the candidates see the series up to the end of validation only
    seen, seen_bounds = truncated(table, bounds.val_end, bounds.train_end, bounds.val_end)
    deadline = time.monotonic() + params.budget_seconds
    records, fitted = [], []
    for candidate in candidates(config, seen):
        record: dict[str, Any] = {
            "candidate": candidate.name,
            "model": candidate.model["type"],
            "settings": {**candidate.model, **candidate.data},
        }
        records.append(record)
        if time.monotonic() >= deadline:
            record.update(status="skipped: the budget was spent", seconds=0.0)
            continue
        started = time.perf_counter()
        try:
            own = candidate_config(config, candidate)
            prepared = prepare_split(own, seen, seen_bounds)
            trained = build_and_fit(own, prepared, progress=progress)
            record.update(_val_scores(trained, prepared, own), status="ok")
            fitted.append((record["val_mse"], len(fitted), candidate, own, prepared, trained))
        except (TsForecastError, ConfigError) as exc:
            record["status"] = f"failed: {exc}"
        record["seconds"] = round(time.perf_counter() - started, 3)
    if not fitted:
        raise TsForecastError(
            "model.type auto could fit no candidate: "
            + "; ".join(f"{r['candidate']}: {r['status']}" for r in records)
        )
    fitted.sort(key=lambda item: (item[0], item[1]))
    _, _, best, best_config, seen_prepared, trained = fitted[0]
    # the whole series, scaled as the candidates were (on the same training rows)
    prepared = prepare_split(best_config, table, bounds, seen_prepared.scaler)
    members = [
        item for item in fitted if item[2].data.get("transform") == best.data.get("transform")
    ][: params.ensemble]
    if len(members) > 1:
        from tsforecast.models.ensemble import median_model

        model = median_model([item[5].model for item in members])
        median = Trained(model, trained.fit, trained.precision)
        scores = _val_scores(median, seen_prepared, best_config)
        names = [item[2].name for item in members]
        records.append(
            {
                "candidate": "median of " + ", ".join(names),
                "model": "ensemble",
                "settings": {"ensemble": names},
                **scores,
            }
        )
        records[-1].update(status="ok", seconds=0.0)
        if scores["val_mse"] <= fitted[0][0]:  # the median only where it validates better
            trained = median
        else:
            members = members[:1]
    chosen = [item[2].name for item in members]
    for record in records:
        record["chosen"] = record["candidate"] in chosen or (
            record["model"] == "ensemble" and len(chosen) > 1
        )
    return Choice(trained, prepared, best_config, records, chosen)
