"""Loading, validation, splitting, scaling and windowing of series."""

from tsforecast.data.dataset import PreparedData, prepare_data
from tsforecast.data.loading import SeriesTable, load_table
from tsforecast.data.scaling import Scaler

__all__ = ["PreparedData", "Scaler", "SeriesTable", "load_table", "prepare_data"]
