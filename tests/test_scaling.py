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
def test_inverse_and_json_round_trip(kind):
    scaler = Scaler(kind).fit(X)
    restored = Scaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    np.testing.assert_allclose(restored.inverse_transform(scaler.transform(X)), X)
    np.testing.assert_allclose(
        restored.inverse_transform(scaler.transform(X[:, :1], slice(0, 1)), slice(0, 1)),
        X[:, :1],
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
