"""Every registered model builds, trains, saves, reloads and predicts the same values."""

import numpy as np
import pytest

from tsforecast.models import registry
from tsforecast.runs import load_model
from tsforecast.schema import parse_section
from tsforecast.training import make_loss, make_optimizer

SHAPE = registry.ModelShape(input_width=8, horizon=3, n_inputs=2, n_targets=1)


def tiny_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, SHAPE.input_width, SHAPE.n_inputs)).astype("float32")
    y = rng.normal(size=(n, SHAPE.horizon, SHAPE.n_targets)).astype("float32")
    return x, y


@pytest.mark.parametrize("spec", registry.specs(), ids=lambda s: s.name)
def test_build_fit_save_load_predict(spec, tmp_path):
    from tsforecast.config import OptimizerConfig

    params = parse_section(spec.params, {}, "model")
    model = registry.build_model(spec.name, params, SHAPE)
    model.compile(optimizer=make_optimizer(OptimizerConfig()), loss=make_loss("mse"))
    x, y = tiny_data()
    assert model.output_shape == (None, SHAPE.horizon, SHAPE.n_targets)
    if spec.trainable:
        before = [w.copy() for w in model.get_weights()]
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)
        after = model.get_weights()
        assert any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))
    else:
        assert not model.trainable_weights
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    reloaded = load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-6)


def test_naive_repeats_the_last_target_value():
    params = parse_section(registry.get("naive").params, {}, "model")
    model = registry.build_model("naive", params, SHAPE)
    x, _ = tiny_data(4)
    out = model.predict(x, verbose=0)
    np.testing.assert_array_equal(out, np.repeat(x[:, -1:, :1], SHAPE.horizon, axis=1))


def test_stacked_lstm_returns_sequences_between_layers():
    params = parse_section(
        registry.get("lstm").params, {"units": [6, 5], "layer_norm": True}, "model"
    )
    model = registry.build_model("lstm", params, SHAPE)
    lstms = [layer for layer in model.layers if layer.__class__.__name__ == "LSTM"]
    assert [layer.units for layer in lstms] == [6, 5]
    assert [layer.return_sequences for layer in lstms] == [True, False]
    assert any(layer.__class__.__name__ == "LayerNormalization" for layer in model.layers)


def test_mlp_options_reach_the_layers():
    params = parse_section(
        registry.get("mlp").params,
        {"units": [7], "dropout": 0.2, "batch_norm": True, "activation": "tanh", "l2": 0.01},
        "model",
    )
    model = registry.build_model("mlp", params, SHAPE)
    names = [layer.__class__.__name__ for layer in model.layers]
    assert "Dropout" in names and "BatchNormalization" in names
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert dense[0].units == 7 and dense[0].kernel_regularizer is not None


def test_nothing_after_the_input_window_reaches_the_prediction():
    """Models see only their input tensor; the windows hold no future rows (see windowing)."""
    for spec in registry.specs():
        params = parse_section(spec.params, {}, "model")
        model = registry.build_model(spec.name, params, SHAPE)
        assert model.input_shape == (None, SHAPE.input_width, SHAPE.n_inputs)
