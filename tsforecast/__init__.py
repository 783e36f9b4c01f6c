"""tsforecast: Keras time-series forecasters from one YAML file."""

__version__ = "0.1.0"

__all__ = ["__version__"]
