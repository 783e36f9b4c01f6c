"""From values in original units to the scaled values the models read, and back.

A :class:`Scaler` applies, in order: the target transforms of ``data.transform`` (log,
Box-Cox, ...; see :mod:`tsforecast.data.transforms`), then an affine map per column,
``scaled = (x - offset_) / scale_``, one for all series or one per series
(``data.scaler_scope``). scikit-learn fits the statistics on the training rows only; the
fitted state is plain JSON (``scaler.json``) that inverts exactly. Numeric static
covariates get a standard scaling of their own, fitted on the training series.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tsforecast.config.data import SCALERS
from tsforecast.data.loading import FLOAT32_MAX
from tsforecast.data.transforms import TargetTransform
from tsforecast.errors import DataError, RunError

SCOPES = ("global", "series")


def _statistics(kind: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(offset, scale)`` per column of ``x`` for a scaler of ``kind``."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    if x.shape[1] == 0:
        return np.zeros(0), np.ones(0)
    if kind == "standard":
        fitted = StandardScaler().fit(x)
        return fitted.mean_, fitted.scale_
    if kind == "minmax":
        fitted = MinMaxScaler().fit(x)
        return fitted.data_min_, 1.0 / fitted.scale_
    return np.zeros(x.shape[1]), np.ones(x.shape[1])


def _series_statistics(
    kind: str, x: np.ndarray, series: np.ndarray, n_series: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(offset, scale)``, each ``(n_series, n_columns)``: :func:`_statistics` of the rows
    of each series, computed for all series at once by a pandas groupby."""
    import pandas as pd

    shape = (n_series, x.shape[1])
    if x.shape[1] == 0 or kind not in ("standard", "minmax"):
        return np.zeros(shape), np.ones(shape)
    groups = pd.DataFrame(x).groupby(series, sort=True)
    if kind == "standard":
        offset, scale = groups.mean(), groups.std(ddof=0)
    else:
        offset = groups.min()
        scale = groups.max() - offset
    offset = offset.reindex(range(n_series)).to_numpy()
    scale = scale.reindex(range(n_series)).to_numpy()
    # as scikit-learn does: a constant column keeps its scale (1), not a division by zero
    scale[scale < 10 * np.finfo(scale.dtype).eps] = 1.0
    return offset, scale


class Scaler:
    """Target transforms, then per-column standard, min-max or identity scaling.

    Args:
        kind: ``standard`` (zero mean, unit variance), ``minmax`` (to [0, 1]) or ``none``.
        scope: ``global`` (one map for all series) or ``series`` (one per series).
        transforms: ``data.transform``: the target transforms applied first.
        n_targets: How many leading columns are targets (the transforms apply to them).

    Attributes:
        offset_, scale_: ``(n_columns,)``, or ``(n_series, n_columns)`` per series.
        ids_: The series' names, per series (to find a series' statistics by name).
        transform_: The fitted :class:`TargetTransform`.
        static_offset_, static_scale_: The standard scaling of numeric static covariates.
    """

    def __init__(
        self,
        kind: str = "standard",
        scope: str = "global",
        transforms: tuple[str, ...] = (),
        n_targets: int = 0,
    ) -> None:
        self.kind = kind
        self.scope = scope
        self.transforms = tuple(transforms)
        self.n_targets = n_targets

    def fit(
        self,
        x: np.ndarray,
        series: np.ndarray | None = None,
        ids: tuple[str, ...] | None = None,
        static: np.ndarray | None = None,
    ) -> Scaler:
        """Learn the statistics from training rows.

        Args:
            x: ``(n_rows, n_columns)`` training rows in original units.
            series: ``(n_rows,)`` the series of each row (needed with scope ``series``).
            ids: The names of the series ``series`` counts (needed with scope ``series``).
            static: ``(n_training_series, n_static)`` numeric static covariates.
        """
        x = np.asarray(x, dtype="float64")
        self.transform_ = TargetTransform(self.transforms).fit(x[:, : self.n_targets])
        x = self._transformed(x)
        if self.scope == "global":
            self.offset_, self.scale_ = _statistics(self.kind, x)
            self.ids_ = None
        else:
            self.offset_, self.scale_ = _series_statistics(self.kind, x, series, len(ids))
            self.ids_ = tuple(ids)
        static = np.zeros((1, 0)) if static is None else np.asarray(static, dtype="float64")
        self.static_offset_, self.static_scale_ = _statistics("standard", static)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "scale_"):
            raise RunError("This scaler is not fitted yet; call fit() first.")

    def _transformed(self, x: np.ndarray) -> np.ndarray:
        if not self.transform_.names:
            return x
        x = x.copy()
        x[:, : self.n_targets] = self.transform_.transform(x[:, : self.n_targets])
        return x

    def _map(self, columns: slice, series: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """``(offset, scale)`` of ``columns``, per row of ``series`` with scope ``series``."""
        if self.scope == "global":
            return self.offset_[columns], self.scale_[columns]
        if series is None:
            raise RunError("A per-series scaler needs the series of every row.")
        return self.offset_[series, columns], self.scale_[series, columns]

    def series_index(self, ids: tuple[str, ...] | None) -> np.ndarray | None:
        """Where the statistics of each named series are (None with scope ``global``).

        Raises:
            DataError: for a series without statistics of its own.
        """
        if self.scope == "global":
            return None
        known = {name: i for i, name in enumerate(self.ids_)}
        names = ids if ids is not None else ("0",)
        unknown = [name for name in names if name not in known]
        if unknown:
            raise DataError(
                f"Series '{unknown[0]}' was not in the training data, and the run scales every "
                "series by its own training statistics (data.scaler_scope: series); forecast "
                "only the series it was trained on, or train with data.scaler_scope: global."
            )
        return np.asarray([known[name] for name in names], dtype=np.int64)

    def transform(self, x: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """Transform and scale ``(n_rows, n_columns)`` values of rows of ``series``."""
        self._check_fitted()
        x = self._transformed(np.asarray(x, dtype="float64"))
        offset, scale = self._map(slice(None), series)
        return (x - offset) / scale

    def inverse_targets(self, x: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """Map scaled target values back to original units.

        Args:
            x: ``(n, ..., n_targets)`` scaled values, e.g. forecasts of ``n`` windows.
            series: ``(n,)`` the series of each, with scope ``series``.
        """
        self._check_fitted()
        x = np.asarray(x, dtype="float64")
        offset, scale = self._map(slice(0, x.shape[-1]), series)
        if series is not None and self.scope == "series":
            shape = (len(series),) + (1,) * (x.ndim - 2) + (x.shape[-1],)
            offset, scale = offset.reshape(shape), scale.reshape(shape)
        return self.transform_.inverse(x * scale + offset)

    def scale_targets(self, x: np.ndarray, series: np.ndarray | None = None) -> np.ndarray:
        """Transform and scale target values: the inverse of :meth:`inverse_targets`."""
        self._check_fitted()
        x = self.transform_.transform(np.asarray(x, dtype="float64"))
        offset, scale = self._map(slice(0, x.shape[-1]), series)
        if series is not None and self.scope == "series":
            shape = (len(series),) + (1,) * (x.ndim - 2) + (x.shape[-1],)
            offset, scale = offset.reshape(shape), scale.reshape(shape)
        return (x - offset) / scale

    def transform_static(self, static: np.ndarray) -> np.ndarray:
        """Standardise numeric static covariates ``(n_series, n_static)``."""
        self._check_fitted()
        return (np.asarray(static, dtype="float64") - self.static_offset_) / self.static_scale_

    def check_transformable(self, targets: np.ndarray, where: Any) -> None:
        """Raise a DataError naming the first target value a transform cannot take."""
        TargetTransform(self.transforms).check(targets, where)

    def to_dict(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "kind": self.kind,
            "scope": self.scope,
            "n_targets": self.n_targets,
            "offset": self.offset_.tolist(),
            "scale": self.scale_.tolist(),
            "ids": None if self.ids_ is None else list(self.ids_),
            "transforms": self.transform_.to_dict(),
            "static_offset": self.static_offset_.tolist(),
            "static_scale": self.static_scale_.tolist(),
        }

    @classmethod
    def from_dict(cls, state: Any) -> Scaler:
        """A fitted scaler from :meth:`to_dict`'s state (or an earlier version's, which
        had neither scope, transforms nor static scaling).

        Raises:
            RunError: if the state is not what ``to_dict`` writes: a known kind and
                equally shaped offsets and scales, finite within the float32 range the
                models compute in, with positive scales.
        """
        if not isinstance(state, dict) or state.get("kind") not in SCALERS:
            raise RunError("scaler.json is malformed: unknown kind.")
        scope = state.get("scope", "global")
        if scope not in SCOPES:
            raise RunError("scaler.json is malformed: unknown scope.")
        offset, scale = (_numbers(state.get(key), key) for key in ("offset", "scale"))
        static_offset, static_scale = (
            _numbers(state.get(key, []), key) for key in ("static_offset", "static_scale")
        )
        ndim = 1 if scope == "global" else 2
        ids = state.get("ids")
        if (
            offset.shape != scale.shape
            or offset.ndim != ndim
            or static_offset.shape != (static_scale.shape)
        ):
            raise RunError("scaler.json is malformed: offset and scale differ in shape.")
        if scope == "series" and (
            not isinstance(ids, list)
            or len(ids) != len(offset)
            or not all(isinstance(i, str) for i in ids)
        ):
            raise RunError("scaler.json is malformed: it does not name its series.")
        for values, what in ((offset, "an offset"), (static_offset, "a static offset")):
            if not (np.abs(values) <= FLOAT32_MAX).all():
                raise RunError(f"scaler.json is malformed: {what} is not a finite float32 number.")
        for values, what in ((scale, "a scale"), (static_scale, "a static scale")):
            if not ((values > 0) & (values <= FLOAT32_MAX)).all():
                raise RunError(
                    f"scaler.json is malformed: {what} is not a positive float32 number."
                )
        n_targets = state.get("n_targets", 0)
        if not isinstance(n_targets, int) or isinstance(n_targets, bool) or n_targets < 0:
            raise RunError("scaler.json is malformed: n_targets is not a count.")
        transforms = state.get("transforms", {"names": [], "lambdas": []})
        transform = TargetTransform.from_dict(transforms)
        scaler = cls(state["kind"], scope, transform.names, n_targets)
        scaler.offset_, scaler.scale_ = offset, scale
        scaler.ids_ = None if scope == "global" else tuple(ids)
        scaler.transform_ = transform
        scaler.static_offset_, scaler.static_scale_ = static_offset, static_scale
        return scaler


def _numbers(values: Any, key: str) -> np.ndarray:
    """A (nested) list of finite numbers as an array, or a RunError naming ``key``."""
    flat = np.asarray(values, dtype=object).ravel() if isinstance(values, list) else None
    if flat is None or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in flat
    ):
        raise RunError(f"scaler.json is malformed: {key} must be a list of numbers.")
    return np.asarray(values, dtype="float64")
