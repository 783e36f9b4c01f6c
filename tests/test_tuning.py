import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import base_config, invoke, run_dir_of, write_config

from tsforecast.commands.tune import SearchInterrupted, tune
from tsforecast.config import load_config
from tsforecast.errors import RunError


def search_config(workdir, space, **search):
    raw = base_config("series.csv")
    raw["model"] = {"type": "mlp", "units": [8]}
    raw["training"]["epochs"] = 1
    raw["search"] = {"max_trials": 2, **search, "space": space}
    return write_config(workdir, raw)


UNITS = {"model.units": {"choices": [[4], [16, 8]]}}


def test_tune_writes_the_best_config_and_the_trials(workdir):
    path = search_config(workdir, UNITS)
    result = invoke("tune", path, "-q")
    folder = run_dir_of(result)
    assert folder.name.startswith("mlp-tune-")
    trials = pd.read_csv(folder / "trials.csv")
    assert sorted(trials["model.units"]) == ["[16, 8]", "[4]"]  # two choices, two trials
    assert list(trials["status"]) == ["completed", "completed"]
    assert trials["val_loss"].is_monotonic_increasing
    best = load_config(folder / "best_config.yaml")
    assert list(best.model.params.units) == json.loads(trials["model.units"].iloc[0])
    assert best.data == load_config(path).data and best.training.epochs == 1
    summary = json.loads((folder / "tune.json").read_text())
    assert summary["best_val_loss"] == pytest.approx(trials["val_loss"].iloc[0])
    assert summary["completed"] == 2 and summary["algorithm"] == "random"
    assert "search" not in (folder / "best_config.yaml").read_text()
    assert (folder / "plots" / "trials.png").stat().st_size > 1000

    # Choices are made on validation loss only: changing the test rows changes nothing.
    frame = pd.read_csv(workdir / "series.csv")
    frame.loc[len(frame) - 48 :, ["y", "x"]] += 1000.0
    frame.to_csv(workdir / "series.csv", index=False)
    again = json.loads(invoke("tune", path, "-q", "--json").stdout)
    rerun = pd.read_csv(Path(again["best_config"]).parent / "trials.csv")
    pd.testing.assert_frame_equal(rerun, trials)


def test_failed_trials_are_recorded_and_the_search_goes_on(workdir):
    path = search_config(workdir, {"window.input_width": {"choices": [12, 500]}})
    result = invoke("tune", path)
    folder = run_dir_of(result)
    assert "trial 0:" in result.stderr and "trial 1:" in result.stderr
    assert "Traceback" not in result.output
    trials = pd.read_csv(folder / "trials.csv").set_index("window.input_width")
    assert trials.loc[12, "status"] == "completed"
    assert trials.loc[500, "status"] == "failed"
    assert "shorter than window.input_width + window.horizon" in trials.loc[500, "error"]
    assert load_config(folder / "best_config.yaml").window.input_width == 12


def test_interrupted_search_resumes_where_it_stopped(workdir, monkeypatch):
    path = search_config(workdir, UNITS)
    from tsforecast.training import fit

    real = fit.window_dataset
    calls = []

    def interrupt_second_trial(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # each trial builds a train and a validation pipeline
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(fit, "window_dataset", interrupt_second_trial)
    with pytest.raises(SearchInterrupted, match="continue it with: tsforecast tune --resume") as e:
        tune(path)
    folder = Path(str(e.value).rsplit(" ", 1)[-1])
    assert not (folder / "trials.csv").exists()

    calls.clear()
    result = invoke("tune", "--resume", folder, "-q")
    assert result.exit_code == 0, result.output
    assert len(calls) == 2  # only the interrupted trial ran again
    trials = pd.read_csv(folder / "trials.csv")
    assert len(trials) == 2 and set(trials["status"]) == {"completed"}


@pytest.mark.parametrize("algorithm", ["bayesian", "hyperband"])
def test_other_algorithms(workdir, algorithm):
    path = search_config(
        workdir,
        {"training.optimizer.learning_rate": {"min": 0.001, "max": 0.01, "sampling": "log"}},
        algorithm=algorithm,
    )
    result = tune(path, ("training.epochs=2", "training.tensorboard=true"))
    assert result.best_val_loss > 0
    assert list((result.path / "tensorboard").glob("*/execution0/validation/events.*"))
    assert len(result.trials) >= 2
    assert 0.001 <= result.best_config.training.optimizer.learning_rate <= 0.01


def test_tune_errors(workdir):
    plain = write_config(workdir, base_config("series.csv"), "plain.yaml")
    result = invoke("tune", plain)
    assert result.exit_code == 2 and result.stderr.startswith(
        f"Error: {plain} has no search section; add one naming the keys to vary"
    )
    assert len(result.stderr.strip().splitlines()) == 1
    path = search_config(workdir, UNITS)
    both = invoke("tune", path, "--resume", workdir)
    assert both.exit_code == 2 and "give no CONFIG and no --set" in both.stderr
    missing = invoke("tune", "--resume", workdir)
    assert missing.exit_code == 1 and "is not a tune directory" in missing.stderr
    assert invoke("tune").exit_code == 2
    bad = invoke("tune", path, "--set", "search.space.model.units.choices=[]")
    assert bad.exit_code == 2 and "choices must be a non-empty list" in bad.stderr
    assert not (workdir / "runs").exists()


def test_a_search_that_never_completes_a_trial_fails(workdir):
    path = search_config(workdir, {"window.input_width": {"choices": [400, 500]}})
    with pytest.raises(RunError, match="No trial completed; the last failure: The series"):
        tune(path)
