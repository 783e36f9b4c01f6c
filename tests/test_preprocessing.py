"""Instance normalisation, channel independence and differencing wrapped around any model."""

import numpy as np
import pytest
from conftest import base_config

from tsforecast.commands.predict import predict
from tsforecast.commands.train import train
from tsforecast.config import config_from_dict
from tsforecast.errors import ConfigError
from tsforecast.models import registry
from tsforecast.runs import load_model, load_run
from tsforecast.schema import parse_section
from tsforecast.training.fit import make_loss, make_optimizer

SHAPE = registry.ModelShape(input_width=12, horizon=7, n_inputs=3, n_targets=3)


def build(name="linear", shape=SHAPE, **stages):
    params = parse_section(registry.get(name).params, {}, "model")
    return registry.build_model(name, params, shape, registry.Preprocessing(**stages))


def integer_windows(n=5, shape=SHAPE, seed=0):
    """Integer-valued windows, so float32 sums and differences are exact."""
    rng = np.random.default_rng(seed)
    return rng.integers(-50, 50, size=(n, shape.input_width, shape.n_inputs)).astype("float32")


def test_difference_and_integrate_round_trip_exactly():
    from tsforecast.models.layers import Difference, Integrate

    rng = np.random.default_rng(1)
    width, horizon = 12, 7
    series = rng.integers(-100, 100, size=(4, width + horizon, 2)).astype("float32")
    window, future = series[:, :width], series[:, width:]
    for lag in (1, 3, 5):
        differences = series[:, lag:] - series[:, :-lag]
        np.testing.assert_array_equal(
            np.asarray(Difference(lag)(window)), differences[:, : width - lag]
        )
        # The true future differences integrate back to exactly the true future.
        future_differences = differences[:, width - lag :]
        levels = Integrate(lag, n_targets=2)([future_differences, window])
        np.testing.assert_array_equal(np.asarray(levels), future)


def test_integrate_touches_only_the_targets():
    from tsforecast.models.layers import Integrate

    window = np.arange(2 * 6 * 3, dtype="float32").reshape(2, 6, 3)
    zeros = np.zeros((2, 4, 2), dtype="float32")
    # No change predicted: lag 1 repeats the last value, lag 2 the last season.
    np.testing.assert_array_equal(
        np.asarray(Integrate(1, 2)([zeros, window])), np.repeat(window[:, -1:, :2], 4, axis=1)
    )
    np.testing.assert_array_equal(
        np.asarray(Integrate(2, 2)([zeros, window])), np.tile(window[:, -2:, :2], (1, 2, 1))
    )


@pytest.mark.parametrize("mode", ["last", "mean"])
@pytest.mark.parametrize("channel_independent", [False, True])
def test_instance_norm_output_shifts_with_the_input(mode, channel_independent):
    model = build(instance_norm=mode, channel_independent=channel_independent)
    x = integer_windows()
    shift = np.array([8.0, -32.0, 256.0], dtype="float32")  # one constant per column
    base = model.predict(x, verbose=0)
    shifted = model.predict(x + shift, verbose=0)
    np.testing.assert_allclose(shifted, base + shift, rtol=0, atol=1e-4)
    # Without the stage the linear model's output does not follow the shift.
    plain = build()
    assert not np.allclose(plain.predict(x + shift, verbose=0), plain.predict(x, verbose=0) + shift)


def randomise(model, seed=0):
    """Random weights and biases (Keras starts biases at zero)."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in model.weights])
    return model


def test_standard_instance_norm_follows_scale_and_shift():
    model = randomise(build(instance_norm="standard", channel_independent=True))
    x = integer_windows()
    base = model.predict(x, verbose=0)
    scale = np.array([2.0, 0.5, 4.0], dtype="float32")
    shift = np.array([8.0, -32.0, 256.0], dtype="float32")
    # Per-column statistics: the forecast scales and shifts with each column's input.
    np.testing.assert_allclose(
        model.predict(x * scale + shift, verbose=0), base * scale + shift, rtol=1e-4, atol=1e-3
    )
    # The mean-only mode follows shifts but not scaling.
    mean_only = randomise(build(instance_norm="mean", channel_independent=True))
    unscaled = mean_only.predict(x, verbose=0)
    assert not np.allclose(mean_only.predict(x * scale, verbose=0), unscaled * scale, atol=1e-2)


@pytest.mark.parametrize("name", ["linear", "mlp", "lstm"])
def test_channel_independent_output_depends_only_on_its_channel(name):
    model = build(name, channel_independent=True)
    x = integer_windows()
    base = model.predict(x, verbose=0)
    for c in range(SHAPE.n_inputs):
        changed = x.copy()
        changed[:, :, c] += np.linspace(1, 5, SHAPE.input_width, dtype="float32")
        out = model.predict(changed, verbose=0)
        others = [k for k in range(SHAPE.n_inputs) if k != c]
        np.testing.assert_array_equal(out[:, :, others], base[:, :, others])
        assert not np.allclose(out[:, :, c], base[:, :, c])


def test_channel_independent_weights_are_shared():
    plain = build()
    independent = build(channel_independent=True)
    # One Dense(input_width -> horizon) for every column instead of one over all columns.
    assert independent.count_params() == SHAPE.input_width * SHAPE.horizon + SHAPE.horizon
    assert plain.count_params() > 3 * independent.count_params()


def test_difference_model_reads_only_differences():
    model = build(difference_lag=2)
    x = integer_windows()
    base = model.predict(x, verbose=0)
    # A constant level shift leaves the differences, so the forecast shifts with it.
    np.testing.assert_allclose(model.predict(x + 64.0, verbose=0), base + 64.0, atol=1e-4)
    core = next(layer for layer in model.layers if layer.name == "linear")
    assert core.input_shape == (None, SHAPE.input_width - 2, SHAPE.n_inputs)


def test_naive_family_stays_last_value_under_instance_norm():
    model = build("naive", instance_norm="last", channel_independent=True)
    x = integer_windows()
    np.testing.assert_array_equal(
        model.predict(x, verbose=0), np.repeat(x[:, -1:, :], SHAPE.horizon, axis=1)
    )


STAGES = [
    {"instance_norm": "last"},
    {"instance_norm": "standard"},
    {"instance_norm": "mean", "channel_independent": True},
    {"difference_lag": 3, "instance_norm": "last", "channel_independent": True},
    {"difference_lag": 1},
]


@pytest.mark.parametrize("stages", STAGES, ids=lambda s: "-".join(f"{k}={v}" for k, v in s.items()))
@pytest.mark.parametrize("name", ["linear", "lstm"])
def test_save_and_reload_safe_mode_gives_identical_predictions(name, stages, tmp_path):
    from tsforecast.config import OptimizerConfig

    model = build(name, **stages)
    model.compile(optimizer=make_optimizer(OptimizerConfig()), loss=make_loss("mse"))
    x = integer_windows(32)
    y = np.random.default_rng(3).normal(size=(32, SHAPE.horizon, SHAPE.n_targets))
    model.fit(x, y.astype("float32"), epochs=1, batch_size=8, verbose=0)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    reloaded = load_model(tmp_path / "m.keras")  # safe_mode=True
    np.testing.assert_array_equal(reloaded.predict(x, verbose=0), expected)


# ---------------------------------------------------------------------------------------------
# From the config


def config_with(workdir, **data):
    raw = base_config(str(workdir / "series.csv"))
    raw["data"].update(data)
    return raw


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"channel_independent": True},
            "data.channel_independent forecasts every input column as its own series",
        ),
        ({"difference_lag": 24}, "data.difference_lag applies only with data.transform"),
        (
            {"transform": "difference", "difference_lag": 12},
            "data.difference_lag (12) must be smaller than window.input_width (12)",
        ),
        (
            {"instance_norm": True},
            "data.instance_norm must be one of false, last, mean, standard; got true",
        ),
        ({"instance_norm": "max"}, "data.instance_norm must be one of false, last, mean"),
    ],
)
def test_bad_preprocessing_configs(workdir, data, message):
    with pytest.raises(ConfigError) as info:
        config_from_dict(config_with(workdir, **data))
    assert message in str(info.value)


def test_training_with_every_stage_keeps_the_plain_naive_baseline(workdir):
    plain = train(config_from_dict(config_with(workdir, feature_columns=[])))
    staged = train(
        config_from_dict(
            config_with(
                workdir,
                feature_columns=[],
                transform="difference",
                difference_lag=2,
                instance_norm="mean",
                channel_independent=True,
            )
        )
    )
    for part in ("val", "test"):
        assert staged.metrics[part]["naive"] == plain.metrics[part]["naive"]
        assert staged.metrics[part]["n_windows"] == plain.metrics[part]["n_windows"]
    # predict needs nothing but the run: the stages live in model.keras.
    run = load_run(staged.run_dir)
    assert {"difference", "instance_norm", "channels_to_series", "integrate"} <= {
        layer.name for layer in run.model.layers
    }
    forecast = predict(staged.run_dir).frame
    assert len(forecast) == 4 and forecast["y"].between(0, 40).all()
