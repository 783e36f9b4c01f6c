"""Column scalers fitted on the train split, saved as plain JSON.

scikit-learn fits the statistics; the fitted state is kept as an affine map
``scaled = (x - offset_) / scale_`` so that it serialises to JSON and inverts exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsforecast.config.data import SCALERS
from tsforecast.data.loading import FLOAT32_MAX
from tsforecast.errors import RunError


class Scaler:
    """Per-column standard, min-max or identity scaling.

    Args:
        kind: ``standard`` (zero mean, unit variance), ``minmax`` (to [0, 1]) or ``none``.
    """

    def __init__(self, kind: str = "standard") -> None:
        self.kind = kind

    def fit(self, x: np.ndarray) -> Scaler:
        """Learn per-column statistics from ``x`` of shape ``(n_rows, n_columns)``."""
        from sklearn.preprocessing import MinMaxScaler, StandardScaler

        x = np.asarray(x, dtype="float64")
        if self.kind == "standard":
            fitted = StandardScaler().fit(x)
            self.offset_, self.scale_ = fitted.mean_, fitted.scale_
        elif self.kind == "minmax":
            fitted = MinMaxScaler().fit(x)
            self.offset_, self.scale_ = fitted.data_min_, 1.0 / fitted.scale_
        else:
            self.offset_, self.scale_ = np.zeros(x.shape[1]), np.ones(x.shape[1])
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "scale_"):
            raise RunError("This scaler is not fitted yet; call fit() first.")

    def transform(self, x: np.ndarray, columns: slice = slice(None)) -> np.ndarray:
        """Scale ``x`` whose last axis holds the chosen ``columns``."""
        self._check_fitted()
        return (np.asarray(x, dtype="float64") - self.offset_[columns]) / self.scale_[columns]

    def inverse_transform(self, x: np.ndarray, columns: slice = slice(None)) -> np.ndarray:
        """Map scaled values whose last axis holds ``columns`` back to original units."""
        self._check_fitted()
        return np.asarray(x, dtype="float64") * self.scale_[columns] + self.offset_[columns]

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "kind": self.kind,
            "offset": [float(v) for v in self.offset_],
            "scale": [float(v) for v in self.scale_],
        }

    @classmethod
    def from_dict(cls, state: Any) -> Scaler:
        """A fitted scaler from :meth:`to_dict`'s state.

        Raises:
            RunError: if the state is not what ``to_dict`` writes: a known kind and two
                equally long lists of numbers, finite within the float32 range the models
                compute in, with positive scales.
        """
        if not isinstance(state, dict) or state.get("kind") not in SCALERS:
            raise RunError("scaler.json is malformed: unknown kind.")
        arrays = []
        for key in ("offset", "scale"):
            values = state.get(key)
            if not isinstance(values, list) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) for v in values
            ):
                raise RunError(f"scaler.json is malformed: {key} must be a list of numbers.")
            arrays.append(np.asarray(values, dtype="float64"))
        offset, scale = arrays
        if offset.shape != scale.shape or offset.ndim != 1:
            raise RunError("scaler.json is malformed: offset and scale differ in length.")
        if not (np.isfinite(offset).all() and (np.abs(offset) <= FLOAT32_MAX).all()):
            raise RunError("scaler.json is malformed: an offset is not a finite float32 number.")
        if not (np.isfinite(scale).all() and (scale > 0).all() and (scale <= FLOAT32_MAX).all()):
            raise RunError("scaler.json is malformed: a scale is not a positive float32 number.")
        scaler = cls(state["kind"])
        scaler.offset_, scaler.scale_ = offset, scale
        return scaler
