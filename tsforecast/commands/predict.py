"""``tsforecast predict``: forecast the real future of every series with a finished run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tsforecast.data.loading import load_input
from tsforecast.errors import DataError
from tsforecast.forecasting import forecast_table
from tsforecast.runs import load_run


@dataclass(frozen=True)
class Prediction:
    """A forecast, and what the user should know about the input it was made from.

    Attributes:
        frame: One row per series and forecast step: the id column (if any), the time
            column (or ``step``) and the forecast of every target.
        warnings: One sentence each, e.g. that the input's frequency is not the run's.
    """

    frame: pd.DataFrame
    warnings: tuple[str, ...] = ()


def predict(
    run_dir: str | Path,
    input_path: str | Path | None = None,
    *,
    future_path: str | Path | None = None,
    strict: bool = False,
) -> Prediction:
    """Load a run and forecast the future of every series in ``input_path``.

    Every row of the input is read (``data.rows`` applies to training only), so the
    forecast starts after its last row.

    Args:
        run_dir: A complete run directory.
        input_path: New data with the training columns (default: the training file).
        future_path: The values of the known-future columns over the forecast steps, for
            a run that reads them.
        strict: Refuse an input whose frequency differs from the training data's, rather
            than warn.

    Raises:
        RunError: if the run cannot be used. DataError: if the input cannot.
    """
    run = load_run(run_dir)
    table = load_input(run.config.data, input_path)
    warnings = []
    trained, given = run.metrics["run"].get("frequency"), table.frequency
    if trained is not None and given is not None and given != trained:
        message = (
            f"The input's timestamps are {given} apart, but run {run.path.name} was trained on "
            f"{trained} data; its forecasts are {trained} steps."
        )
        if strict:
            raise DataError(message)
        warnings.append(message)
    return Prediction(forecast_table(run, table, future_path), tuple(warnings))
