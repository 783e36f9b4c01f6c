"""The building blocks of the N-HiTS, PatchTST, TSMixer and TiDE families, each against
hand-computed values: fixed bases, patches, reversible instance normalisation, the mixing
and residual MLPs."""

import keras
import numpy as np
import pytest

from tsforecast.models import blocks, layers
from tsforecast.models.tide import TiDEParams, residual_block
from tsforecast.models.tsmixer import (
    TSMixerParams,
    feature_mixing,
    temporal_projection,
    time_mixing,
)

RNG = np.random.default_rng(0)


def windows(*shape):
    return RNG.normal(size=shape).astype("float32")


# ---------------------------------------------------------------------------------------------
# N-HiTS and N-BEATS: knots and fixed bases


def test_interpolation_spreads_knots_over_cell_centres():
    # 2 knots onto 4 steps: step centres at knot positions -0.25, 0.25, 0.75, 1.25, the
    # outer ones clipped to the outer knots
    expected = np.array([[1.0, 0.75, 0.25, 0.0], [0.0, 0.25, 0.75, 1.0]])
    np.testing.assert_allclose(blocks.interpolation_matrix(2, 4), expected)
    np.testing.assert_allclose(blocks.interpolation_matrix(5, 5), np.eye(5))
    np.testing.assert_allclose(blocks.interpolation_matrix(1, 3), np.ones((1, 3)))


def test_interpolation_layer_multiplies_by_the_matrix():
    knots = windows(6, 3)
    out = np.asarray(blocks.Interpolation(12)(knots))
    np.testing.assert_allclose(out, knots @ blocks.interpolation_matrix(3, 12), rtol=1e-6)
    # a constant stays constant, whatever the resolution
    np.testing.assert_allclose(blocks.Interpolation(12)(np.full((1, 3), 2.5)), 2.5, rtol=1e-6)


@pytest.mark.parametrize(
    ("horizon", "downsample", "knots"), [(24, 4, 6), (24, 1, 24), (5, 2, 3), (3, 8, 1)]
)
def test_a_block_emits_ceil_horizon_over_downsample_knots(horizon, downsample, knots):
    assert blocks.knots(horizon, downsample) == knots


def test_trend_basis_is_powers_of_time_in_the_horizon():
    t = np.array([0.0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(blocks.polynomial_matrix(2, 4), np.stack([t**0, t, t**2]))
    coefficients = np.array([[1.0, 2.0, 4.0]])  # 1 + 2t + 4t**2
    out = np.asarray(blocks.PolynomialBasis(4, 2)(coefficients))
    np.testing.assert_allclose(out, [[1.0, 1.75, 3.0, 4.75]], rtol=1e-6)


def test_seasonality_basis_frequencies_and_shared_time_axis():
    np.testing.assert_allclose(blocks.fourier_frequencies(1, 4), [0.0, 1.0])
    np.testing.assert_allclose(blocks.fourier_frequencies(2, 4), [0.0, 1.0, 1.5])
    assert blocks.fourier_size(2, 4) == 6
    # one cycle per period of 4 steps: cosines then sines at t = 0, 1/4, 2/4, 3/4
    basis = blocks.fourier_matrix(1, 4, 4)
    np.testing.assert_allclose(basis[1], [1.0, 0.0, -1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(basis[3], [0.0, 1.0, 0.0, -1.0], atol=1e-12)
    np.testing.assert_allclose(basis[[0, 2]], [[1, 1, 1, 1], [0, 0, 0, 0]], atol=1e-12)
    # a backcast of 6 steps (offset -6) and the forecast lie on one time axis
    back, fore = blocks.fourier_matrix(2, 6, 4, offset=-6), blocks.fourier_matrix(2, 4, 4)
    np.testing.assert_allclose(np.hstack([back, fore]), blocks.fourier_matrix(2, 10, 4, -6))


def test_series_with_covariates_is_undone_by_series_to_channels():
    x = windows(2, 5, 4)  # 3 targets, 1 extra column
    series = np.asarray(blocks.SeriesWithCovariates(3)(x))
    assert series.shape == (6, 5, 2)
    np.testing.assert_array_equal(series[4, :, 0], x[1, :, 1])  # window 1, target 1
    np.testing.assert_array_equal(series[4, :, 1], x[1, :, 3])  # its extra column
    back = np.asarray(layers.SeriesToChannels(3)(series[:, :, :1]))
    np.testing.assert_array_equal(back, x[:, :, :3])


# ---------------------------------------------------------------------------------------------
# PatchTST: patches and positions


@pytest.mark.parametrize(
    ("width", "patch_len", "stride", "pad_end", "count"),
    [(16, 8, 4, True, 4), (16, 8, 4, False, 3), (10, 4, 2, True, 5), (8, 8, 8, False, 1)],
)
def test_patch_count(width, patch_len, stride, pad_end, count):
    assert blocks.patch_count(width, patch_len, stride, pad_end) == count
    out = blocks.Patching(patch_len, stride, pad_end)(windows(3, width, 1))
    assert tuple(out.shape) == (3, count, patch_len)


def test_patches_are_strided_and_the_end_repeats_the_last_value():
    series = np.arange(6, dtype="float32")[None, :, None]  # 0 .. 5
    patches = np.asarray(blocks.Patching(4, 2, pad_end=True)(series))[0]
    np.testing.assert_array_equal(patches, [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 5, 5]])
    patches = np.asarray(blocks.Patching(4, 2, pad_end=False)(series))[0]
    np.testing.assert_array_equal(patches, [[0, 1, 2, 3], [2, 3, 4, 5]])


def test_positional_embedding_adds_one_vector_per_position():
    layer = blocks.PositionalEmbedding(scale=0.02)
    x = np.zeros((3, 5, 4), dtype="float32")
    out = np.asarray(layer(x))
    np.testing.assert_array_equal(out[0], out[2])  # the same for every series
    assert np.abs(out).max() <= 0.02
    assert len(np.unique(out[0])) == 20


# ---------------------------------------------------------------------------------------------
# Reversible instance normalisation (PatchTST, TSMixer)


def test_revin_without_affine_is_standard_instance_normalisation():
    x = windows(4, 9, 3) * 5 + 2
    revin, revin_statistics = blocks.ReversibleInstanceNorm(affine=False)(x)
    plain, plain_statistics = layers.InstanceNormalization("standard")(x)
    np.testing.assert_array_equal(np.asarray(revin), np.asarray(plain))
    np.testing.assert_array_equal(np.asarray(revin_statistics), np.asarray(plain_statistics))
    np.testing.assert_allclose(np.asarray(revin).mean(axis=1), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(revin).std(axis=1), 1.0, rtol=1e-3)


def test_revin_inverse_undoes_the_learned_affine_map():
    x = windows(4, 9, 3) * 5 + 2
    layer = blocks.ReversibleInstanceNorm(affine=True)
    layer.build(x.shape)
    layer.weight.assign([0.5, 2.0, -1.5])
    layer.bias.assign([1.0, -3.0, 0.25])
    normalised, statistics = layer(x)
    mean, std = x.mean(axis=1, keepdims=True), np.sqrt(x.var(axis=1, keepdims=True) + 1e-5)
    expected = (x - mean) / std * np.array([0.5, 2.0, -1.5]) + np.array([1.0, -3.0, 0.25])
    np.testing.assert_allclose(np.asarray(normalised), expected, rtol=1e-4, atol=1e-5)
    restored = layers.InstanceDenormalization(3)([normalised, statistics])
    np.testing.assert_allclose(np.asarray(restored), x, rtol=1e-4, atol=1e-4)
    # the targets only: the first two columns' statistics map a two-column forecast back
    forecast = np.asarray(normalised)[:, :4, :2]
    back = np.asarray(layers.InstanceDenormalization(2)([forecast, statistics]))
    np.testing.assert_allclose(back, x[:, :4, :2], rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------------------------
# TSMixer: mixing along time and along features


def _model(build, shape):
    inputs = keras.Input(shape)
    return keras.Model(inputs, build(inputs))


def test_time_mixing_is_shared_by_columns_and_never_mixes_them():
    params = TSMixerParams(dropout=0.0)
    model = _model(lambda x: time_mixing(x, params, "t"), (6, 3))
    x = windows(2, 6, 3)
    out = np.asarray(model(x, training=False))
    changed = x.copy()
    changed[:, :, 2] += 10.0
    np.testing.assert_allclose(np.asarray(model(changed))[:, :, :2], out[:, :, :2], rtol=1e-6)
    # (batch norm in inference is one affine map per entry, so use equal columns)
    same = np.repeat(x[:, :, :1], 3, axis=2)
    out = np.asarray(model(same, training=False))
    np.testing.assert_allclose(out[:, :, 0], out[:, :, 1], rtol=1e-6)


def test_feature_mixing_is_per_step_and_projects_the_residual():
    params = TSMixerParams(dropout=0.0, norm="layer", ff_dim=5)
    model = _model(lambda x: feature_mixing(x, params, 4, "f"), (6, 3))
    x = windows(2, 6, 3)
    out = np.asarray(model(x))
    assert out.shape == (2, 6, 4)
    assert "f_feature_residual" in [layer.name for layer in model.layers]
    kept = _model(lambda x: feature_mixing(x, params, 3, "g"), (6, 3))
    assert "g_feature_residual" not in [layer.name for layer in kept.layers]


def test_temporal_projection_is_one_dense_along_time_shared_by_columns():
    model = _model(lambda x: temporal_projection(x, 2, "p"), (3, 2))
    kernel = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]], dtype="float32")  # (T, steps)
    model.get_layer("p").set_weights([kernel, np.array([0.5, 0.0], dtype="float32")])
    x = np.array([[[1.0, 10.0], [2.0, 20.0], [3.0, 30.0]]], dtype="float32")  # (1, T=3, C=2)
    # step 0: x0 + x2 + 0.5; step 1: x1 - x2
    expected = [[[4.5, 40.5], [-1.0, -10.0]]]
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# TiDE: the residual MLP


def test_tide_residual_block_against_hand_computed_values():
    params = TiDEParams(dropout=0.0, layer_norm=False)
    model = _model(lambda x: residual_block(x, 2, 1, params, "r"), (2,))
    model.get_layer("r_hidden").set_weights(
        [np.array([[1.0, -1.0], [2.0, 0.0]], "float32"), np.array([0.0, 1.0], "float32")]
    )
    model.get_layer("r_output").set_weights(
        [np.array([[1.0], [3.0]], "float32"), np.array([0.5], "float32")]
    )
    model.get_layer("r_skip").set_weights(
        [np.array([[-1.0], [1.0]], "float32"), np.array([0.0], "float32")]
    )
    x = np.array([[1.0, 1.0], [2.0, -3.0]], dtype="float32")
    # row 0: hidden relu([3, 0]) = [3, 0]; output 3 + 0.5; skip 0      -> 3.5
    # row 1: hidden relu([-4, -1]) = [0, 0]; output 0.5; skip -5       -> -4.5
    np.testing.assert_allclose(np.asarray(model(x)), [[3.5], [-4.5]], rtol=1e-6)


def test_tide_residual_block_normalises_its_output():
    params = TiDEParams(dropout=0.0, layer_norm=True)
    model = _model(lambda x: residual_block(x, 8, 6, params, "n"), (4,))
    out = np.asarray(model(windows(5, 4) * 10))
    np.testing.assert_allclose(out.mean(axis=-1), 0.0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=-1), 1.0, rtol=1e-2)
    unnormalised = _model(lambda x: residual_block(x, 8, 6, params, "u", norm=False), (4,))
    assert "u_norm" not in [layer.name for layer in unnormalised.layers]
