"""``training.distribute``: which devices and processes train the model, and who writes.

Both kinds train data-parallel through ``keras.distribution.DataParallel`` on the JAX
backend: the model is replicated on every device and each step splits one batch across
them. ``mirrored`` uses the devices of this process (every local GPU, or every CPU device
JAX was started with); ``multi_worker`` runs one process per host of the cluster that the
``TF_CONFIG`` environment variable describes (the format ``tf.distribute`` clusters use),
joined by ``jax.distributed``, each process reading its share of every batch. The
configured batch size is the global one and must split evenly across the replicas; the
short last batch of an epoch is cut to a multiple of the replica count. Only the chief
process writes a run directory; the other workers train in a temporary directory that is
removed afterwards.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tsforecast.errors import ConfigError, RunError


@dataclass(frozen=True)
class Distribution:
    """The devices of one process and its role.

    Attributes:
        kind: The ``training.distribute`` value.
        devices: The JAX devices holding a replica, across every process (empty: none).
        is_chief: Whether this process writes the run directory.
        task: ``"chief"``, ``"worker 1"``, ... (empty when not multi-worker).
        process: This process's index among ``processes``.
        processes: Processes training together.
    """

    kind: str
    devices: tuple[Any, ...] = ()
    is_chief: bool = True
    task: str = ""
    process: int = 0
    processes: int = 1

    @property
    def distributed(self) -> bool:
        return self.kind != "none"

    @property
    def replicas(self) -> int:
        return max(1, len(self.devices))

    @contextlib.contextmanager
    def scope(self) -> Iterator[None]:
        """Build and fit inside this: variables are replicated and batches split."""
        if not self.distributed:
            yield
            return
        import keras

        parallel = keras.distribution.DataParallel(
            devices=list(self.devices), auto_shard_dataset=False
        )
        with parallel.scope():
            yield

    def native_output_to_stderr(self) -> contextlib.AbstractContextManager[None]:
        """Inside this, what native code prints on standard output (Gloo's notes on the
        connections between processes) goes to standard error, so that standard output
        holds only what the command prints."""
        return _stdout_to_stderr() if self.processes > 1 else contextlib.nullcontext()

    def check_batch(self, batch_size: int) -> None:
        """Raise ConfigError unless a batch splits evenly across the replicas."""
        if batch_size % self.replicas:
            raise ConfigError(
                f"training.batch_size must be a multiple of the {self.replicas} replicas of "
                f"training.distribute {self.kind}; got {batch_size}."
            )


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


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
    """The devices and role of this process for ``training.distribute``.

    ``multi_worker`` joins the cluster with ``jax.distributed``, which must happen before
    JAX runs anything else in the process; otherwise a RunError explains that such a config
    has to be trained on its own.
    """
    if kind == "none":
        return Distribution(kind)
    tf_config = read_tf_config() if kind == "multi_worker" else {}
    import jax

    if kind == "mirrored":
        return Distribution(kind, tuple(jax.local_devices()))
    import keras

    cluster = tf_config["cluster"]
    addresses = [*cluster.get("chief", []), *cluster.get("worker", [])]
    task_type, index = tf_config["task"]["type"], int(tf_config["task"]["index"])
    process = index if task_type == "chief" else len(cluster.get("chief", [])) + index
    try:
        # collectives between CPU processes (GPUs use NCCL whatever this says)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        with _stdout_to_stderr():
            keras.distribution.initialize(addresses[0], len(addresses), process)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunError(
            "Cannot join the multi_worker cluster; jax.distributed must start before JAX "
            f"runs anything else, so train a multi_worker config in a process of its own ({first})."
        ) from None
    chief = is_chief_task(tf_config)
    return Distribution(
        kind,
        tuple(jax.devices()),
        chief,
        "chief" if chief else f"{task_type} {index}",
        process,
        len(addresses),
    )
