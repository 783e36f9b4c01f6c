"""``training.distribute``: which tf.distribute strategy trains the model, and who writes.

``mirrored`` replicates the model on every local GPU (or on every logical CPU device when
there is no GPU); ``multi_worker`` runs one replica per process of the cluster described by
the ``TF_CONFIG`` environment variable. In both, the configured batch size is the global
one: each step splits one batch across the replicas. Only the chief process writes a run
directory; the other workers train in a temporary directory that is removed afterwards.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from tsforecast.errors import ConfigError, RunError


@dataclass(frozen=True)
class Distribution:
    """The strategy of one process and its role.

    Attributes:
        kind: The ``training.distribute`` value.
        strategy: The ``tf.distribute.Strategy`` (the default one for ``none``).
        is_chief: Whether this process writes the run directory.
        task: ``"chief"``, ``"worker 1"``, ... (empty when not multi-worker).
    """

    kind: str
    strategy: Any
    is_chief: bool = True
    task: str = ""

    @property
    def distributed(self) -> bool:
        return self.kind != "none"

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)


def read_tf_config() -> dict[str, Any]:
    """The parsed ``TF_CONFIG`` environment variable, checked for a cluster and a task."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        raise ConfigError(
            "training.distribute multi_worker needs the TF_CONFIG environment variable "
            'describing the cluster, e.g. {"cluster": {"worker": ["host1:12345", '
            '"host2:12345"]}, "task": {"type": "worker", "index": 0}}.'
        )
    try:
        tf_config = json.loads(text)
        workers = tf_config["cluster"]
        task_type, index = tf_config["task"]["type"], int(tf_config["task"]["index"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            "TF_CONFIG must be JSON with a 'cluster' mapping and a 'task' holding 'type' "
            "and 'index'."
        ) from None
    if task_type not in workers or not 0 <= index < len(workers[task_type]):
        raise ConfigError(
            f"TF_CONFIG task {task_type} {index} is not in its cluster "
            f"({', '.join(f'{k}: {len(v)}' for k, v in workers.items())})."
        )
    return tf_config


def is_chief_task(tf_config: dict[str, Any]) -> bool:
    """The chief is the ``chief`` task, or worker 0 when the cluster names no chief."""
    task_type, index = tf_config["task"]["type"], int(tf_config["task"]["index"])
    if task_type == "chief":
        return True
    return task_type == "worker" and index == 0 and "chief" not in tf_config["cluster"]


def make_distribution(kind: str) -> Distribution:
    """Create the strategy for ``training.distribute``.

    ``multi_worker`` must be created before TensorFlow runs anything else in the process;
    otherwise a RunError explains that such a config has to be trained on its own.
    """
    tf_config = read_tf_config() if kind == "multi_worker" else {}
    import tensorflow as tf

    if kind == "none":
        return Distribution(kind, tf.distribute.get_strategy())
    if kind == "mirrored":
        devices = None
        if not tf.config.list_logical_devices("GPU"):
            devices = [device.name for device in tf.config.list_logical_devices("CPU")]
        return Distribution(kind, tf.distribute.MirroredStrategy(devices=devices))

    class MultiWorkerStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        """MultiWorkerMirroredStrategy with the two reductions Keras 3's ``fit`` needs.

        Across several workers, ``fit`` asks ``reduce`` for (1) the mean of its first
        ``(inputs, targets)`` batch, a nest, which tf.distribute reduces only as single
        values, and (2) the mean of scalar logs along ``axis=0``, which scalars lack
        (tensorflow/tensorflow#72388). Nests are reduced item by item, and scalars across
        replicas only.
        """

        def reduce(self, reduce_op, value, axis):
            if isinstance(value, tuple | list):
                return type(value)(self.reduce(reduce_op, v, axis) for v in value)
            if isinstance(value, dict):
                return {k: self.reduce(reduce_op, v, axis) for k, v in value.items()}
            if axis is not None and self.experimental_local_results(value)[0].shape.rank == 0:
                axis = None
            return super().reduce(reduce_op, value, axis)

    try:
        strategy = MultiWorkerStrategy()
    except (RuntimeError, ValueError) as exc:
        raise RunError(
            "Cannot start MultiWorkerMirroredStrategy; it must be created before TensorFlow "
            f"runs anything else, so train a multi_worker config in a process of its own ({exc})."
        ) from None
    task_type, index = tf_config["task"]["type"], int(tf_config["task"]["index"])
    chief = is_chief_task(tf_config)
    return Distribution(kind, strategy, chief, "chief" if chief else f"{task_type} {index}")


def shard_by_data(dataset: Any) -> Any:
    """Let every worker read the whole window pipeline and keep its own share of batches."""
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
