import io
import json
import shutil

import pandas as pd
import pytest
from conftest import (
    assert_cli_without_tensorflow,
    base_config,
    invoke,
    run_dir_of,
    sine_frame,
    write_config,
)


def train_run(config_path, *overrides):
    args = ["train", config_path, "-q"]
    for text in overrides:
        args += ["--set", text]
    result = invoke(*args)
    return run_dir_of(result)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs over the same test window (one of a quantile head) and one with another
    horizon (trained once)."""
    folder = tmp_path_factory.mktemp("compare")
    sine_frame().to_csv(folder / "series.csv", index=False)
    raw = base_config(str(folder / "series.csv"))
    raw["output"] = {"dir": str(folder / "runs")}
    path = write_config(folder, raw)
    linear = train_run(path, "output.name=linear")
    naive = train_run(path, "model.type=naive", "output.name=last")
    other = train_run(path, "model.type=naive", "window.horizon=2", "output.name=short")
    quantile = train_run(path, "model.head=quantile", "output.name=quantile")
    return {"linear": linear, "naive": naive, "other": other, "quantile": quantile}


def test_leaderboard_ranks_runs_beside_the_naive_baseline(runs):
    result = invoke("compare", runs["linear"], runs["naive"], "--format", "csv")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    assert list(table["rank"]) == [1, 2, 3, 4]  # two runs, naive and seasonal naive
    assert (table["run"] == "naive baseline").sum() == 1  # shared test window: one baseline
    assert set(table["group"]) == {
        "series.csv, targets y, split val 0.2 / test 0.2 by time, horizon 4"
    }
    linear = json.loads((runs["linear"] / "metrics.json").read_text())["test"]
    row = table[table["run"] == runs["linear"].name].iloc[0]
    assert row["test.mse"] == pytest.approx(linear["model"]["mse"])
    assert row["test.skill_mse"] == pytest.approx(
        1 - linear["model"]["mse"] / linear["naive"]["mse"]
    )
    baseline = table[table["run"] == "naive baseline"].iloc[0]
    assert baseline["test.mse"] == pytest.approx(linear["naive"]["mse"])
    assert baseline["test.skill_mse"] == 0
    assert list(table["test.mse"]) == sorted(table["test.mse"])

    by_skill = json.loads(
        invoke("compare", runs["linear"], "--json", "--sort-by", "test.skill_mse").stdout
    )
    assert [r["test.skill_mse"] for r in by_skill] == sorted(
        (r["test.skill_mse"] for r in by_skill), reverse=True
    )
    assert by_skill[0]["metrics"]["test"]["model"]["mse"] > 0

    markdown = invoke("compare", runs["linear"], runs["naive"], "--format", "markdown").stdout
    lines = markdown.strip().splitlines()
    assert lines[0].startswith("### Test windows: series.csv")
    assert lines[2].startswith("| rank | run | model | test.mse") and lines[3].startswith("|---|")
    assert len(lines) == 4 + 4

    table_text = invoke("compare", runs["linear"], "--sort-by", "val.mse").stdout
    assert table_text.splitlines()[1].split()[-1] == "val.mse"


def test_runs_with_other_test_windows_get_their_own_baseline(runs, workdir):
    folder = runs["linear"].parent
    result = invoke("compare", str(folder / "*"), "--format", "csv")  # a quoted glob
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout))
    groups = table.groupby("group")
    assert sorted(groups.size()) == [3, 5]  # one run and two baselines; three runs and two
    for _, group in groups:
        assert list(group["rank"]) == list(range(1, len(group) + 1))
        assert (group["run"] == "naive baseline").sum() == 1
    text = invoke("compare", str(folder / "*"), "--html", workdir / "board.html").stdout
    board = (workdir / "board.html").read_text()
    assert board.count("<h2>Test windows: series.csv") == 2 and "<table>" in board
    assert "Test windows: series.csv, targets y, split val 0.2 / test 0.2 by time, horizon 2 " in (
        text
    )
    assert "(no other run is scored on these test windows)" in text


def test_plot_draws_runs_that_share_a_test_window(runs, workdir):
    out = workdir / "forecasts.png"
    result = invoke("compare", runs["linear"], runs["naive"], "--plot", out)
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 5000
    assert "Wrote the forecasts of 2 runs" in result.stderr

    mixed = invoke("compare", runs["linear"], runs["other"], "--plot", workdir / "x.png")
    assert mixed.exit_code == 2
    assert mixed.stderr.strip() == (
        f"Error: compare --plot needs runs over the same test window, but {runs['linear'].name} "
        f"and {runs['other'].name} differ in window.horizon (4 vs 2)."
    )
    assert not (workdir / "x.png").exists()


def test_plot_draws_a_quantile_run_by_its_median(runs, workdir, monkeypatch):
    from tsforecast import plots

    drawn = {}
    monkeypatch.setattr(plots, "compare_forecasts", lambda *args: drawn.update(args[3]))
    result = invoke("compare", runs["linear"], runs["quantile"], "--plot", workdir / "q.png")
    assert result.exit_code == 0, result.output
    assert {forecast.shape for forecast in drawn.values()} == {(8, 4, 1)}  # one line each


def test_compare_skips_what_is_not_a_finished_run(runs, workdir):
    damaged = shutil.copytree(runs["naive"], workdir / "damaged")
    (damaged / "metrics.json").unlink()
    result = invoke("compare", runs["linear"], damaged, workdir / "nowhere")
    assert result.exit_code == 0, result.output
    assert f"Skipped: Run {damaged} is unfinished or damaged" in result.stderr
    assert "Skipped: Run directory not found" in result.stderr
    assert runs["linear"].name in result.stdout

    none = invoke("compare", damaged)
    assert none.exit_code == 1
    assert none.stderr.strip().splitlines()[-1] == (
        f"Error: No finished run among the 1 paths given (Run {damaged} is unfinished or "
        "damaged: metrics.json is missing.)."
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sort-by", "test.msa"], "Error: --sort-by: unknown metric 'msa' in 'test.msa'."),
        (["--format", "html"], "Error: --format must be one of table, markdown, csv, json"),
    ],
)
def test_bad_compare_options(runs, args, message):
    result = invoke("compare", runs["linear"], *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message)
    assert len(result.stderr.strip().splitlines()) == 1
    assert invoke("compare").exit_code == 2


def test_leaderboard_does_not_import_tensorflow(runs):
    assert_cli_without_tensorflow("compare", runs["linear"])
