"""The engine every fit and forecast runs on: Keras on its JAX backend.

Imported first by the package, before anything imports Keras, so that Keras starts on
JAX whatever ``KERAS_BACKEND`` or ``~/.keras/keras.json`` say. TensorFlow is used only by
``export``, which loads a run under Keras' TensorFlow backend in a process of its own
(``TSFORECAST_BACKEND=tensorflow``, see :mod:`tsforecast.commands.export`).
"""

from __future__ import annotations

import os
import sys

#: The Keras backend of training and forecasting.
BACKEND = "jax"
#: Set to ``tensorflow`` in the process that exports a run.
BACKEND_VARIABLE = "TSFORECAST_BACKEND"
#: XLA's switch for deterministic GPU kernels (no effect on a CPU, which always is).
DETERMINISTIC_GPU = "--xla_gpu_deterministic_ops=true"


def select() -> str:
    """Point Keras at the engine's backend (or the one ``TSFORECAST_BACKEND`` names) unless
    Keras is already imported; returns the backend Keras runs on."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    backend = os.environ.get(BACKEND_VARIABLE, BACKEND)
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    flags = os.environ.get("XLA_FLAGS", "")
    if DETERMINISTIC_GPU.split("=")[0] not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {DETERMINISTIC_GPU}".strip()
    return backend


def without_tensorflow() -> None:
    """Keep Keras from importing TensorFlow where it computes on another backend.

    Keras treats an installed TensorFlow as one in use: saving a model or seeding imports
    it only to check whether objects are TensorFlow's, which costs seconds and hundreds of
    megabytes in a process that never runs it. Called before Keras saves or loads models;
    a process that imported TensorFlow itself keeps it.
    """
    import keras

    if keras.backend.backend() != "tensorflow" and "tensorflow" not in sys.modules:
        from keras.src.utils import module_utils

        module_utils.tensorflow._available = False


def use_tensorflow() -> bool:
    """Run Keras on TensorFlow in this process if it can still be chosen; whether Keras
    runs on TensorFlow here now."""
    if "keras" not in sys.modules:
        os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras

    return keras.backend.backend() == "tensorflow"


def deterministic(enabled: bool) -> None:
    """Ask for deterministic GPU kernels or not; it takes effect only where JAX has not yet
    started its backend in this process (the first fit of a process), since XLA reads its
    flags once."""
    flags = [
        f
        for f in os.environ.get("XLA_FLAGS", "").split()
        if not f.startswith(DETERMINISTIC_GPU.split("=")[0])
    ]
    if enabled:
        flags.append(DETERMINISTIC_GPU)
    os.environ["XLA_FLAGS"] = " ".join(flags)


def gpus() -> int:
    """How many GPUs Keras can compute on in this process."""
    import keras

    return sum(
        name.lower().startswith(("gpu", "cuda")) for name in keras.distribution.list_devices()
    )


def versions() -> dict[str, str]:
    """The backend Keras runs on and the versions of it and of Keras."""
    import keras

    backend = keras.backend.backend()
    module = __import__("jax" if backend == "jax" else backend)
    return {"backend": backend, backend: module.__version__, "keras": keras.__version__}
