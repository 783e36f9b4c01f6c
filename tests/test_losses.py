"""The scale-free losses against hand-computed values, and the statistics they read."""

import numpy as np
import pytest
from conftest import base_config, write_config

from tsforecast.commands.train import train
from tsforecast.config import config_from_dict, load_config
from tsforecast.data.pipeline import window_dataset
from tsforecast.data.prepared import prepare_data
from tsforecast.errors import ConfigError
from tsforecast.models.losses import ScaleFreeLoss
from tsforecast.training.fit import fit_datasets, target_statistics


def packed(values, offset, scale, naive):
    """Targets with their series' statistics alongside: ``(batch, horizon, 1, 4)``."""
    values = np.asarray(values, dtype="float32")[..., None]
    stats = np.broadcast_to(np.float32([offset, scale, naive]), (*values.shape, 3))
    return np.concatenate([values[..., None], stats], axis=-1)


def test_mase_loss_divides_absolute_errors_by_the_series_one_step_change():
    # two windows of two steps; the second series changes four times as much per step
    y_true = np.concatenate(
        [packed([[1.0, 2.0]], 0.0, 1.0, 0.5), packed([[10.0, 20.0]], 0.0, 1.0, 2.0)]
    )
    y_pred = np.float32([[[2.0], [2.0]], [[14.0], [20.0]]])
    loss = float(ScaleFreeLoss("mase")(y_true, y_pred))
    # window 1: |1-2|/0.5, 0 -> mean 1; window 2: |10-14|/2, 0 -> mean 1
    assert loss == pytest.approx(1.0)


def test_smape_loss_is_computed_in_original_units():
    # scaled 0 and 1 stand for 100 and 110 (offset 100, scale 10)
    y_true = packed([[0.0, 1.0]], 100.0, 10.0, 1.0)
    y_pred = np.float32([[[1.0], [1.0]]])  # forecasts 110, 110
    expected = (200 * 10 / 210 + 0.0) / 2
    assert float(ScaleFreeLoss("smape")(y_true, y_pred)) == pytest.approx(expected, rel=1e-5)


def test_targets_carry_their_series_statistics(workdir):
    config = config_from_dict(
        {
            **base_config("panel.csv"),
            "data": {**base_config("panel.csv")["data"], "id_column": "id", "feature_columns": []},
            "training": {"loss": "mase", "epochs": 1},
        }
    )
    prepared = prepare_data(config)
    statistics = target_statistics(prepared)
    assert statistics.shape == (3, 1, 3)
    scaled = prepared.scaled[:, 0]
    lo, hi = prepared.table.offsets[1], prepared.bounds.train_end[1]
    assert statistics[1, 0, 2] == pytest.approx(np.abs(np.diff(scaled[lo:hi])).mean(), rel=1e-5)
    original = scaled[lo] * statistics[1, 0, 1] + statistics[1, 0, 0]
    assert original == pytest.approx(prepared.table.values[lo, 0], rel=1e-4)
    train, _, _ = fit_datasets(prepared, config)
    inputs, targets = train[0]
    assert targets.shape[-1] == 4 and targets.shape[:-1] == (*inputs.shape[:1], 4, 1)
    first = train.order.current[:64]
    plain = window_dataset(prepared.source(), first, 12, 64, horizon=4, n_targets=1)
    np.testing.assert_array_equal(targets[..., 0], plain[0][1])


@pytest.mark.parametrize("loss", ["mase", "smape"])
def test_a_panel_trains_with_a_scale_free_loss(workdir, loss):
    raw = base_config("panel.csv")
    raw["data"].update(id_column="id", feature_columns=[])
    raw["training"]["loss"] = loss
    result = train(load_config(write_config(workdir, raw)))
    assert np.isfinite(result.metrics["test"]["model"]["mase"])
    assert result.metrics["test"]["model"]["mase"] < 3 * result.metrics["test"]["naive"]["mase"]


def test_smape_loss_refuses_target_transforms(workdir):
    raw = base_config("series.csv")
    raw["training"]["loss"] = "smape"
    raw["data"]["transform"] = ["log"]
    with pytest.raises(ConfigError, match="training.loss smape scores forecasts in original"):
        load_config(write_config(workdir, raw))
