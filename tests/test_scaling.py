import json

import numpy as np
import pytest

from tsforecast.data.scaling import Scaler
from tsforecast.errors import RunError

X = np.array([[1.0, 10.0], [2.0, 30.0], [3.0, 20.0], [6.0, 20.0]])


def test_standard_scaler_matches_hand_computed():
    scaler = Scaler("standard").fit(X)
    np.testing.assert_allclose(scaler.offset_, X.mean(axis=0))
    np.testing.assert_allclose(scaler.scale_, X.std(axis=0))
    scaled = scaler.transform(X)
    np.testing.assert_allclose(scaled.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled.std(axis=0), 1)


def test_minmax_scaler_maps_to_unit_interval():
    scaled = Scaler("minmax").fit(X).transform(X)
    np.testing.assert_allclose(scaled.min(axis=0), 0)
    np.testing.assert_allclose(scaled.max(axis=0), 1)


@pytest.mark.parametrize("kind", ["standard", "minmax", "none"])
@pytest.mark.parametrize(
    "transforms", [(), ("log",), ("log1p",), ("box_cox",), ("log1p", "box_cox")]
)
def test_inverse_and_json_round_trip(kind, transforms):
    scaler = Scaler(kind, transforms=transforms, n_targets=1).fit(X)
    restored = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    scaled = scaler.transform(X)
    np.testing.assert_allclose(restored.transform(X), scaled)
    np.testing.assert_allclose(restored.inverse_targets(scaled[:, :1]), X[:, :1])
    np.testing.assert_allclose(restored.inverse_targets(scaled), restored.inverse_targets(scaled))


def test_transforms_apply_to_targets_before_scaling():
    scaler = Scaler("none", transforms=("log",), n_targets=1).fit(X)
    np.testing.assert_allclose(scaler.transform(X), np.column_stack([np.log(X[:, 0]), X[:, 1]]))
    box = Scaler("none", transforms=("box_cox",), n_targets=2).fit(X)
    (lam_a, lam_b) = box.transform_.lambdas_
    from scipy import stats

    assert lam_a == pytest.approx(stats.boxcox(X[:, 0])[1], rel=1e-6)
    assert lam_b == pytest.approx(stats.boxcox(X[:, 1])[1], rel=1e-6)


def test_per_series_statistics():
    series = np.array([0, 0, 1, 1])
    scaler = Scaler("standard", "series").fit(X, series, ("a", "b"))
    np.testing.assert_allclose(scaler.offset_, [X[:2].mean(axis=0), X[2:].mean(axis=0)])
    scaled = scaler.transform(X, series)
    np.testing.assert_allclose(scaled[:2].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(scaled[2:].mean(axis=0), 0, atol=1e-12)
    # forecasts (n, horizon, n_targets) of series b and a map back with their own statistics
    forecast = np.zeros((2, 3, 1))
    back = scaler.inverse_targets(forecast, np.array([1, 0]))
    np.testing.assert_allclose(back[:, :, 0], [[4.5] * 3, [1.5] * 3])
    restored = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert list(restored.series_index(("b", "a"))) == [1, 0]
    from tsforecast.errors import DataError

    with pytest.raises(DataError, match="Series 'c' was not in the training data"):
        restored.series_index(("a", "c"))


def test_values_a_transform_cannot_take_are_named():
    from tsforecast.errors import DataError

    values = np.array([[1.0], [0.0]])
    with pytest.raises(DataError, match="data.transform log needs values positive, but cell 1"):
        Scaler(transforms=("log",), n_targets=1).check_transformable(
            values, lambda row, col: f"cell {row}"
        )


def test_constant_column_does_not_divide_by_zero():
    constant = np.array([[5.0], [5.0], [5.0]])
    for kind in ("standard", "minmax"):
        scaled = Scaler(kind).fit(constant).transform(constant)
        assert np.isfinite(scaled).all()


def test_unfitted_scaler_refuses():
    with pytest.raises(RunError, match="not fitted"):
        Scaler().transform(X)
    with pytest.raises(RunError, match="malformed"):
        Scaler.from_dict({"kind": "standard"})
