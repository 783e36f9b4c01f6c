"""Every registered model and head builds, trains, saves, reloads and predicts the same values;
nothing after the input window reaches a forecast; convolutions are causal and their receptive
fields are what the registry says."""

import dataclasses
from pathlib import Path

import keras
import numpy as np
import pytest

from tsforecast.config import OptimizerConfig
from tsforecast.data.pipeline import window_dataset
from tsforecast.models import heads, registry
from tsforecast.runs import load_model
from tsforecast.schema import parse_section
from tsforecast.training.fit import make_loss, make_optimizer

SHAPE = registry.ModelShape(input_width=8, horizon=3, n_inputs=2, n_targets=1)
#: The recursive head feeds forecasts back as inputs, so its inputs are the targets only.
RECURSIVE_SHAPE = registry.ModelShape(input_width=8, horizon=3, n_inputs=2, n_targets=2)
#: Keys a family needs beyond its defaults.
REQUIRED = {"seasonal_naive": {"season_length": 4}}
#: Smaller than the defaults, to keep the suite fast.
SMALL = {
    "wavenet": {"n_layers": 2, "filters": 8},
    "patchtst": {"n_layers": 1, "d_model": 8, "n_heads": 2},
    "tsmixer": {"n_blocks": 1},
    "tide": {"units": 16, "temporal_decoder_units": 8},
}
CASES = [(s, head) for s in registry.specs() if not s.selector for head in s.heads]


def params_of(name, head="vector", **changes):
    spec = registry.get(name)
    raw = {**REQUIRED.get(name, {}), "head": head, **changes}
    return parse_section(spec.params, raw, "model")


def random_walk(n_rows, n_columns, seed=0):
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.normal(size=(n_rows, n_columns)), axis=0).astype("float32") / 5


def predict(model, values, starts, shape):
    """Forecasts of the windows at ``starts``, gathered by the window pipeline.

    Compiled, as ``predict`` runs them: on JAX, a model called eagerly compiles every
    operation on its own, which costs far more than one compiled forecast.
    """
    inputs = window_dataset(values, starts, shape.input_width, 256)
    return np.asarray(model.predict(inputs, verbose=0))


@pytest.mark.parametrize(("spec", "head"), CASES, ids=[f"{s.name}-{h}" for s, h in CASES])
def test_build_fit_save_load_predict(spec, head, tmp_path):
    keras.utils.set_random_seed(0)
    shape = RECURSIVE_SHAPE if head == "recursive" else SHAPE
    params = params_of(spec.name, head, **SMALL.get(spec.name, {}))
    model = registry.build_model(spec.name, params, shape)
    network = heads.trained_part(model, params)
    loss = {"quantile": "pinball", "distribution": "nll"}.get(head, "mse")
    network.compile(optimizer=make_optimizer(OptimizerConfig()), loss=make_loss(loss, params))
    values = random_walk(120, shape.n_inputs)
    starts = np.arange(len(values) - shape.input_width - shape.horizon + 1)

    if spec.trainable:
        layout = registry.target_layout(spec.name, params, shape)
        train = window_dataset(
            values,
            starts,
            shape.input_width,
            32,
            horizon=layout.horizon,
            n_targets=shape.n_targets,
            target_steps=layout.steps,
        )
        before = [w.copy() for w in model.get_weights()]
        network.fit(train, epochs=1, verbose=0)
        after = model.get_weights()
        assert any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True))
    else:
        assert not model.trainable_weights

    raw = predict(model, values, starts, shape)
    forecast = heads.read_output(raw, params)
    assert forecast.point.shape == (len(starts), shape.horizon, shape.n_targets)
    if head in ("quantile", "distribution"):
        assert forecast.quantiles.shape == (*forecast.point.shape, 3)
        assert (np.diff(forecast.quantiles, axis=-1) >= 0).all()

    model.save(tmp_path / "m.keras")
    reloaded = load_model(tmp_path / "m.keras")  # safe_mode=True
    np.testing.assert_allclose(predict(reloaded, values, starts, shape), raw, rtol=1e-6, atol=1e-6)

    # Nothing after the input window reaches its forecast: rewrite every later row.
    i = 40
    future = values.copy()
    future[starts[i] + shape.input_width :] = 1000.0
    after = predict(model, future, starts, shape)  # the same batch shape: compiled once
    np.testing.assert_allclose(after[i], raw[i], rtol=1e-5, atol=1e-5)
    assert not np.allclose(after[-1], raw[-1])  # the rewrite does reach later windows


def test_recursive_model_rolls_its_one_step_model_forward():
    keras.utils.set_random_seed(0)
    params = params_of("mlp", "recursive", units=[8])
    model = registry.build_model("mlp", params, RECURSIVE_SHAPE)
    one_step = heads.trained_part(model, params)
    assert one_step.output_shape == (None, 1, 2)
    x = random_walk(8, 2)[None]
    window, steps = x, []
    for _ in range(RECURSIVE_SHAPE.horizon):
        step = np.asarray(one_step(window))  # (1, 1, 2)
        steps.append(step)
        window = np.concatenate([window[:, 1:], step], axis=1)
    np.testing.assert_allclose(model(x), np.concatenate(steps, axis=1), rtol=1e-5, atol=1e-6)


def test_naive_repeats_the_last_target_value():
    model = registry.build_model("naive", params_of("naive"), SHAPE)
    x = random_walk(32, 2).reshape(4, 8, 2)
    out = model.predict(x, verbose=0)
    np.testing.assert_array_equal(out, np.repeat(x[:, -1:, :1], SHAPE.horizon, axis=1))


def test_linear_with_zeros_starts_from_the_level_of_the_window():
    # Untrained, the map forecasts zero: with instance normalisation, the window's level.
    model = registry.build_model("linear", params_of("linear", kernel_initializer="zeros"), SHAPE)
    x = random_walk(32, 2).reshape(4, 8, 2)
    np.testing.assert_array_equal(model(x, training=False), np.zeros((4, SHAPE.horizon, 1)))
    default = registry.build_model("linear", params_of("linear"), SHAPE)
    assert np.abs(np.asarray(default(x, training=False))).max() > 0


def test_seasonal_naive_repeats_the_last_season():
    shape = dataclasses.replace(SHAPE, horizon=7)
    model = registry.build_model("seasonal_naive", params_of("seasonal_naive"), shape)
    x = np.arange(16, dtype="float32").reshape(1, 8, 2)  # target column: 0, 2, ..., 14
    out = model.predict(x, verbose=0)[0, :, 0]
    # season 4: the last season is steps 4..7 (values 8, 10, 12, 14), repeated
    np.testing.assert_array_equal(out, [8, 10, 12, 14, 8, 10, 12])


def test_stacked_lstm_returns_sequences_between_layers():
    params = params_of("lstm", units=[6, 5], layer_norm=True)
    model = registry.build_model("lstm", params, SHAPE)
    lstms = [layer for layer in model.layers if layer.__class__.__name__ == "LSTM"]
    assert [layer.units for layer in lstms] == [6, 5]
    assert [layer.return_sequences for layer in lstms] == [True, False]
    assert any(layer.__class__.__name__ == "LayerNormalization" for layer in model.layers)


@pytest.mark.parametrize(("name", "layer"), [("simple_rnn", "SimpleRNN"), ("gru", "GRU")])
def test_recurrent_families_share_the_stack(name, layer):
    params = params_of(name, units=[6, 5], activation="relu", kernel_initializer="he_uniform")
    model = registry.build_model(name, params, SHAPE)
    layers = [x for x in model.layers if x.__class__.__name__ == layer]
    assert [x.units for x in layers] == [6, 5]
    assert all(x.activation.__name__ == "relu" for x in layers)
    assert all(x.kernel_initializer.__class__.__name__ == "HeUniform" for x in layers)


@pytest.mark.parametrize("name", ["gru", "lstm"])
def test_encoder_states_start_the_decoder(name):
    params = params_of(name, units=[6, 5], encoder_decoder=True)
    model = registry.build_model(name, params, SHAPE)
    kind = name.upper()
    decoders = [x for x in model.layers if x.name.startswith("decoder_")]
    assert [x.__class__.__name__ for x in decoders] == [kind, kind]
    assert [x.units for x in decoders] == [6, 5]
    assert model.get_layer("repeat_summary").output.shape == (None, SHAPE.horizon, 5)
    assert model.output_shape == (None, SHAPE.horizon, SHAPE.n_targets)
    # Each decoder layer reads its input sequence and the states of its encoder layer.
    for i, decoder in enumerate(decoders, start=1):
        inbound = decoder._inbound_nodes[0]
        parents = {t._keras_history.operation.name for t in inbound.input_tensors}
        assert f"encoder_{name}_{i}" in parents


def test_mlp_options_reach_the_layers():
    params = params_of("mlp", units=[7], dropout=0.2, batch_norm=True, activation="tanh", l2=0.01)
    model = registry.build_model("mlp", params, SHAPE)
    names = [layer.__class__.__name__ for layer in model.layers]
    assert "Dropout" in names and "BatchNormalization" in names
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert dense[0].units == 7 and dense[0].kernel_regularizer is not None


def test_wavenet_layers_double_their_dilation_and_gate():
    params = params_of("wavenet", n_layers=3, n_blocks=2, filters=4)
    model = registry.build_model("wavenet", params, SHAPE)
    dilated = [x for x in model.layers if x.name.endswith("_filter_gate")]
    assert [x.dilation_rate[0] for x in dilated] == [1, 2, 4, 1, 2, 4]
    assert all(x.padding == "causal" and x.filters == 8 for x in dilated)
    gated = [x for x in model.layers if x.__class__.__name__ == "GatedActivation"]
    assert [x.output.shape[-1] for x in gated] == [4] * 6
    assert len([x for x in model.layers if x.name.endswith("_skip")]) == 6
    assert len([x for x in model.layers if x.name.endswith("_residual")]) == 5
    plain = registry.build_model(
        "wavenet", params_of("wavenet", n_layers=2, gated=False, activation="elu"), SHAPE
    )
    convs = [x for x in plain.layers if x.name.endswith("_conv") and x.name.startswith("block")]
    assert [x.activation.__name__ for x in convs] == ["elu", "elu"]
    assert not any(x.__class__.__name__ == "GatedActivation" for x in plain.layers)


def test_gated_activation_multiplies_tanh_of_filter_by_sigmoid_of_gate():
    from tsforecast.models.layers import GatedActivation

    x = np.array([[0.5, -1.0, 2.0, 0.0]], dtype="float32")  # filter [0.5, -1], gate [2, 0]
    expected = np.tanh([0.5, -1.0]) / (1 + np.exp(-np.array([2.0, 0.0])))
    np.testing.assert_allclose(np.asarray(GatedActivation()(x))[0], expected, rtol=1e-6)


def perturbation_effects(model, shape, n_inputs, seed=0):
    """``effects[t]`` is the output change when only input step ``t`` changes."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(1, shape.input_width, n_inputs)).astype("float32")
    batch = np.repeat(base, shape.input_width + 1, axis=0)
    for t in range(shape.input_width):
        batch[t + 1, t] += rng.normal(size=n_inputs) * 3
    out = np.asarray(model(batch, training=False))
    return np.abs(out[1:] - out[:1])


SEQUENCE_CASES = [
    ("conv1d", {"filters": [8, 8], "kernel_size": [4, 2], "strides": [2, 1]}),
    ("conv1d", {"filters": [8], "kernel_size": 4, "strides": 2, "recurrent": "gru"}),
    ("conv1d", {"filters": [8, 8], "kernel_size": 3, "dilation_rate": [1, 2], "padding": "valid"}),
    ("wavenet", {"n_layers": 3, "filters": 8}),
    ("wavenet", {"n_layers": 2, "n_blocks": 2, "gated": False, "activation": "tanh"}),
    ("gru", {"units": [8, 8]}),
]


@pytest.mark.parametrize(("name", "changes"), SEQUENCE_CASES)
def test_sequence_outputs_never_see_later_input_steps(name, changes):
    """Changing input step t leaves every output made before t unchanged, and changes the one
    made at t: the seq-to-seq targets line up with the steps the registry reports."""
    keras.utils.set_random_seed(0)
    shape = registry.ModelShape(input_width=15, horizon=2, n_inputs=2, n_targets=1)
    params = params_of(name, "sequence", **{"activation": "tanh", **changes})
    model = registry.build_model(name, params, shape)
    steps = np.asarray(registry.target_layout(name, params, shape).steps)
    assert model.output_shape == (None, len(steps), shape.horizon, shape.n_targets)
    effects = perturbation_effects(model, shape, shape.n_inputs)  # (t, output step, h, target)
    changed = effects.max(axis=(2, 3)) > 1e-6
    for t in range(shape.input_width):
        assert not changed[t, steps < t].any(), f"step {t} reached earlier outputs"
        if t in steps:
            assert changed[t, steps == t].all(), f"the output at step {t} ignores step {t}"


def test_strided_convolution_aligns_the_last_output_with_the_last_step():
    params = params_of("conv1d", "sequence", filters=[4, 4], kernel_size=4, strides=[2, 2])
    # 15 steps: crop 0 (14 % 2), keep 0, 2, ..., 14; then crop 1 of 8 (7 % 2): keep 2, 6, 10, 14
    shape = dataclasses.replace(SHAPE, input_width=15)
    assert registry.target_layout("conv1d", params, shape).steps == (2, 6, 10, 14)
    shape = dataclasses.replace(SHAPE, input_width=16)
    assert registry.target_layout("conv1d", params, shape).steps == (3, 7, 11, 15)


FIELD_CASES = [
    ("wavenet", {"n_layers": 3, "n_blocks": 2, "filters": 8}, 15),
    ("wavenet", {"n_layers": 2, "kernel_size": 3, "gated": False, "activation": "tanh"}, 7),
    (
        "conv1d",
        {
            "filters": [8, 8, 8],
            "kernel_size": [3, 4, 2],
            "strides": [1, 2, 1],
            "dilation_rate": [2, 1, 1],
            "activation": "tanh",
        },
        10,
    ),
    (
        "conv1d",
        {"filters": [8, 8], "kernel_size": 3, "dilation_rate": [1, 3], "padding": "valid"},
        9,
    ),
]


@pytest.mark.parametrize(("name", "changes", "field"), FIELD_CASES)
def test_receptive_field_matches_perturbation(name, changes, field):
    keras.utils.set_random_seed(0)
    shape = registry.ModelShape(input_width=24, horizon=2, n_inputs=2, n_targets=1)
    params = params_of(name, "vector", **{"activation": "tanh", **changes})
    assert registry.receptive_field(name, params, shape.input_width) == field
    model = registry.build_model(name, params, shape)
    effects = perturbation_effects(model, shape, shape.n_inputs)
    reached = [t for t in range(shape.input_width) if effects[t].max() > 1e-6]
    assert reached == list(range(shape.input_width - field, shape.input_width))


def test_families_without_a_bounded_field_report_none():
    assert registry.receptive_field("gru", params_of("gru"), 24) is None
    assert registry.receptive_field("conv1d", params_of("conv1d", recurrent="gru"), 24) is None
    assert registry.receptive_field("mlp", params_of("mlp"), 24) is None


def test_pinball_loss_against_hand_computed_values():
    from tsforecast.models.losses import PinballLoss

    loss = PinballLoss((0.1, 0.5, 0.9))
    y_true = np.array([[[1.0]]], dtype="float32")  # (1 window, 1 step, 1 target)
    y_pred = np.array([[[[0.0, 1.0, 3.0]]]], dtype="float32")  # errors 1, 0, -2
    expected = np.mean([0.1 * 1, 0.0, (0.9 - 1) * -2])
    assert float(loss(y_true, y_pred)) == pytest.approx(expected)
    again = PinballLoss.from_config(loss.get_config())
    assert again.quantiles == (0.1, 0.5, 0.9)


def test_ordered_quantiles_keep_the_median_and_never_cross():
    from tsforecast.models.layers import OrderedQuantiles

    raw = np.random.default_rng(0).normal(size=(50, 4, 2, 5)).astype("float32") * 5
    out = np.asarray(OrderedQuantiles(median_index=2)(raw))
    np.testing.assert_array_equal(out[..., 2], raw[..., 2])
    assert (np.diff(out, axis=-1) >= 0).all()
    small = np.asarray(OrderedQuantiles(median_index=1)(np.zeros((1, 3), "float32")))
    np.testing.assert_allclose(small[0], [-np.log(2), 0.0, np.log(2)], rtol=1e-6)


def test_a_fresh_process_registers_every_custom_class_the_models_declare():
    import re
    import subprocess
    import sys

    folder = Path(__file__).resolve().parents[1] / "tsforecast" / "models"
    pattern = re.compile(
        r"@keras\.saving\.register_keras_serializable\([^)]*\)\s*(?:class|def) (\w+)"
    )
    declared = {
        f"tsforecast>{name}"
        for path in folder.glob("*.py")
        for name in pattern.findall(path.read_text())
    }
    assert len(declared) >= 20
    code = (
        "import keras; from tsforecast.runs import register_layers; register_layers(); "
        "print('\\n'.join(keras.saving.get_custom_objects()))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    registered = set(done.stdout.split())
    assert declared <= registered, declared - registered
