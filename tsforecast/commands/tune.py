"""``tsforecast tune``: a KerasTuner search over a config's ``search`` section.

Each trial is the base config with the searched keys set, trained like ``train`` trains
(same data pipeline, seed, early stopping) and scored by its best validation loss; the test
split is never read. The tune directory holds:

- ``search.yaml``: the resolved base config and its search section (what ``--resume`` reads),
- ``keras_tuner/``: KerasTuner's state; an interrupted search continues from it,
- ``trials.csv``: every trial's values, status and validation loss, best first,
- ``best_config.yaml``: the best trial's resolved config, ready for ``tsforecast train``,
- ``tune.json``: a summary, written last.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from tsforecast import plots
from tsforecast.config import Config, dump_config
from tsforecast.data.loading import SeriesTable, load_table
from tsforecast.data.prepared import PreparedData, prepare_data
from tsforecast.errors import ConfigError, RunError, TsForecastError
from tsforecast.models import registry
from tsforecast.runs import (
    BEST_CONFIG,
    PLOTS,
    SEARCH,
    TRIALS,
    TUNE_SUMMARY,
    TUNER_STATE,
    RunDir,
)
from tsforecast.search_space import SearchParam, SearchSpace, load_search
from tsforecast.training.distribution import Distribution

OBJECTIVE = "val_loss"

#: ``progress(trial)`` after every trial, with the trial's row of the trials table.
TrialProgress = Callable[[dict[str, Any]], None]


class SearchInterrupted(RunError):
    """The search was interrupted; its directory can be resumed."""

    exit_code = 130


@dataclass(frozen=True)
class TuneResult:
    """What a finished search returns."""

    path: Path
    best_config: Config
    best_val_loss: float
    trials: pd.DataFrame
    seconds: float


def _declare(hp: Any, param: SearchParam) -> Any:
    """Register ``param`` with KerasTuner (once) and return the trial's config value."""
    if param.choices:
        value = hp.Choice(param.path, param.encoded_choices)
    elif param.integer:
        step = None if param.step is None else int(param.step)
        value = hp.Int(
            param.path, int(param.low), int(param.high), step=step, sampling=param.sampling
        )
    else:
        value = hp.Float(
            param.path, param.low, param.high, step=param.step, sampling=param.sampling
        )
    return param.decode(value)


def _hypermodel(space: SearchSpace, table: SeriesTable, distribution: Distribution) -> Any:
    """A KerasTuner HyperModel that builds and fits one trial's config (on the devices of
    ``distribution``)."""
    import keras_tuner

    from tsforecast.data.pipeline import Split
    from tsforecast.training.fit import build_compiled_model, fit, seed_everything

    split = None
    if distribution.distributed:
        split = Split(distribution.replicas, distribution.process, distribution.processes)

    class ConfigHyperModel(keras_tuner.HyperModel):
        def __init__(self) -> None:
            super().__init__(name="tsforecast")
            self._prepared: dict[Any, PreparedData] = {}
            #: True while KerasTuner builds once up front only to learn the search space.
            self.declaring = True

        def _trial(self, hp: Any) -> tuple[Config, PreparedData]:
            values = {param.path: _declare(hp, param) for param in space.params}
            try:
                config = space.trial_config(values)
                key = (config.window, config.data)
                if key not in self._prepared:
                    self._prepared[key] = prepare_data(config, table)
            except TsForecastError as exc:
                raise keras_tuner.errors.FailedTrialError(str(exc)) from None
            return config, self._prepared[key]

        def build(self, hp: Any) -> Any:
            if self.declaring:
                for param in space.params:
                    _declare(hp, param)
                return None
            config, prepared = self._trial(hp)
            seed_everything(config.training.seed, config.training.deterministic)
            if split is not None:
                distribution.check_batch(config.training.batch_size)
            with distribution.scope():
                return build_compiled_model(config, prepared)[1]  # the trained part

        def fit(self, hp: Any, model: Any, *args: Any, callbacks=None, **kwargs: Any) -> Any:
            config, prepared = self._trial(hp)
            try:
                with distribution.scope():
                    fitted = fit(
                        model,
                        prepared,
                        config,
                        callbacks=callbacks or (),
                        epochs=kwargs.get("epochs"),
                        initial_epoch=kwargs.get("initial_epoch", 0),
                        split=split,
                    )
            except TsForecastError as exc:
                raise keras_tuner.errors.FailedTrialError(str(exc)) from None
            losses = [logs.get(OBJECTIVE, math.nan) for logs in fitted.history]
            if not losses or not all(math.isfinite(v) for v in losses):
                raise keras_tuner.errors.FailedTrialError(
                    "validation loss became NaN or infinite; lower the learning rate."
                )
            return fitted.keras_history

    return ConfigHyperModel()


def _tuner(space: SearchSpace, table: SeriesTable, folder: Path, progress: TrialProgress | None):
    import keras_tuner

    from tsforecast.training.distribution import make_distribution

    settings, training = space.settings, space.base.training
    base = {
        "random": keras_tuner.RandomSearch,
        "bayesian": keras_tuner.BayesianOptimization,
        "hyperband": keras_tuner.Hyperband,
    }[settings.algorithm]

    class Tuner(base):
        def _configure_tensorboard_dir(self, callbacks, trial, execution=0):
            # KerasTuner gives each trial a TensorBoard folder of its own only on the
            # TensorFlow backend (with its HParams plugin); the folders alone here.
            for callback in callbacks:
                if callback.__class__.__name__ == "TensorBoard":
                    callback.log_dir = str(
                        Path(callback.log_dir, trial.trial_id, f"execution{execution}")
                    )

        def on_trial_end(self, trial: Any) -> None:
            super().on_trial_end(trial)
            if progress is not None:
                progress(_trial_row(self.oracle.get_trial(trial.trial_id), space))

    kwargs: dict[str, Any] = {
        "objective": keras_tuner.Objective(OBJECTIVE, direction="min"),
        "seed": training.seed,
        "directory": str(folder),
        "project_name": TUNER_STATE,
        "overwrite": False,
    }
    if settings.algorithm == "hyperband":
        kwargs["max_epochs"] = training.epochs
    else:
        kwargs["max_trials"] = settings.max_trials
    hypermodel = _hypermodel(space, table, make_distribution(training.distribute))
    tuner = Tuner(hypermodel, **kwargs)
    hypermodel.declaring = False
    return tuner


@contextlib.contextmanager
def _quiet_keras_tuner():
    """Keep KerasTuner's progress prints and failed-trial tracebacks off the terminal.

    Failed trials keep their message in the trials table instead.
    """
    from keras_tuner.src import config as keras_tuner_config

    debug = keras_tuner_config.DEBUG
    keras_tuner_config.DEBUG = False
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        keras_tuner_config.DEBUG = debug


def _trial_row(trial: Any, space: SearchSpace) -> dict[str, Any]:
    values = trial.hyperparameters.values
    row: dict[str, Any] = {
        "trial": trial.trial_id,
        "status": str(trial.status).lower(),
        OBJECTIVE: trial.score,
        "best_epoch": trial.best_step + 1 if trial.score is not None else None,
    }
    for param in space.params:
        value = values.get(param.path)
        row[param.path] = value if value is None else _display(param.decode(value))
    if "tuner/epochs" in values:
        row["epochs"] = values["tuner/epochs"]
    message = (trial.message or "").strip().splitlines()
    row["error"] = message[-1].split(": ", 1)[-1] if message and trial.score is None else ""
    return row


def _display(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return yaml.safe_dump(list(value), default_flow_style=True).strip()
    return value


def _trials_table(tuner: Any, space: SearchSpace) -> pd.DataFrame:
    rows = [_trial_row(trial, space) for trial in tuner.oracle.trials.values()]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["_missing"] = frame[OBJECTIVE].isna()
    frame = frame.sort_values(["_missing", OBJECTIVE, "trial"], kind="stable")
    return frame.drop(columns="_missing").reset_index(drop=True)


def _open(
    path: str | Path | None, overrides: tuple[str, ...], resume: str | Path | None
) -> tuple[SearchSpace, RunDir]:
    if resume is not None:
        if path is not None or overrides:
            raise ConfigError(
                "tune --resume continues a search with its own saved config; give no CONFIG "
                "and no --set with it."
            )
        folder = Path(resume)
        if not (folder / SEARCH).is_file() or not (folder / TUNER_STATE).is_dir():
            raise RunError(
                f"{folder} is not a tune directory: it has no {SEARCH} and {TUNER_STATE}/."
            )
        _, space = load_search(folder / SEARCH)
        return space, RunDir.held(folder)
    if path is None:
        raise ConfigError("tune needs a CONFIG, or --resume DIR to continue a search.")
    base, space = load_search(path, overrides)
    if space is None:
        raise ConfigError(
            f"{path} has no search section; add one naming the keys to vary, e.g. "
            "search: {space: {model.units: {choices: [[32], [64]]}}}."
        )
    if base.training.distribute == "multi_worker":
        raise ConfigError(
            "training.distribute multi_worker is supported by train only; tune with none or "
            "mirrored."
        )
    if registry.get(base.model.type).selector:
        raise ConfigError(
            f"tune searches the settings of one model type; model.type {base.model.type} "
            "picks among families by itself. Tune a family such as mlp or nhits."
        )
    output = dataclasses.replace(base.output, name=f"{base.output.name or base.model.type}-tune")
    run = RunDir.create(dataclasses.replace(base, output=output))
    run.write_text(SEARCH, yaml.safe_dump(space.to_dict(), sort_keys=False))
    return space, run


def tune(
    path: str | Path | None = None,
    overrides: tuple[str, ...] = (),
    *,
    resume: str | Path | None = None,
    progress: TrialProgress | None = None,
) -> TuneResult:
    """Search the config's ``search`` space, or continue the search in ``resume``.

    Args:
        path: A config file with a ``search`` section.
        overrides: ``KEY.PATH=VALUE`` overrides of that file.
        resume: A tune directory whose search to continue (instead of ``path``).
        progress: Called after every trial.

    Raises:
        SearchInterrupted: on Ctrl-C, naming the directory to resume.
        RunError: when no trial completed.
    """
    started = time.perf_counter()
    space, run = _open(path, overrides, resume)
    try:
        return _search(space, run, progress, started)
    finally:
        run.release()


def _search(
    space: SearchSpace, run: RunDir, progress: TrialProgress | None, started: float
) -> TuneResult:
    table = load_table(space.base.data)
    report = None
    if progress is not None:
        stdout = sys.stdout

        def report(row: dict[str, Any]) -> None:
            with contextlib.redirect_stdout(stdout):
                progress(row)

    callbacks = []
    if space.base.training.tensorboard:  # each trial gets a folder of its own (see _tuner)
        import keras

        callbacks.append(keras.callbacks.TensorBoard(log_dir=str(run.file("tensorboard"))))
    try:
        with _quiet_keras_tuner():
            tuner = _tuner(space, table, run.path, report)
            tuner.search(verbose=0, callbacks=callbacks)
    except KeyboardInterrupt:
        raise SearchInterrupted(
            f"The search was interrupted; continue it with: tsforecast tune --resume {run.path}"
        ) from None
    except RuntimeError as exc:  # KerasTuner stops after several failed trials in a row
        last = str(exc).strip().splitlines()[-1].split(": ", 1)[-1]
        raise RunError(
            f"The search stopped after repeated failed trials; the last: {last}"
        ) from None
    trials = _trials_table(tuner, space)
    completed = trials[trials[OBJECTIVE].notna()] if not trials.empty else trials
    if completed.empty:
        reason = trials["error"].iloc[-1] if not trials.empty else "no trial ran"
        raise RunError(f"No trial completed; the last failure: {reason}")
    best_trial = tuner.oracle.get_trial(completed["trial"].iloc[0])
    values = {
        param.path: param.decode(best_trial.hyperparameters.values[param.path])
        for param in space.params
    }
    best = space.trial_config(values)
    best_loss = float(completed[OBJECTIVE].iloc[0])
    run.write_text(TRIALS, trials.to_csv(index=False))
    if space.base.output.plots:
        plots.trials(
            trials, OBJECTIVE, f"{space.settings.algorithm} search", run.file(PLOTS) / "trials.png"
        )
    run.write_text(BEST_CONFIG, dump_config(best))
    run.write_json(
        TUNE_SUMMARY,
        {
            "algorithm": space.settings.algorithm,
            "objective": OBJECTIVE,
            "trials": len(trials),
            "completed": len(completed),
            "best_trial": str(best_trial.trial_id),
            "best_val_loss": best_loss,
            "best_values": {k: _display(v) for k, v in values.items()},
            "best_config": str(run.file(BEST_CONFIG)),
        },
    )
    return TuneResult(run.path, best, best_loss, trials, time.perf_counter() - started)
