from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import base_config

from tsforecast.config import SplitConfig, WindowConfig, config_from_dict
from tsforecast.data import windowing
from tsforecast.data.dataset import prepare_data
from tsforecast.data.loading import SeriesTable
from tsforecast.data.windowing import (
    BlockedSeries,
    EpochOrder,
    block_rows,
    gather_targets,
    last_window_starts,
    split_bounds,
    window_dataset,
    window_starts,
)
from tsforecast.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def table_of(lengths, n_columns=2):
    """Stacked series whose value in column 0 is 1000 * series + row-within-series."""
    values = np.concatenate(
        [
            np.stack([1000 * i + np.arange(n), -(1000 * i + np.arange(n))], axis=1)[:, :n_columns]
            for i, n in enumerate(lengths)
        ]
    ).astype("float64")
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    ids = tuple(f"s{i}" for i in range(len(lengths)))
    return SeriesTable(values, ("y", "x")[:n_columns], 1, offsets, ids, None)


def test_split_bounds_per_series():
    table = table_of([100, 50])
    bounds = split_bounds(table, SplitConfig(val=0.2, test=0.1), WindowConfig(10, 5))
    # series 0: 70 train, 20 val, 10 test; series 1: 35 / 10 / 5 (+ offset 100)
    np.testing.assert_array_equal(bounds.train_end, [70, 135])
    np.testing.assert_array_equal(bounds.val_end, [90, 145])


def test_window_starts_match_hand_computed_ranges():
    table = table_of([40])
    window = WindowConfig(input_width=5, horizon=3)
    bounds = split_bounds(table, SplitConfig(val=10, test=10), window)
    assert (bounds.train_end[0], bounds.val_end[0]) == (20, 30)
    train = window_starts(table, bounds, window, "train")
    val = window_starts(table, bounds, window, "val")
    test = window_starts(table, bounds, window, "test")
    np.testing.assert_array_equal(train, np.arange(0, 13))  # last targets rows 17..19
    np.testing.assert_array_equal(val, np.arange(15, 23))  # targets 20..22 up to 27..29
    np.testing.assert_array_equal(test, np.arange(25, 33))  # targets 30..32 up to 37..39
    # Targets stay inside their split; inputs may reach back into the previous one.
    assert (val + 5 >= 20).all() and (val + 5 + 3 <= 30).all()
    assert (test + 5 >= 30).all() and (test + 5 + 3 <= 40).all()


def test_windows_never_cross_series():
    table = table_of([30, 30, 30])
    window = WindowConfig(input_width=4, horizon=2)
    bounds = split_bounds(table, SplitConfig(val=0.2, test=0.2), window)
    for part in ("train", "val", "test"):
        starts = window_starts(table, bounds, window, part)
        series_of_first = np.searchsorted(table.offsets, starts, side="right")
        series_of_last = np.searchsorted(table.offsets, starts + 5, side="right")
        np.testing.assert_array_equal(series_of_first, series_of_last)


def test_dataset_yields_hand_built_windows():
    table = table_of([20, 20])
    window = WindowConfig(input_width=3, horizon=2)
    starts = np.array([0, 7, 21])
    batches = list(window_dataset(table.values.astype("float32"), starts, window, 1, 2))
    inputs = np.concatenate([b[0].numpy() for b in batches])
    targets = np.concatenate([b[1].numpy() for b in batches])
    np.testing.assert_array_equal(inputs[1, :, 0], [7, 8, 9])
    np.testing.assert_array_equal(inputs[1, :, 1], [-7, -8, -9])
    np.testing.assert_array_equal(targets[1, :, 0], [10, 11])
    np.testing.assert_array_equal(inputs[2, :, 0], [1001, 1002, 1003])
    np.testing.assert_array_equal(targets[2, :, 0], [1004, 1005])
    assert inputs.shape == (3, 3, 2) and targets.shape == (3, 2, 1)
    np.testing.assert_array_equal(
        gather_targets(table.values, starts, window, 1)[:, :, 0], targets[:, :, 0]
    )


def test_shuffled_dataset_holds_the_same_windows():
    table = table_of([50])
    window = WindowConfig(input_width=4, horizon=1)
    starts = np.arange(40)
    order = EpochOrder(starts, shuffle=True, seed=1)
    dataset = window_dataset(table.values.astype("float32"), starts, window, 1, 8, order=order)
    firsts = np.concatenate([b[0].numpy()[:, 0, 0] for b in dataset])
    assert sorted(firsts) == list(range(40)) and list(firsts) != list(range(40))


def test_training_dataset_reads_each_epoch_in_its_own_order():
    """Each pass reads the order of the epoch set before it, which depends on (seed, epoch)
    alone: a run resumed at epoch 2 reads exactly what an uninterrupted run reads."""
    table = table_of([60])
    window = WindowConfig(input_width=4, horizon=1)
    starts = np.arange(3, 53)  # 50 windows: batches of 16, 16, 16 and 2

    def passes(epochs):
        order = EpochOrder(starts, shuffle=True, seed=7)
        dataset = window_dataset(table.values.astype("float32"), starts, window, 1, 16, order=order)
        seen = {}
        for epoch in epochs:
            order.set_epoch(epoch)
            batches = [b[0].numpy()[:, 0, 0] for b in dataset]
            assert [len(b) for b in batches] == [16, 16, 16, 2]
            seen[epoch] = np.concatenate(batches)
        return seen

    first, resumed = passes([0, 1, 2]), passes([2])
    for firsts in first.values():
        assert sorted(firsts) == list(range(3, 53))
    assert list(first[0]) != list(first[1]) != list(first[2])
    np.testing.assert_array_equal(first[2], resumed[2])
    unshuffled = EpochOrder(starts, shuffle=False, seed=7)
    unshuffled.set_epoch(5)
    np.testing.assert_array_equal(unshuffled.variable.numpy(), starts)


@pytest.mark.parametrize("block", [2, 4, 8])
def test_blocked_series_reads_the_rows_of_every_window(block):
    import tensorflow as tf

    n_rows = 103  # a multiple of no block: the shifted copies end in padding
    values = np.random.default_rng(block).normal(size=(n_rows, 3)).astype("float32")
    blocked = BlockedSeries(values, block)
    for offset, length in ((0, 2 * block), (block, 3 * block), (4 * block, block)):
        last = n_rows - offset - length  # reads the series' last row
        starts = np.array([0, 1, block - 1, block, block + 1, 57, last - 1, last])
        first = blocked.first_blocks(tf.constant(starts, tf.int32))
        got = blocked.gather(first, offset, length).numpy()
        np.testing.assert_array_equal(got, values[starts[:, None] + offset + np.arange(length)])


def test_block_rows_divide_the_input_width_and_keep_to_the_memory_budget(monkeypatch):
    values = np.zeros((1000, 2), np.float32)  # 8,000 bytes
    assert [block_rows(values, w) for w in (512, 12, 6, 7)] == [8, 4, 2, 1]
    monkeypatch.setattr(windowing, "BLOCKED_BYTES", 4 * 8000)
    assert block_rows(values, 512) == 4
    monkeypatch.setattr(windowing, "BLOCKED_BYTES", 8000)
    assert block_rows(values, 512) == 1


@pytest.mark.parametrize(
    "width, horizon, n_targets, steps",
    [(8, 4, 2, None), (8, 4, 1, None), (8, 3, 2, None), (6, 2, 2, (1, 3, 5)), (5, 2, 2, None)],
)
def test_blocked_and_row_by_row_datasets_yield_the_same_batches(
    monkeypatch, width, horizon, n_targets, steps
):
    table = table_of([70, 45])
    values = table.values.astype("float32")
    window = WindowConfig(input_width=width, horizon=horizon)
    starts = np.concatenate([np.arange(0, 70 - width - horizon + 1), [70, 114 - width - horizon]])

    def batches(with_targets):
        order = EpochOrder(starts, shuffle=True, seed=3)
        order.set_epoch(1)
        dataset = window_dataset(
            values, starts, window, n_targets, 16,
            with_targets=with_targets, target_steps=steps, order=order,
        )  # fmt: skip
        return [[t.numpy() for t in (b if with_targets else (b,))] for b in dataset]

    blocked = batches(True), batches(False)
    monkeypatch.setattr(windowing, "BLOCK_ROWS", ())
    for got, want in zip(blocked, (batches(True), batches(False)), strict=True):
        assert len(got) == len(want) == -(-len(starts) // 16)
        for got_batch, want_batch in zip(got, want, strict=True):
            for a, b in zip(got_batch, want_batch, strict=True):
                np.testing.assert_array_equal(a, b)


def test_split_too_short_for_window_is_a_clear_error():
    table = table_of([30])
    with pytest.raises(DataError, match="train split .* shorter than window.input_width"):
        split_bounds(table, SplitConfig(0.2, 0.2), WindowConfig(20, 5))
    with pytest.raises(DataError, match="test split \\(3 rows\\) is shorter than window.horizon"):
        split_bounds(table, SplitConfig(0.2, 0.1), WindowConfig(2, 4))


def test_last_window_starts():
    table = table_of([10, 8])
    np.testing.assert_array_equal(last_window_starts(table, 5), [5, 13])
    with pytest.raises(DataError, match="Series 's1' has 8 rows"):
        last_window_starts(table, 9)


def test_scaler_is_fitted_on_train_rows_only(workdir):
    import pandas as pd

    config = config_from_dict(base_config(str(workdir / "series.csv")))
    before = prepare_data(config)
    frame = pd.read_csv(workdir / "series.csv")
    n_test = round(0.2 * len(frame))
    n_val = n_test
    changed = frame.copy()
    changed.loc[len(frame) - n_test - n_val :, ["y", "x"]] *= 50.0  # val + test rows
    changed.to_csv(workdir / "series.csv", index=False)
    after = prepare_data(config)
    np.testing.assert_array_equal(before.scaler.offset_, after.scaler.offset_)
    np.testing.assert_array_equal(before.scaler.scale_, after.scaler.scale_)
    np.testing.assert_array_equal(before.mase_scale, after.mase_scale)
    train_rows = before.bounds.train_mask(len(frame), before.table.offsets)
    np.testing.assert_allclose(
        before.scaler.offset_, frame.loc[train_rows, ["y", "x"]].mean().to_numpy()
    )


def test_sequence_targets_follow_every_chosen_input_step():
    table = table_of([30])
    values = table.values.astype("float32")
    window = WindowConfig(input_width=4, horizon=2)
    starts = np.array([0, 5])
    _, targets = next(iter(window_dataset(values, starts, window, 1, 8, target_steps=(0, 1, 2, 3))))
    assert targets.shape == (2, 4, 2, 1)
    # The window starting at row 5: step t's targets are rows 5 + t + 1 and 5 + t + 2.
    np.testing.assert_array_equal(targets[1, :, :, 0], [[6, 7], [7, 8], [8, 9], [9, 10]])
    # The last step's targets are the window's own.
    _, vector = next(iter(window_dataset(values, starts, window, 1, 8)))
    np.testing.assert_array_equal(targets[:, -1], vector)
    # Strided models emit forecasts at some steps only.
    _, strided = next(iter(window_dataset(values, starts, window, 1, 8, target_steps=(1, 3))))
    np.testing.assert_array_equal(strided[1, :, :, 0], [[7, 8], [9, 10]])


def test_split_by_series_needs_a_series_per_split_and_whole_windows():
    with pytest.raises(DataError, match="leaves 0 for test"):
        split_bounds(table_of([30, 30]), SplitConfig(1, 0.1, by="series"), WindowConfig(5, 2))
    with pytest.raises(DataError, match="Series 's1' has 6 rows, fewer than"):
        split_bounds(table_of([30, 6, 30]), SplitConfig(1, 1, by="series"), WindowConfig(5, 2))


@pytest.mark.parametrize("horizon", [96, 720])
def test_ett_protocol_windows(horizon):
    """Train rows [0, 8640), val [8640 - L, 11520), test [11520 - L, 14400)."""
    width = 336
    raw = {
        "data": {
            "path": str(ROOT / "data" / "ett" / "ETTh1.csv"),
            "time_column": "date",
            "target_columns": ["HUFL", "HULL", "MUFL", "MULL", "LUFL", "LULL", "OT"],
            "rows": 14400,
            "split": {"val": 2880, "test": 2880},
        },
        "window": {"input_width": width, "horizon": horizon},
        "model": {"type": "naive"},
    }
    prepared = prepare_data(config_from_dict(raw))
    starts = prepared.starts
    np.testing.assert_array_equal(starts["train"], np.arange(0, 8640 - width - horizon + 1))
    np.testing.assert_array_equal(
        starts["val"], np.arange(8640 - width, 11520 - width - horizon + 1)
    )
    np.testing.assert_array_equal(
        starts["test"], np.arange(11520 - width, 14400 - width - horizon + 1)
    )
    assert len(starts["test"]) == 2880 - horizon + 1
    assert len(prepared.table.values) == 14400
    frame = pd.read_csv(ROOT / "data" / "ett" / "ETTh1.csv", nrows=8640)
    np.testing.assert_allclose(prepared.scaler.offset_, frame.iloc[:, 1:].mean().to_numpy())


def test_rows_beyond_the_file_is_a_data_error(workdir):
    raw = base_config(str(workdir / "series.csv"))
    raw["data"]["rows"] = 1000
    with pytest.raises(DataError, match="data.rows is 1000, but .* has only 240 data rows"):
        prepare_data(config_from_dict(raw))
