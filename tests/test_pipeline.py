import numpy as np
import pytest
from test_windows import table_of

from tsforecast.data import windows
from tsforecast.data.pipeline import EpochOrder, Split, padded_size, window_dataset


def test_dataset_yields_hand_built_windows():
    table = table_of([20, 20])
    starts = np.array([0, 7, 21])
    values = table.values.astype("float32")
    batches = list(window_dataset(values, starts, 3, 2, horizon=2, n_targets=1))
    inputs = np.concatenate([np.asarray(b[0]) for b in batches])
    targets = np.concatenate([np.asarray(b[1]) for b in batches])
    np.testing.assert_array_equal(inputs[1, :, 0], [7, 8, 9])
    np.testing.assert_array_equal(inputs[1, :, 1], [-7, -8, -9])
    np.testing.assert_array_equal(targets[1, :, 0], [10, 11])
    np.testing.assert_array_equal(inputs[2, :, 0], [1001, 1002, 1003])
    np.testing.assert_array_equal(targets[2, :, 0], [1004, 1005])
    assert inputs.shape == (3, 3, 2) and targets.shape == (3, 2, 1)
    np.testing.assert_array_equal(
        windows.targets(table.values, starts, 3, 2, 1)[:, :, 0], targets[:, :, 0]
    )


def test_shuffled_dataset_holds_the_same_windows():
    table = table_of([50])
    starts = np.arange(40)
    order = EpochOrder(starts, shuffle=True, seed=1)
    values = table.values.astype("float32")
    dataset = window_dataset(values, starts, 4, 8, horizon=1, n_targets=1, order=order)
    firsts = np.concatenate([np.asarray(b[0])[:, 0, 0] for b in dataset])
    assert sorted(firsts) == list(range(40)) and list(firsts) != list(range(40))


def test_training_dataset_reads_each_epoch_in_its_own_order():
    """Each pass reads the order of the epoch set before it, which depends on (seed, epoch)
    alone: a run resumed at epoch 2 reads exactly what an uninterrupted run reads."""
    table = table_of([60])
    starts = np.arange(3, 53)  # 50 windows: batches of 16, 16, 16 and 2

    def passes(epochs):
        order = EpochOrder(starts, shuffle=True, seed=7)
        values = table.values.astype("float32")
        dataset = window_dataset(values, starts, 4, 16, horizon=1, n_targets=1, order=order)
        seen = {}
        for epoch in epochs:
            order.set_epoch(epoch)
            batches = [np.asarray(b[0])[:, 0, 0] for b in dataset]
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
    np.testing.assert_array_equal(unshuffled.current, starts)


def test_sequence_targets_follow_every_chosen_input_step():
    table = table_of([30])
    values = table.values.astype("float32")
    starts = np.array([0, 5])

    def first_batch(steps=None):
        return next(
            iter(window_dataset(values, starts, 4, 8, horizon=2, n_targets=1, target_steps=steps))
        )

    _, targets = first_batch((0, 1, 2, 3))
    assert targets.shape == (2, 4, 2, 1)
    # The window starting at row 5: step t's targets are rows 5 + t + 1 and 5 + t + 2.
    np.testing.assert_array_equal(targets[1, :, :, 0], [[6, 7], [7, 8], [8, 9], [9, 10]])
    # The last step's targets are the window's own.
    _, vector = first_batch()
    np.testing.assert_array_equal(targets[:, -1], vector)
    # Strided models emit forecasts at some steps only.
    _, strided = first_batch((1, 3))
    np.testing.assert_array_equal(strided[1, :, :, 0], [[7, 8], [9, 10]])


@pytest.mark.parametrize("n_targets, steps", [(2, None), (1, None), (2, (1, 3, 5))])
def test_pipeline_gathers_the_rows_of_the_window_rule(n_targets, steps):
    """The batches hold exactly the rows that windows.py names, inputs alone too."""
    values = np.random.default_rng(0).normal(size=(115, 2)).astype("float32")
    starts = np.array([0, 1, 17, 60, 70, 107])
    width, horizon = 6, 2
    dataset = window_dataset(
        values, starts, width, 4, horizon=horizon, n_targets=n_targets, target_steps=steps
    )
    inputs = np.concatenate([np.asarray(b[0]) for b in dataset])
    targets = np.concatenate([np.asarray(b[1]) for b in dataset])
    np.testing.assert_array_equal(inputs, windows.inputs(values, starts, width))
    rows = starts.reshape(-1, *[1] * (1 if steps is None else 2))
    rows = rows + windows.target_offsets(width, horizon, steps)
    np.testing.assert_array_equal(targets, values[rows, :n_targets])
    if steps is None:
        np.testing.assert_array_equal(
            targets, windows.targets(values, starts, width, horizon, n_targets)
        )
    alone = np.concatenate(list(window_dataset(values, starts, width, 4)))
    np.testing.assert_array_equal(alone, inputs)


def test_forecast_batches_are_padded_to_a_power_of_two_and_trimmed_by_the_reader():
    values = np.arange(200, dtype="float32").reshape(100, 2)
    starts = np.arange(0, 90, 3)  # 30 windows: 16, then 14 padded to 16
    batches = list(window_dataset(values, starts, 4, 16, horizon=2, with_targets=False, pad=True))
    assert [len(b) for b in batches] == [16, 16]
    np.testing.assert_array_equal(batches[1][14:], [batches[1][13]] * 2)
    assert [padded_size(n, 1024) for n in (1, 2, 3, 17, 1000, 5000)] == [1, 2, 4, 32, 1024, 1024]


def test_data_parallel_batches_split_across_processes_and_replicas():
    """Each process reads its contiguous share of every batch; a short last batch is cut to
    a multiple of the replicas, and dropped when shorter than them."""
    values = np.arange(100, dtype="float32").reshape(100, 1)
    starts = np.arange(0, 38)  # batches of 16: 16, 16, 6 -> 6 cut to 4 for 4 replicas
    shares = [
        list(window_dataset(values, starts, 2, 16, horizon=1, n_targets=1, split=Split(4, p, 2)))
        for p in range(2)
    ]
    firsts = [[b[0][:, 0, 0].tolist() for b in share] for share in shares]
    assert firsts[0] == [list(range(0, 8)), list(range(16, 24)), [32, 33]]
    assert firsts[1] == [list(range(8, 16)), list(range(24, 32)), [34, 35]]
    dropped = window_dataset(values, np.arange(34), 2, 16, horizon=1, n_targets=1, split=Split(4))
    assert len(dropped) == 2  # a last batch of 2 windows cannot split across 4 replicas
