"""The distribution head (DeepAR's likelihood head): its likelihoods are the textbook ones,
its quantiles match its samples, and it trains, scores intervals, predicts and exports
through the ordinary commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import base_config, invoke, run_dir_of, write_config
from scipy import stats

from tsforecast.config import config_from_dict
from tsforecast.errors import ConfigError
from tsforecast.models.distribution_head import (
    negative_log_likelihood,
    quantiles_from_params,
    sample_paths,
)

PARAMS = {
    "normal": np.array([[1.5, 0.7], [-2.0, 3.0]]),
    "student_t": np.array([[1.5, 0.7, 4.0], [-2.0, 3.0, 2.5]]),
    "negative_binomial": np.array([[4.0, 0.3], [12.0, 1.5]]),
}
VALUES = {
    "normal": np.array([1.0, 0.5]),
    "student_t": np.array([1.0, 0.5]),
    "negative_binomial": np.array([3.0, 20.0]),
}


def scipy_nll(likelihood: str, params: np.ndarray, y: np.ndarray) -> np.ndarray:
    if likelihood == "normal":
        return -stats.norm.logpdf(y, params[:, 0], params[:, 1])
    if likelihood == "student_t":
        return -stats.t.logpdf(y, params[:, 2], params[:, 0], params[:, 1])
    mean, alpha = params[:, 0], params[:, 1]
    return -stats.nbinom.logpmf(y, 1.0 / alpha, 1.0 / (1.0 + alpha * mean))


@pytest.mark.parametrize("likelihood", list(PARAMS))
def test_likelihoods_are_the_textbook_ones(likelihood):
    params, y = PARAMS[likelihood], VALUES[likelihood]
    ours = np.asarray(
        negative_log_likelihood(y.astype("float32"), params.astype("float32"), likelihood)
    )
    np.testing.assert_allclose(ours, scipy_nll(likelihood, params, y), rtol=1e-4)


@pytest.mark.parametrize("likelihood", list(PARAMS))
def test_quantiles_match_sampled_paths(likelihood):
    params = PARAMS[likelihood][None, :, None, :]  # (batch 1, horizon 2, targets 1, params)
    levels = (0.1, 0.5, 0.9)
    closed = quantiles_from_params(params, likelihood, levels)[0, :, 0]  # (2, 3)
    paths = sample_paths(params, likelihood, 40_000, seed=0)[:, 0, :, 0]  # (samples, 2)
    sampled = np.quantile(paths, levels, axis=0).T
    # counts: sampled quantiles are whole numbers too, at most one apart
    tolerance = 1.0 if likelihood == "negative_binomial" else 0.03 * np.ptp(closed)
    np.testing.assert_allclose(sampled, closed, atol=tolerance)


def test_distribution_head_trains_scores_intervals_predicts_and_exports(workdir: Path):
    config = base_config(
        "panel.csv",
        model={"type": "gru", "units": [8], "head": "distribution", "likelihood": "student_t"},
    )
    config["data"]["id_column"] = "id"
    trained = invoke("train", write_config(workdir, config), "-q")
    run = run_dir_of(trained)
    assert "quantile interval (nominal 80%) covers" in trained.output
    metrics = json.loads((run / "metrics.json").read_text())
    interval = metrics["test"]["model"]["interval"]
    assert interval["nominal_coverage"] == pytest.approx(0.8)
    assert 0.0 <= interval["coverage"] <= 1.0 and interval["crossing"] == 0.0
    # predicted in a new process, where no distribution layer was registered by training
    predicted = subprocess.run(
        [sys.executable, "-m", "tsforecast", "predict", str(run), "--output", "forecast.csv"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert predicted.returncode == 0, predicted.stderr
    forecast = pd.read_csv("forecast.csv")
    assert list(forecast.columns) == ["id", "time", "y_lower", "y_median", "y_upper"]
    assert (forecast["y_lower"] <= forecast["y_median"]).all()
    assert (forecast["y_median"] <= forecast["y_upper"]).all()
    # The exported model returns the mean, which for Student-t is the median predict wrote.
    assert invoke("export", run, "--output", "served").exit_code == 0
    import tensorflow as tf

    from tsforecast.commands.export import serving_inputs
    from tsforecast.runs import load_run

    serve = tf.saved_model.load("served").signatures["serving_default"]
    inputs = serving_inputs(load_run(run))
    point = serve(**{k: tf.constant(v) for k, v in inputs.items()})["forecast"].numpy()
    np.testing.assert_allclose(point.reshape(-1), forecast["y_median"], atol=1e-4)


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        ({"head": "distribution", "likelihood": "negative_binomial"}, {}, "data.scaler: none"),
        (
            {"head": "distribution"},
            {"instance_norm": "last"},
            "model.head distribution is not supported with it",
        ),
        ({"head": "vector", "likelihood": "student_t"}, {}, "applies to model.head distribution"),
        ({"head": "distribution"}, {}, None),
    ],
)
def test_distribution_head_config_rules(workdir: Path, model, data, message):
    raw = base_config("series.csv", model={"type": "lstm", **model})
    raw["data"].update(data)
    if message is None:
        assert config_from_dict(raw, workdir).training.loss == "nll"
        return
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw, workdir)
    raw["training"]["loss"] = "nll"
    raw["model"] = {"type": "lstm"}
    with pytest.raises(ConfigError, match="the distribution head trains with the nll loss"):
        config_from_dict(raw, workdir)
