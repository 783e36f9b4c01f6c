"""tsforecast: Keras time-series forecasters from one YAML file."""

from tsforecast import engine

__version__ = "0.1.0"

engine.select()

__all__ = ["__version__"]
