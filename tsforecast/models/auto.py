"""``model.type: auto``: the parameters of the model search (see
:mod:`tsforecast.commands.auto`, which fits the candidates and keeps the best)."""

from __future__ import annotations

from dataclasses import dataclass

from tsforecast.models.common import head_option
from tsforecast.schema import option, positive


@dataclass(frozen=True)
class AutoParams:
    """``auto``: candidates across families, transforms and normalisation, chosen on the
    validation split."""

    budget_seconds: float = option(
        600.0,
        help="Seconds to spend: no further candidate is launched once they are spent.",
        check=positive,
    )
    ensemble: int = option(
        1,
        help="Forecast the median of the best this many candidates (of one data "
        "preparation), saved as one model, when it validates better than the best alone.",
        check=positive,
    )
    head: str = head_option()
