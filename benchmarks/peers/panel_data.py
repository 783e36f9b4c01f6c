"""Deterministic synthetic panel for the `panel` benchmark task (numpy only).

Shared by every task script (tsf_task.py, darts_task.py, nf_task.py), so that every tool
trains and scores on exactly the same numbers.

Series i (0 <= i < n_series), step t (0 <= t < length):

    y[i, t] = level[i] + scale[i] * (sin(2*pi*t/24 + phase[i]) + noise_sd * eps[i, t])

    level ~ U(-10, 10), scale ~ U(0.5, 5), phase ~ U(0, 2*pi), eps ~ N(0, 1),
    drawn from one numpy.random.default_rng(seed) stream series by series (three uniforms,
    then `length` normals), so generate(k) equals generate(n)[:k] for k <= n: the quick
    panel (200 series) is the first 200 series of the full one.

Split by time, per series (length 200): train rows [0, 140), validation [140, 160),
test [160, 200) (last 20% test, 10% validation before it). Scaling: per series, mean and
population std (ddof=0, as sklearn's StandardScaler) of its train rows. Windows: lookback 48,
horizon 12; a window belongs to a split when all its forecast steps lie in that split's rows
(its lookback may reach back into earlier rows): 81 train, 9 validation, 29 test windows per
series. With noise_sd = 0.3 the irreducible scaled MSE is about 0.09 / (0.5 + 0.09) ~ 0.15.
"""

from __future__ import annotations

import numpy as np

LENGTH = 200
PERIOD = 24
NOISE_SD = 0.3
TEST_FRACTION = 0.2
VAL_FRACTION = 0.1
LOOKBACK = 48
HORIZON = 12


def generate(n_series: int = 10_000, length: int = LENGTH, seed: int = 0) -> np.ndarray:
    """The raw panel, shape (n_series, length), float64."""
    rng = np.random.default_rng(seed)
    u = np.empty((n_series, 3))
    eps = np.empty((n_series, length))
    for i in range(n_series):
        u[i] = rng.random(3)
        eps[i] = rng.standard_normal(length)
    level = -10.0 + 20.0 * u[:, :1]
    scale = 0.5 + 4.5 * u[:, 1:2]
    phase = 2.0 * np.pi * u[:, 2:3]
    t = np.arange(length, dtype=np.float64)[None, :]
    return level + scale * (np.sin(2.0 * np.pi * t / PERIOD + phase) + NOISE_SD * eps)


def split_sizes(length: int = LENGTH) -> tuple[int, int, int]:
    """(n_train, n_val, n_test) rows per series: 140, 20, 40 for length 200."""
    n_test = round(length * TEST_FRACTION)
    n_val = round(length * VAL_FRACTION)
    return length - n_val - n_test, n_val, n_test


def scale_per_series(panel: np.ndarray, n_train: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-series standard scaling fitted on the first n_train rows: (scaled, mean, std)."""
    mean = panel[:, :n_train].mean(axis=1, keepdims=True)
    std = panel[:, :n_train].std(axis=1, keepdims=True)  # ddof=0
    std = np.where(std > 0, std, 1.0)
    return (panel - mean) / std, mean, std


def window_starts(first_row: int, end_row: int, horizon: int = HORIZON) -> np.ndarray:
    """First forecast step of every window whose forecast lies in rows [first_row, end_row)."""
    return np.arange(first_row, end_row - horizon + 1)


def make(n_series: int = 10_000, seed: int = 0) -> dict:
    """Everything a side needs: raw and scaled panel, split sizes, test window starts."""
    raw = generate(n_series, LENGTH, seed)
    n_train, n_val, n_test = split_sizes(LENGTH)
    scaled, mean, std = scale_per_series(raw, n_train)
    return {
        "raw": raw,
        "scaled": scaled,
        "mean": mean,
        "std": std,
        "n_train": n_train,
        "n_val": n_val,
        "n_test": n_test,
        "lookback": LOOKBACK,
        "horizon": HORIZON,
        "test_starts": window_starts(n_train + n_val, LENGTH),
    }


if __name__ == "__main__":
    d = make(5)
    print(d["raw"].shape, d["n_train"], d["n_val"], d["n_test"], len(d["test_starts"]))
    print(np.round(d["raw"][:2, :6], 3))
