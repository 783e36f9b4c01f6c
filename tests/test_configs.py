"""Every bundled config trains for one epoch and forecasts, run as a new user would run it,
on a cut of its data so the suite stays fast."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import run_dir_of

from tsforecast.cli import main
from tsforecast.config import load_config
from tsforecast.models import registry

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


@pytest.fixture(scope="module")
def cut_data(tmp_path_factory) -> dict[str, Path]:
    """The first rows of each bundled data file (of each store, for the sales panel)."""
    folder = tmp_path_factory.mktemp("data")
    cuts = {
        "ETTh1.csv": pd.read_csv(ROOT / "data/ett/ETTh1.csv").head(1200),
        "ETTh2.csv": pd.read_csv(ROOT / "data/ett/ETTh2.csv").head(1200),
        "sales.csv": pd.read_csv(ROOT / "data/sales.csv").groupby("store").head(150),
    }
    for name, frame in cuts.items():
        frame.to_csv(folder / name, index=False)
    return {name: folder / name for name in cuts}


def test_every_config_says_what_it_demonstrates():
    assert len(CONFIGS) >= 13
    for path in CONFIGS:
        assert path.read_text().startswith("# "), f"{path.name} has no leading comment"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_trains_one_epoch_and_predicts(path, cut_data, tmp_path):
    config = load_config(path)
    # Configs of the literature's ETT protocol name their rows (data.rows): they get the file.
    data = config.data.path if config.data.rows else cut_data[Path(config.data.path).name]
    runner = CliRunner()
    args = ["--set", f"data.path={data}", "--set", "training.epochs=1"]
    args += ["--set", f"output.dir={tmp_path}"]
    result = runner.invoke(main, ["train", str(path), "--quiet", *args])
    run_dir = run_dir_of(result)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert np.isfinite(metrics["test"]["model"]["mse"])
    assert metrics["architecture"]["receptive_field"] == registry.receptive_field(
        config.model.type, config.model.params, config.window.input_width
    )

    planned = []
    if config.data.future_columns:  # the planned values of the days after the cut
        full = pd.read_csv(config.data.path)
        horizon = config.window.horizon
        after = full.groupby(config.data.id_column).nth(list(range(150, 150 + horizon)))
        after.to_csv(tmp_path / "planned.csv", index=False)
        planned = ["--future", str(tmp_path / "planned.csv")]
    forecast = runner.invoke(main, ["predict", str(run_dir), *planned])
    assert forecast.exit_code == 0, forecast.output
    header = forecast.stdout.splitlines()[0].split(",")
    targets = config.data.target_columns
    if config.model.params.head in ("quantile", "distribution"):
        assert "interval" in metrics["test"]["model"]
        assert header[-3:] == [f"{targets[-1]}_{s}" for s in ("lower", "median", "upper")]
    else:
        assert header[-len(targets) :] == list(targets)
    n_series = 12 if config.data.id_column else 1
    assert len(forecast.stdout.splitlines()) == 1 + n_series * config.window.horizon
