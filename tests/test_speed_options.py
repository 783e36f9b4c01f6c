"""Speed options of the config: they change how fast a run trains, never what it learns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import base_config, write_config

from tsforecast.commands.predict import predict
from tsforecast.commands.train import train as train_config
from tsforecast.config import load_config
from tsforecast.runs import load_model
from tsforecast.training import fit


def train(folder: Path, name: str, **training_options):
    config = base_config("series.csv", output={"dir": str(folder / "runs"), "name": name})
    config["model"] = {"type": "mlp", "units": [8], "dropout": 0.2}
    config["training"] = {
        "epochs": 3,
        "batch_size": 16,  # 132 train windows: 9 batches, a short last one
        "early_stopping": {"enabled": False},
        **training_options,
    }
    return train_config(load_config(write_config(folder, config, f"{name}.yaml")))


def test_steps_per_execution_leaves_the_run_unchanged(workdir):
    plain = train(workdir, "plain")
    # 4 does not divide the 9 batches of an epoch: epochs must still end on time
    fast = train(workdir, "steps", steps_per_execution=4)
    assert fast.metrics["test"] == plain.metrics["test"]
    assert (fast.run_dir / "history.csv").read_text() == (plain.run_dir / "history.csv").read_text()


def test_compiled_and_op_by_op_steps_learn_the_same_model(workdir):
    plain = train(workdir, "plain")
    eager = train(workdir, "eager", jit_compile=False)
    assert plain.metrics["training"]["jit_compile"] is True  # auto: jax.jit
    assert eager.metrics["training"]["jit_compile"] is False
    assert eager.metrics["test"]["model"]["mse"] == pytest.approx(
        plain.metrics["test"]["model"]["mse"], rel=1e-4
    )


def test_mixed_precision_trains_in_float16_and_saves_a_float32_model(workdir, monkeypatch):
    """Forced on a CPU (where it is otherwise not used) to test the path a GPU takes."""
    import keras

    policies = []
    build = fit.build_compiled_model

    def spy(config, prepared, policy="float32"):
        model, network = build(config, prepared, policy)
        policies.append({layer.dtype_policy.name for layer in model.layers[1:]})
        return model, network

    monkeypatch.setattr(fit, "precision_policy", lambda _: "mixed_float16")
    monkeypatch.setattr(fit, "build_compiled_model", spy)
    result = train(workdir, "mixed", mixed_precision=True)
    assert policies[0] == {"mixed_float16"}  # the model that trained
    assert policies[1] == {"float32"}  # the copy that is saved
    assert result.metrics["training"]["precision"] == "mixed_float16"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    model = load_model(result.run_dir / "model.keras")
    assert {layer.dtype_policy.name for layer in model.layers[1:]} == {"float32"}
    assert np.isfinite(result.metrics["test"]["model"]["mse"])
    forecast = predict(result.run_dir, workdir / "series.csv").frame
    assert np.isfinite(forecast["y"]).all()


def test_mixed_precision_stays_float32_without_a_gpu(workdir):
    from tsforecast import engine

    if engine.gpus():
        pytest.skip("a GPU is present")
    result = train(workdir, "cpu", mixed_precision=True)
    assert result.metrics["training"]["precision"] == "float32"


def test_plots_can_be_switched_off(workdir):
    result = train(workdir, "noplots")
    assert sorted(p.name for p in (result.run_dir / "plots").iterdir()) == [
        "forecast.png",
        "learning_curve.png",
    ]
    config = base_config("series.csv", output={"dir": str(workdir / "runs"), "plots": False})
    result = train_config(load_config(write_config(workdir, config, "off.yaml")))
    assert not any((result.run_dir / "plots").iterdir())
    assert json.loads((result.run_dir / "metrics.json").read_text())["test"]
