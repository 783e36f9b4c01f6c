"""``tsforecast predict``: forecast the real future of every series with a finished run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tsforecast.data.loading import load_table
from tsforecast.forecasting import forecast_table
from tsforecast.runs import load_run


def predict(run_dir: str | Path, input_path: str | Path | None = None) -> pd.DataFrame:
    """Load a run and forecast the future of every series in ``input_path``.

    Args:
        run_dir: A complete run directory.
        input_path: New data with the training columns (default: the training file).

    Returns:
        One row per series and forecast step: the id column (if any), the time column (or
        ``step``) and the forecast of every target.
    """
    run = load_run(run_dir)
    table = load_table(run.config.data, input_path)
    return forecast_table(run, table)
