"""``tsforecast export``: a trained run as a TensorFlow SavedModel or a TFLite file.

The exported function takes windows in original units and returns forecasts in original
units: the target transforms (log, log1p, Box-Cox) and the scaling of the run are
computed inside it, with the statistics fitted at training time as constants, and the
model (with its differencing and instance normalisation layers) between them. So it
reproduces ``tsforecast predict`` for the same windows without the package installed.

Inputs, by name (``window`` always, the others where the run reads them):

- ``window``: ``(batch, input_width, n_past)`` float32, the past columns, targets first;
- ``future``: ``(batch, input_width + horizon, n_future)`` the known-future columns (then
  the calendar columns, as :func:`tsforecast.data.calendar.calendar_values` computes them)
  over the input window and the horizon;
- ``static``: ``(batch, n_static)`` the numeric static columns;
- ``categories``: ``(batch, n_categories)`` strings, the categorical static columns;
- ``series_id`` (SavedModel) or ``series_index`` (TFLite, the position in ``series_ids``):
  which training series each window belongs to, for runs that scale or embed per series.

Outputs: ``forecast`` ``(batch, horizon, n_targets)``, and for a quantile head
``quantiles`` ``(batch, horizon, n_targets, n_levels)``. A ``tsforecast.json`` beside the
model (inside the SavedModel folder; ``PATH.json`` for TFLite) names every column.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tsforecast import engine
from tsforecast.config.data import calendar_columns
from tsforecast.data import windows
from tsforecast.data.future import future_covariates, with_future
from tsforecast.data.loading import load_input
from tsforecast.errors import ConfigError, DataError, RunError, TsForecastError
from tsforecast.files import check_outside, write_atomically
from tsforecast.forecasting import future_times
from tsforecast.models.covariates import vocabularies
from tsforecast.models.heads import head_of
from tsforecast.runs import LoadedRun, load_run

FORMATS = ("saved_model", "tflite")
#: The description of the inputs and outputs, beside the model.
METADATA = "tsforecast.json"


@dataclass(frozen=True)
class Layout:
    """What the run's model reads and writes, by column name."""

    past: tuple[str, ...]
    targets: tuple[str, ...]
    future: tuple[str, ...]
    static: tuple[str, ...]
    categories: tuple[str, ...]
    series_ids: tuple[str, ...] | None
    by_series: bool
    embeds_id: bool
    levels: tuple[float, ...] | None

    def to_dict(self, run: LoadedRun, fmt: str) -> dict[str, Any]:
        window = run.config.window
        inputs: dict[str, Any] = {"window": list(self.past)}
        if self.future:
            inputs["future"] = list(self.future)
        if self.static:
            inputs["static"] = list(self.static)
        if self.categories:
            inputs["categories"] = list(self.categories)
        if self.by_series:
            inputs["series_id" if fmt == "saved_model" else "series_index"] = "one per window"
        return {
            "format": fmt,
            "input_width": window.input_width,
            "horizon": window.horizon,
            "frequency": run.metrics["run"].get("frequency"),
            "inputs": inputs,
            "targets": list(self.targets),
            "quantile_levels": list(self.levels) if self.levels else None,
            "series_ids": list(self.series_ids) if self.series_ids is not None else None,
            "run": str(run.path),
        }


def layout(run: LoadedRun) -> Layout:
    """The inputs and outputs of ``run``'s model, by column name.

    Raises:
        DataError: when the run reads static columns and its training file, which tells
            numeric from categorical ones, cannot be read.
    """
    data, model = run.config.data, run.model
    past = (*data.target_columns, *data.feature_columns)
    future = (*data.future_columns, *calendar_columns(data.calendar))
    names = {tensor.name.split(":")[0] for tensor in _inputs(model)}
    n_categories = sum(name.startswith("category_") for name in names)
    static, categories = (), ()
    if data.static_columns:
        table = load_input(data)
        static = table.static.numeric_names
        categories = tuple(c for c in table.static.categorical_names if c != data.id_column)
    embedded = n_categories > len(categories)  # the last category is the series id
    scaler = run.scaler
    series_ids = scaler.ids_
    if series_ids is None and embedded:  # scaled globally: the ids the embedding learned
        series_ids = tuple(vocabularies(model)[-1])
    by_series = scaler.scope == "series" or embedded
    params = run.config.model.params
    levels = None
    if head_of(params) == "quantile":
        levels = tuple(float(q) for q in params.quantiles)
    return Layout(
        past,
        data.target_columns,
        future,
        static,
        categories,
        series_ids,
        by_series,
        embedded,
        levels,
    )


def _inputs(model: Any) -> list[Any]:
    inputs = model.inputs
    return list(inputs.values()) if isinstance(inputs, dict) else list(inputs)


def _forecaster(run: LoadedRun, shape: Layout, fmt: str) -> tuple[Any, list[Any], list[Any]]:
    """The serving function, its input signature and the lookup tables it reads."""
    import tensorflow as tf

    config, scaler, model = run.config, run.scaler, run.model
    width, horizon = config.window.input_width, config.window.horizon
    n_past, n_targets = len(shape.past), len(shape.targets)
    offset = tf.constant(scaler.offset_, tf.float32)
    scale = tf.constant(scaler.scale_, tf.float32)
    static_offset = tf.constant(scaler.static_offset_, tf.float32)
    static_scale = tf.constant(scaler.static_scale_, tf.float32)
    names, lambdas = scaler.transform_.names, list(scaler.transform_.lambdas_)
    ids = tf.constant(list(shape.series_ids or ("0",)))
    model_names = {tensor.name.split(":")[0] for tensor in _inputs(model)}
    takes_dict = isinstance(model.inputs, dict) or len(model_names) > 1

    batch = None if fmt == "saved_model" else 1  # TFLite lowers recurrent loops at a fixed batch
    spec = {"window": tf.TensorSpec([batch, width, n_past], tf.float32, name="window")}
    if shape.future:
        steps = width + horizon
        spec["future"] = tf.TensorSpec([batch, steps, len(shape.future)], tf.float32, "future")
    if shape.static:
        spec["static"] = tf.TensorSpec([batch, len(shape.static)], tf.float32, name="static")
    if shape.categories:
        spec["categories"] = tf.TensorSpec([batch, len(shape.categories)], tf.string, "categories")
    if shape.by_series:
        if fmt == "saved_model":
            spec["series_id"] = tf.TensorSpec([batch], tf.string, name="series_id")
        else:
            spec["series_index"] = tf.TensorSpec([batch], tf.int32, name="series_index")

    lookups = [
        tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(list(vocabulary), tf.string),
                tf.range(1, len(vocabulary) + 1, dtype=tf.int32),
            ),
            default_value=0,
        )
        for vocabulary in vocabularies(model)
    ]
    lam = tf.constant(lambdas or [1.0] * n_targets, tf.float32)
    zero = tf.equal(lam, 0.0)
    safe = tf.where(zero, tf.ones_like(lam), lam)

    def transformed(x: Any) -> Any:  # as TargetTransform.transform
        for name in names:
            if name == "log":
                x = tf.math.log(x)
            elif name == "log1p":
                x = tf.math.log1p(x)
            else:
                x = tf.where(zero, tf.math.log(x), tf.math.expm1(safe * tf.math.log(x)) / safe)
        return x

    def inverse(y: Any) -> Any:  # as TargetTransform.inverse
        for name in reversed(names):
            if name == "log":
                y = tf.exp(y)
            elif name == "log1p":
                y = tf.math.expm1(y)
            else:
                edge = -1.0 / safe
                y = tf.where(
                    lam > 0, tf.maximum(y, edge), tf.where(lam < 0, tf.minimum(y, edge), y)
                )
                y = tf.where(zero, tf.exp(y), tf.exp(tf.math.log1p(safe * y) / safe))
        return y

    def serve(**inputs: Any) -> dict[str, Any]:
        window = inputs["window"]
        targets = transformed(window[..., :n_targets])
        window = tf.concat([targets, window[..., n_targets:]], axis=-1)
        if "series_id" in inputs:
            found = tf.equal(inputs["series_id"][:, None], ids[None, :])
            tf.debugging.assert_equal(
                tf.reduce_any(found, axis=1), True, message="a series_id the run did not train on"
            )
            series = tf.argmax(tf.cast(found, tf.int32), axis=1, output_type=tf.int32)
            series_name = inputs["series_id"]
        else:
            series = inputs.get("series_index")
            series_name = None if series is None else tf.gather(ids, series)
        if scaler.scope == "series":  # (batch, 1, n_columns)
            row_offset, row_scale = (
                tf.gather(offset, series)[:, None],
                tf.gather(scale, series)[:, None],
            )
        else:
            row_offset, row_scale = offset, scale
        scaled = {"window": (window - row_offset[..., :n_past]) / row_scale[..., :n_past]}
        if "future" in inputs:
            future_offset = row_offset[..., n_past:]
            scaled["future"] = (inputs["future"] - future_offset) / row_scale[..., n_past:]
        if "static" in inputs:
            scaled["static"] = (inputs["static"] - static_offset) / static_scale
        columns = [inputs["categories"][:, i : i + 1] for i in range(len(shape.categories))]
        if shape.embeds_id:
            columns.append(series_name[:, None])
        # (batch, 1) names -> (batch, 1) indices into each vocabulary (0: unknown)
        scaled.update(
            {f"category_{i}": lookups[i].lookup(column) for i, column in enumerate(columns)}
        )
        raw = model(scaled if takes_dict else scaled["window"], training=False)
        if head_of(config.model.params) == "sequence":
            raw = raw[:, -1]
        elif head_of(config.model.params) == "distribution":
            raw = raw[..., 0]  # the mean (location) of each step's distribution
        target_offset = row_offset[..., :n_targets]
        target_scale = row_scale[..., :n_targets]
        if shape.levels is None:
            return {"forecast": inverse(raw * target_scale + target_offset)}
        levels = inverse(raw * target_scale[..., None] + target_offset[..., None])
        median = shape.levels.index(0.5)
        return {"forecast": levels[..., median], "quantiles": levels}

    return serve, list(spec.values()), lookups


def export(run_dir: str | Path, fmt: str, output: str | Path) -> dict[str, Any]:
    """Export a finished run; returns the description written beside it.

    The run is loaded under Keras' TensorFlow backend, which only this command uses: in
    this process when Keras is not yet running on another backend here (the command
    line), else in a child process.

    Raises:
        ConfigError: for an unknown format or an output that exists.
        RunError: when the run cannot be loaded or its model converted.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}; got '{fmt}'.")
    output = Path(output)
    check_outside(output, [Path(run_dir)], "--output")
    if output.is_symlink():
        raise ConfigError(f"--output {output} is a symbolic link; name a new path.")
    if output.exists():
        raise ConfigError(f"--output {output} exists; remove it or name another path.")
    if fmt == "tflite" and Path(f"{output}.json").exists():
        raise ConfigError(
            f"--output {output}: its description {output}.json exists; remove it or name "
            "another path."
        )
    if engine.use_tensorflow():
        return _export(run_dir, fmt, output)
    return _export_in_child(run_dir, fmt, output)


def _export_in_child(run_dir: str | Path, fmt: str, output: Path) -> dict[str, Any]:
    """:func:`export` in a child process that runs Keras on TensorFlow."""
    env = {**os.environ, engine.BACKEND_VARIABLE: "tensorflow"}
    command = [sys.executable, "-m", __name__, str(run_dir), fmt, str(output)]
    child = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    lines = child.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = child.stderr.strip().splitlines()
        raise RunError(
            f"The export process failed (exit status {child.returncode})"
            + (f": {tail[-1]}" if tail else ".")
        ) from None
    if "error" in answer:
        kind = {"ConfigError": ConfigError, "DataError": DataError}.get(answer["kind"], RunError)
        raise kind(answer["error"])
    return answer["described"]


def _export(run_dir: str | Path, fmt: str, output: Path) -> dict[str, Any]:
    run = load_run(run_dir)
    statistical = run.metrics.get("auto", {}).get("blend", {}).get("statistical")
    if statistical:
        names = ", ".join(m["name"] for m in statistical)
        raise RunError(
            f"Run {run.path} blends statistical models ({names}) into its forecasts, which "
            "an exported model cannot carry; forecast it with tsforecast predict, or retrain "
            "with model.statistical: false to export."
        )
    shape = layout(run)
    if fmt == "tflite" and (shape.categories or shape.embeds_id):
        what = "categorical static columns" if shape.categories else "series id embedding"
        raise ConfigError(
            f"TFLite has no string lookups for the run's {what}; export it with "
            "--format saved_model."
        )
    described = shape.to_dict(run, fmt)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"Cannot create the folder of --output {output}: {exc}.") from None
    staging = Path(tempfile.mkdtemp(prefix=".export-", dir=output.parent.resolve()))
    try:
        saved = staging / "saved_model"
        _save(run, shape, fmt, saved)
        (saved / METADATA).write_text(json.dumps(described, indent=2) + "\n", encoding="utf-8")
        if fmt == "saved_model":
            saved.rename(output)
        else:
            _tflite(saved, output)
            write_atomically(Path(f"{output}.json"), json.dumps(described, indent=2) + "\n")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return described


def _save(run: LoadedRun, shape: Layout, fmt: str, path: Path) -> None:
    import keras

    serve, signature, lookups = _forecaster(run, shape, fmt)
    archive = keras.export.ExportArchive()
    archive.track(run.model)
    for table in lookups:
        archive.track(table)

    def endpoint(*args: Any) -> dict[str, Any]:
        return serve(**{spec.name: value for spec, value in zip(signature, args, strict=True)})

    archive.add_endpoint("serve", endpoint, input_signature=signature)
    try:
        archive.write_out(str(path), verbose=False)
    except (ValueError, TypeError) as exc:
        raise RunError(f"Cannot export the run's model: {exc}") from None


def _tflite(saved: Path, output: Path) -> None:
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved), signature_keys=["serve"])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    try:
        flat = converter.convert()
    except Exception as exc:  # the converter raises many kinds, all meaning "cannot"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(f"Cannot convert the run's model to TFLite: {first}") from None
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_bytes(flat)
    tmp.replace(output)


def serving_inputs(
    run: LoadedRun, input_path: str | Path | None = None, future_path: str | Path | None = None
) -> dict[str, np.ndarray]:
    """The exported model's inputs for the last window of every series of ``input_path``
    (default: the training file), as ``predict`` reads them: what a client sends."""
    config, fmt = run.config, "saved_model"
    shape = layout(run)
    width, horizon = config.window.input_width, config.window.horizon
    table = load_input(config.data, input_path)
    starts = windows.last_window_starts(table, width, config.window.observed)
    source = table
    if table.n_future:
        times = future_times(table, horizon)
        source = with_future(
            table, future_covariates(config.data, table, times, future_path), times
        )
        starts = starts + np.arange(table.n_series) * horizon  # the rows appended before
    n_past = table.n_past
    offsets = source.offsets
    inputs = {"window": windows.inputs(source.values[:, :n_past], starts, width, offsets)}
    if table.n_future:
        future = source.values[:, n_past:]
        rows = windows.padded_rows(
            starts[:, None] + np.arange(width + horizon), starts, width, offsets
        )
        inputs["future"] = future[rows]
    if shape.static:
        inputs["static"] = table.static.numeric
    if shape.categories:
        keep = [table.static.categorical_names.index(c) for c in shape.categories]
        inputs["categories"] = table.static.categorical[:, keep].astype(str)
    if shape.by_series:
        inputs["series_id" if fmt == "saved_model" else "series_index"] = np.asarray(
            table.ids or ("0",)
        )
    return {
        name: value if value.dtype.kind in "OUS" else value.astype(np.float32)
        for name, value in inputs.items()
    }


def load_exported(path: str | Path) -> Any:
    """The serving function of an exported SavedModel (as plain TensorFlow loads it)."""
    import tensorflow as tf

    try:
        return tf.saved_model.load(str(path)).signatures["serve"]
    except (OSError, KeyError, ValueError) as exc:
        raise DataError(f"Cannot load the exported model {path}: {exc}") from None


def main(argv: list[str]) -> int:
    """The child process of :func:`export`: ``RUN_DIR FORMAT OUTPUT``; prints one JSON line,
    the description or the error."""
    run_dir, fmt, output = argv
    try:
        answer: dict[str, Any] = {"described": _export(run_dir, fmt, Path(output))}
    except TsForecastError as exc:
        answer = {"error": str(exc), "kind": type(exc).__name__}
    print(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
