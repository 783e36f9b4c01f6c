"""A plain Keras script doing the work of `tsforecast train`, for the speed benchmark.

Same data, split, scaling, windows, model, optimizer, epochs and batch size as the
benchmark configs, but with every window pre-built in memory and a plain `model.fit`.
It also predicts the validation and test windows, computes their MSE and saves the model,
as a run does. Prints one JSON line: the seconds spent after imports.

Usage: python reference_train.py {mlp,lstm} DATA.csv INPUT_WIDTH HORIZON EPOCHS BATCH
"""

import json
import os
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "jax")  # the backend tsforecast trains on
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
import pandas as pd
from keras.src.utils import module_utils

# Keras treats an installed TensorFlow as one in use and imports it, seconds and hundreds
# of megabytes, to check object types when seeding and saving; on JAX it is not needed
# (tsforecast does the same, tsforecast.engine.without_tensorflow).
if keras.backend.backend() != "tensorflow":
    module_utils.tensorflow._available = False

COLUMNS = ["OT", "HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL"]


def windows(values, lo, hi, width, horizon, first_target):
    """Every window whose targets lie in rows [first_target, hi), inputs from row lo on."""
    starts = np.arange(max(lo, first_target - width), hi - horizon - width + 1)
    x = np.stack([values[s : s + width] for s in starts])
    y = np.stack([values[s + width : s + width + horizon] for s in starts])
    return x.astype("float32"), y.astype("float32")


def build(kind, width, horizon, n):
    inputs = keras.Input((width, n))
    if kind == "mlp":
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(64, kernel_initializer="he_normal")(x)
        x = keras.layers.Activation("relu")(x)
    else:
        x = keras.layers.LSTM(32)(inputs)
    x = keras.layers.Dense(horizon * n)(x)
    outputs = keras.layers.Reshape((horizon, n))(x)
    return keras.Model(inputs, outputs)


def main():
    kind, path, width, horizon, epochs, batch = sys.argv[1:7]
    width, horizon, epochs, batch = int(width), int(horizon), int(epochs), int(batch)
    start = time.perf_counter()
    keras.utils.set_random_seed(42)
    values = pd.read_csv(path)[COLUMNS].to_numpy("float64")
    n = len(values)
    n_val = n_test = round(0.15 * n)
    train_end, val_end = n - n_val - n_test, n - n_test
    mean, std = values[:train_end].mean(0), values[:train_end].std(0)
    scaled = (values - mean) / std
    x_train, y_train = windows(scaled, 0, train_end, width, horizon, width)
    x_val, y_val = windows(scaled, 0, val_end, width, horizon, train_end)
    x_test, y_test = windows(scaled, 0, n, width, horizon, val_end)
    model = build(kind, width, horizon, len(COLUMNS))
    model.compile(optimizer=keras.optimizers.Adam(0.001), loss="mse")
    model.fit(
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        epochs=epochs,
        batch_size=batch,
        verbose=0,
    )
    mse = {}
    for name, (x, y) in {"val": (x_val, y_val), "test": (x_test, y_test)}.items():
        mse[name] = float(np.mean((model.predict(x, batch_size=1024, verbose=0) - y) ** 2))
    with tempfile.TemporaryDirectory() as tmp:
        model.save(os.path.join(tmp, "model.keras"))
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "mse": mse, "train_windows": len(x_train)}))


if __name__ == "__main__":
    main()
