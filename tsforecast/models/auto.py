"""``model.type: auto``: the parameters of the model search (see
:mod:`tsforecast.selection`, which fits the candidates, combines the best and refits them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tsforecast.models.common import head_option, quantile_levels, quantiles_option
from tsforecast.schema import option, positive, unique

#: The candidates of each preset (fitted in the order of :func:`tsforecast.selection.catalogue`).
_FAST = ("naive", "seasonal_naive", "linear", "mlp", "ets", "theta")
_MEDIUM = (*_FAST, "linear_half", "mlp_scale_free", "mlp_half", "nhits")
_BEST = (*_MEDIUM, "mlp_seed", "nhits_half", "gru", "tsmixer", "patchtst", "arima")
PRESETS = {"fast": _FAST, "medium": _MEDIUM, "best": _BEST}

#: Every candidate name a config may list in ``model.candidates``.
CANDIDATE_NAMES = PRESETS["best"]


def _known(value: tuple[str, ...]) -> str | None:
    unknown = [name for name in value if name not in CANDIDATE_NAMES]
    if unknown:
        return "candidate names among " + ", ".join(CANDIDATE_NAMES)
    return unique(value)


@dataclass(frozen=True)
class AutoParams:
    """``auto``: candidates across families, lookbacks, losses and statistical models, scored
    on validation windows, combined by greedy ensemble selection and refit on the training
    and validation rows."""

    preset: Literal["fast", "medium", "best"] = option(
        "medium",
        help="Which candidates to fit: `fast` (baselines, linear, MLP, ETS, Theta), `medium` "
        "(also half lookbacks, a scale-free loss and N-HiTS or TiDE) or `best` (also GRU, "
        "TSMixer, PatchTST, another seed and ARIMA).",
    )
    candidates: tuple[str, ...] | None = option(
        None,
        help="Fit exactly these candidates (names as in `candidates.csv`) instead of the preset's.",
        check=_known,
    )
    metric: Literal["mase", "smape", "mae", "mse"] = option(
        "mase",
        help="What candidates and ensembles are scored by on the validation windows; `mase` "
        "and `smape` are scale-free, so no series decides by its size alone.",
    )
    ensemble: int = option(
        20,
        help="Rounds of greedy ensemble selection with replacement (each adds the candidate "
        "that most improves the validation score; the weights are how often each was "
        "added); 1 keeps the single best candidate.",
        check=positive,
    )
    origins: int = option(
        10,
        help="Most validation origins per series, one horizon apart and ending at the "
        "validation split's last, that candidates are scored on.",
        check=positive,
    )
    statistical: bool = option(
        True,
        help="Fit statsforecast's ETS, Theta (and, in `best`, ARIMA) as candidates where "
        "`tsforecast[classical]` is installed; a run that keeps one cannot be exported.",
    )
    refit: bool = option(
        True,
        help="Refit the members on the training and validation rows, each for the epochs "
        "it needed, before the test forecast; that refit ensemble is what predict uses.",
    )
    budget_seconds: float | None = option(
        None,
        help="Most seconds to spend fitting candidates: none is launched once they are "
        "spent, and the summary and metrics say so (default: no cap, so the same data and "
        "config give the same choice on any machine).",
        check=positive,
    )
    head: str = head_option()
    quantiles: tuple[float, ...] = option(
        quantiles_option().default,
        help="Quantile levels of `head: quantile` (each member forecasts them; the ensemble "
        "averages them).",
        check=quantile_levels,
    )
