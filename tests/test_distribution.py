"""Data-parallel training: two CPU devices in one process, and two worker processes on
127.0.0.1 joined by jax.distributed."""

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import base_config, write_config

from tsforecast.commands.train import train
from tsforecast.config import load_config
from tsforecast.errors import ConfigError
from tsforecast.training.distribution import is_chief_task, read_tf_config

TIMEOUT = 240  # seconds for each subprocess; a hung collective must not hang the suite


def even_config(workdir):
    """128 train windows in batches of 32, in a fixed order: every step splits one batch
    evenly across the replicas, so one and two devices compute the same updates.

    (A last partial batch is cut to a multiple of the replicas when distributed.)
    """
    raw = base_config(str(workdir / "series.csv"))
    raw["window"]["input_width"] = 13
    raw["training"]["shuffle"] = False
    return write_config(workdir, raw)


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_matches_one_device(workdir):
    path = even_config(workdir)
    script = textwrap.dedent(
        f"""
        import json
        from tsforecast.config import load_config
        from tsforecast.commands.train import train
        config = load_config({str(path)!r}, ["training.distribute=mirrored", "output.dir=mirrored"])
        print(json.dumps(train(config).metrics))
        """
    )
    two_devices = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=workdir,
        env=two_devices,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    mirrored = json.loads(done.stdout.strip().splitlines()[-1])
    single = train(load_config(path)).metrics
    assert mirrored["training"]["replicas"] == 2
    assert mirrored["training"]["distribute"] == "mirrored"
    assert single["training"]["replicas"] == 1
    for part in ("val", "test"):
        for name in ("mse", "mae", "mase"):
            assert mirrored[part]["model"][name] == pytest.approx(
                single[part]["model"][name], rel=1e-5
            ), (part, name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_two_workers_on_localhost_write_one_run_directory(workdir, tmp_path):
    path = even_config(workdir)
    workers = [f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    processes = []
    for index in range(2):
        env = {
            **os.environ,
            "TF_CONFIG": json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
            ),
            "TMPDIR": str(scratch),
        }
        command = [sys.executable, "-m", "tsforecast", "train", str(path), "-q"]
        command += ["--set", "training.distribute=multi_worker"]
        processes.append(
            subprocess.Popen(
                command,
                cwd=workdir,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for process in processes:
            outputs.append(process.communicate(timeout=TIMEOUT))
    finally:
        for process in processes:
            process.kill()
    for process, (_, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err[-3000:]
    (run_dir,) = (workdir / "runs").iterdir()
    assert outputs[0][0].strip().splitlines()[-1] == str(run_dir)
    assert "the chief writes the run directory" in outputs[1][1]
    assert outputs[1][0] == ""
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert (
        metrics["training"]["replicas"] == 2 and metrics["training"]["distribute"] == "multi_worker"
    )
    assert not [p for p in scratch.iterdir() if p.name.startswith("tsforecast-worker-")]


def test_tf_config_is_checked(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ConfigError, match="needs the TF_CONFIG environment variable"):
        read_tf_config()
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG must be JSON"):
        read_tf_config()
    monkeypatch.setenv(
        "TF_CONFIG", '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}'
    )
    with pytest.raises(ConfigError, match="TF_CONFIG task worker 3 is not in its cluster"):
        read_tf_config()
    cluster = {"worker": ["a:1", "b:1"]}
    assert is_chief_task({"cluster": cluster, "task": {"type": "worker", "index": 0}})
    assert not is_chief_task({"cluster": cluster, "task": {"type": "worker", "index": 1}})
    with_chief = {"cluster": {**cluster, "chief": ["c:1"]}, "task": {"type": "worker", "index": 0}}
    assert not is_chief_task(with_chief)
    assert is_chief_task({**with_chief, "task": {"type": "chief", "index": 0}})


def test_multi_worker_without_tf_config_is_a_config_error(workdir, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    config = load_config(
        write_config(workdir, base_config("series.csv")), ["training.distribute=multi_worker"]
    )
    with pytest.raises(ConfigError, match="TF_CONFIG"):
        train(config)
    assert not Path("runs").exists()
