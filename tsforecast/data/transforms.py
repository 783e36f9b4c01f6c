"""Target transforms applied before scaling and inverted exactly after forecasting.

``data.transform`` lists them in the order they apply: ``log``, ``log1p`` and ``box_cox``
act on the target values here, fitted on the training rows only (the Box-Cox lambda of
each target, by maximum likelihood with SciPy); ``difference``, always last, is a layer
inside the model (see :mod:`tsforecast.models.preprocessing`), so it is not handled here.
Fitted state is plain JSON, saved in ``scaler.json`` beside the scaler's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsforecast.errors import DataError, RunError

#: The transforms applied to values here, and the values each accepts.
ELEMENTWISE = {"log": "positive", "log1p": "greater than -1", "box_cox": "positive"}


def _domain_ok(name: str, values: np.ndarray) -> np.ndarray:
    return values > -1.0 if name == "log1p" else values > 0.0


class TargetTransform:
    """The elementwise transforms of ``data.transform``, applied to every target column.

    Args:
        names: Transform names in the order they apply (``difference`` is skipped).
    """

    def __init__(self, names: tuple[str, ...] = ()) -> None:
        self.names = tuple(n for n in names if n in ELEMENTWISE)

    def check(self, targets: np.ndarray, where: Any) -> None:
        """Raise a DataError naming the first value a transform cannot take.

        Args:
            targets: ``(n_rows, n_targets)`` values in original units.
            where: ``where(row, column) -> str`` describing a cell for the message, e.g.
                "column 'y' at row 12 of series 'a'".
        """
        values = np.asarray(targets, dtype="float64")
        for name in self.names:
            bad = ~_domain_ok(name, values)
            if bad.any():
                row, col = np.argwhere(bad)[0]
                raise DataError(
                    f"data.transform {name} needs values {ELEMENTWISE[name]}, but "
                    f"{where(int(row), int(col))} holds {values[row, col]:g}."
                )
            values = self._apply(name, values, fitted=False)

    def fit(self, targets: np.ndarray) -> TargetTransform:
        """Fit the Box-Cox lambdas (if any) on ``(n_rows, n_targets)`` training values."""
        from scipy import stats

        values = np.asarray(targets, dtype="float64")
        self.lambdas_: list[float] = []
        for name in self.names:
            if name == "box_cox":
                try:
                    self.lambdas_ = [
                        float(stats.boxcox_normmax(col, method="mle")) for col in values.T
                    ]
                except (ValueError, ArithmeticError) as exc:
                    raise DataError(f"data.transform box_cox cannot be fitted: {exc}") from None
            values = self._apply(name, values)
        return self

    def _apply(self, name: str, values: np.ndarray, fitted: bool = True) -> np.ndarray:
        from scipy import special

        if name == "log":
            return np.log(values)
        if name == "log1p":
            return np.log1p(values)
        if not fitted:  # box_cox before fitting: only its domain matters
            return values
        return special.boxcox(values, np.asarray(self.lambdas_))

    def transform(self, targets: np.ndarray) -> np.ndarray:
        """Transform target values whose last axis holds the targets."""
        self._check_fitted()
        values = np.asarray(targets, dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            for name in self.names:
                values = self._apply(name, values)
        return values

    def inverse(self, transformed: np.ndarray) -> np.ndarray:
        """Map transformed values (last axis: the targets) back to original units."""
        from scipy import special

        self._check_fitted()
        values = np.asarray(transformed, dtype="float64")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for name in reversed(self.names):
                if name == "log":
                    values = np.exp(values)
                elif name == "log1p":
                    values = np.expm1(values)
                else:
                    # Box-Cox values lie beyond -1 / lambda on one side; a forecast past it
                    # maps to the edge of the range (0) rather than to NaN
                    lam = np.asarray(self.lambdas_)
                    edge = -1.0 / lam
                    values = np.where(lam > 0, np.maximum(values, edge), values)
                    values = np.where(lam < 0, np.minimum(values, edge), values)
                    values = special.inv_boxcox(values, lam)
        return values

    def _check_fitted(self) -> None:
        if not hasattr(self, "lambdas_"):
            raise RunError("This transform is not fitted yet; call fit() first.")

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {"names": list(self.names), "lambdas": list(self.lambdas_)}

    @classmethod
    def from_dict(cls, state: Any) -> TargetTransform:
        """A fitted transform from :meth:`to_dict`'s state.

        Raises:
            RunError: if the state is not what ``to_dict`` writes.
        """
        if not isinstance(state, dict):
            raise RunError("scaler.json is malformed: its transforms are not a mapping.")
        names, lambdas = state.get("names"), state.get("lambdas")
        if not isinstance(names, list) or not all(n in ELEMENTWISE for n in names):
            raise RunError("scaler.json is malformed: unknown target transforms.")
        if not isinstance(lambdas, list) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
            for v in lambdas
        ):
            raise RunError("scaler.json is malformed: Box-Cox lambdas must be finite numbers.")
        if ("box_cox" in names) == (not lambdas):
            raise RunError("scaler.json is malformed: Box-Cox lambdas do not match the transforms.")
        transform = cls(tuple(names))
        transform.lambdas_ = [float(v) for v in lambdas]
        return transform
