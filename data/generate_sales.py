"""Generate data/sales.csv: a small synthetic panel of daily sales for 12 stores.

Each store's sales are a level plus a slow trend, a weekly pattern, a price effect, a
promotion lift and noise. ``price`` and ``promo`` are planned ahead, so they are known
for the days being forecast; ``region`` is constant within each store. Run
``python data/generate_sales.py`` to rebuild the file exactly (fixed seed).
"""

from pathlib import Path

import numpy as np
import pandas as pd


def generate(n_stores: int = 12, n_days: int = 500, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2023-01-01", periods=n_days, freq="D")
    t = np.arange(n_days)
    frames = []
    for store in range(n_stores):
        level = rng.uniform(50, 150)
        trend = rng.uniform(-0.02, 0.08)
        weekly = rng.uniform(5, 20) * np.sin(2 * np.pi * (t + rng.integers(7)) / 7)
        price = np.round(10 + np.cumsum(rng.normal(0, 0.05, n_days)), 2)
        # promotions run for 3 to 7 days, a few times a quarter, and lift sales by a
        # quarter of the store's level
        promo = np.zeros(n_days)
        for start in np.flatnonzero(rng.uniform(size=n_days) < 0.03):
            promo[start : start + rng.integers(3, 8)] = 1.0
        noise = rng.normal(0, 4, n_days)
        sales = level + trend * t + weekly - 3.0 * (price - 10) + 0.25 * level * promo + noise
        frames.append(
            pd.DataFrame(
                {
                    "store": f"store_{store:02d}",
                    "date": days.strftime("%Y-%m-%d"),
                    "region": ("north", "south", "east")[store % 3],
                    "price": price,
                    "promo": promo.astype(int),
                    "sales": np.round(sales, 2),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


if __name__ == "__main__":
    generate().to_csv(Path(__file__).with_name("sales.csv"), index=False)
