"""Built-in synthetic data: the sum-of-two-sines series of Hands-On Machine Learning.

Aurélien Géron, *Hands-On Machine Learning with Scikit-Learn, Keras and TensorFlow*,
2nd edition, chapter 15, ``generate_time_series``: reproduced draw for draw so that the
book's validation figures can be compared with ours. Only the numbers are made here;
:mod:`tsforecast.data.loading` stacks them into a table like any other data.
"""

from __future__ import annotations

import numpy as np


def sine_series(n_series: int, n_steps: int, seed: int = 42) -> np.ndarray:
    """``(n_series, n_steps)`` float32 series, each two sines plus uniform noise.

    ``np.random.RandomState(seed)`` draws the same numbers as the book's
    ``np.random.seed(seed)`` followed by ``np.random.rand``, without touching NumPy's
    global state.
    """
    rng = np.random.RandomState(seed)
    freq1, freq2, offsets1, offsets2 = rng.rand(4, n_series, 1)
    time = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))  # wave 1
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))  # + wave 2
    series += 0.1 * (rng.rand(n_series, n_steps) - 0.5)  # + noise
    return series.astype(np.float32)
