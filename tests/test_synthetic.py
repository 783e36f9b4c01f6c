"""The built-in sum-of-two-sines data and the split by series it is used with."""

import dataclasses

import numpy as np
import pytest

from tsforecast.config import config_from_dict
from tsforecast.data.prepared import prepare_data
from tsforecast.data.synthetic import sine_series
from tsforecast.errors import ConfigError


def sines_config(**data):
    raw = {
        "data": {
            "source": "synthetic_sines",
            "synthetic": {"n_series": 100, "n_steps": 60},
            "split": {"by": "series", "val": 0.2, "test": 0.1},
            "scaler": "none",
            **data,
        },
        "window": {"input_width": 50, "horizon": 10},
        "model": {"type": "naive"},
    }
    return config_from_dict(raw)


def book_series(batch_size, n_steps):
    """The book's generator, verbatim, on NumPy's global random state."""
    freq1, freq2, offsets1, offsets2 = np.random.rand(4, batch_size, 1)
    time = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))
    series += 0.1 * (np.random.rand(batch_size, n_steps) - 0.5)
    return series[..., np.newaxis].astype(np.float32)


def test_generator_draws_what_the_book_draws():
    state = np.random.get_state()
    try:
        np.random.seed(42)
        expected = book_series(300, 51)[..., 0]
    finally:
        np.random.set_state(state)
    np.testing.assert_array_equal(sine_series(300, 51, seed=42), expected)


def test_naive_validation_mse_matches_the_book():
    """The book's naive figures: 0.0202 (next step) and 0.2570 (10 steps, seed 42)."""
    valid = sine_series(10000, 51)[7000:9000]
    assert np.mean((valid[:, 50] - valid[:, 49]) ** 2) == pytest.approx(0.0202, abs=5e-5)
    valid = sine_series(10000, 60)[7000:9000]
    assert np.mean((valid[:, 50:] - valid[:, 49:50]) ** 2) == pytest.approx(0.2570, abs=5e-5)


def test_split_by_series_gives_one_window_per_series():
    config = sines_config()
    prepared = prepare_data(config)
    table = prepared.table
    assert table.n_series == 100 and table.columns == ("value",)
    # Series 0-69 train, 70-89 validation, 90-99 test: one window each, from its first row.
    np.testing.assert_array_equal(prepared.starts["train"], table.offsets[:70])
    np.testing.assert_array_equal(prepared.starts["val"], table.offsets[70:90])
    np.testing.assert_array_equal(prepared.starts["test"], table.offsets[90:100])
    series = sine_series(100, 60)
    # MASE's scale: a train series' own steps; a held-out series gets the train series' pooled
    # steps, never its own.
    steps = np.abs(np.diff(series.astype("float64"), axis=1))
    assert prepared.mase_scale[0] == pytest.approx(steps[0].mean())
    assert prepared.mase_scale[95] == pytest.approx(steps[:70].mean())
    assert prepared.mase_scale[95] != pytest.approx(steps[95].mean())


def test_split_by_series_counts_and_long_series():
    config = sines_config(
        synthetic={"n_series": 10, "n_steps": 64}, split={"by": "series", "val": 3, "test": 2}
    )
    prepared = prepare_data(config)
    # 64 rows hold 64 - 60 + 1 = 5 windows; 5 train series, 3 validation, 2 test.
    assert [len(prepared.starts[p]) for p in ("train", "val", "test")] == [25, 15, 10]
    train_rows = prepared.bounds.train_mask(640, prepared.table.offsets)
    assert train_rows.sum() == 5 * 64 and train_rows[: 5 * 64].all()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"path": "x.csv"}, "data.path is not used with data.source synthetic_sines"),
        ({"target_columns": ["y"]}, "data.target_columns must be [value] or left out"),
        ({"split": {"by": "series", "val": 0.5, "test": 0.5}}, "must leave series for training"),
    ],
)
def test_bad_synthetic_configs(data, message):
    with pytest.raises(ConfigError) as info:
        sines_config(**data)
    assert message in str(info.value)


def test_file_source_needs_a_path():
    raw = {
        "data": {"target_columns": ["y"]},
        "window": {"input_width": 5, "horizon": 1},
        "model": {"type": "naive"},
    }
    with pytest.raises(ConfigError, match="data.path is required when data.source is file"):
        config_from_dict(raw)
    raw["data"] = {"path": "x.csv", "target_columns": ["y"], "synthetic": {"n_series": 5}}
    with pytest.raises(ConfigError, match="data.synthetic applies only with data.source"):
        config_from_dict(raw)


def test_predict_names_generated_series(tmp_path):
    from tsforecast.commands.predict import predict
    from tsforecast.commands.train import train

    config = sines_config(synthetic={"n_series": 20, "n_steps": 60})
    config = dataclasses.replace(
        config, output=dataclasses.replace(config.output, dir=str(tmp_path))
    )
    forecast = predict(train(config).run_dir).frame
    assert list(forecast.columns) == ["series", "step", "value"]
    assert len(forecast) == 20 * 10
    series = sine_series(20, 60)
    last = forecast.groupby("series", sort=False)["value"].first().to_numpy()
    np.testing.assert_allclose(last, series[:, -1], rtol=1e-6)
