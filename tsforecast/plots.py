"""Figures of a run, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: The most series of a panel the forecast figure shows.
PLOT_SERIES = 6


def shown_series(scores: np.ndarray) -> list[tuple[int, str]]:
    """Up to :data:`PLOT_SERIES` series by score (MASE): the worst, the median and the best
    two of each when there are more, with what each is."""
    order = [int(i) for i in np.argsort(scores)[::-1] if np.isfinite(scores[i])]
    if len(order) <= PLOT_SERIES:
        return [(i, "") for i in order]
    middle = len(order) // 2
    return [
        *((i, "worst") for i in order[:2]),
        *((i, "median") for i in order[middle - 1 : middle + 1]),
        *((i, "best") for i in order[-2:]),
    ]


def _figure(**kwargs):
    """A figure rendered by Agg; no pyplot, so no global figure state and no display.
    Text is drawn as written: a ``$`` in a column or series name is not math."""
    import matplotlib
    from matplotlib.figure import Figure

    matplotlib.rcParams["text.parse_math"] = False
    return Figure(**kwargs)


def _save(fig, path: Path, *, tight: bool = True) -> None:
    if tight:
        fig.tight_layout()
    # light compression: the default level costs more time than the drawing
    fig.savefig(path, dpi=100, pil_kwargs={"compress_level": 3})


def learning_curve(history: pd.DataFrame, path: Path) -> None:
    """Training and validation loss per epoch."""
    fig = _figure(figsize=(7, 4))
    ax = fig.subplots()
    if history.empty:
        ax.text(0.5, 0.5, "no training: this model has no weights", ha="center", va="center")
        ax.set_axis_off()
    else:
        epochs = history["epoch"] + 1
        drawn = [column for column in ("loss", "val_loss") if column in history]
        for column in drawn:
            ax.plot(epochs, history[column], marker="o", markersize=3, label=column)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (scaled data)")
        # a log scale only where it helps: losses spanning a decade or more
        losses = history[drawn].to_numpy(dtype=float)
        losses = losses[np.isfinite(losses) & (losses > 0)]
        if losses.size and losses.max() >= 10 * losses.min():
            ax.set_yscale("log")
        ax.legend()
        ax.grid(alpha=0.3)
    ax.set_title("Learning curve")
    fig.subplots_adjust(left=0.12, right=0.97, top=0.91, bottom=0.13)
    _save(fig, path, tight=False)


@dataclass(frozen=True)
class Panel:
    """One target of one series in the forecast figure.

    Attributes:
        label: The panel's title, e.g. the target, or the series and its score.
        x: Positions (timestamps or step numbers) of ``actual``.
        actual: ``(n_steps,)`` observed values.
        steps: ``(n_origins, horizon)`` positions of the forecast steps.
        model: ``(n_origins, horizon)`` the model's forecasts.
        naive: ``(n_origins, horizon)`` the naive forecasts.
        bands: ``(lower, upper)``, each ``(n_origins, horizon)``, or None.
    """

    label: str
    x: np.ndarray
    actual: np.ndarray
    steps: np.ndarray
    model: np.ndarray
    naive: np.ndarray
    bands: tuple[np.ndarray, np.ndarray] | None = None


def forecast(
    panels: list[Panel],
    title: str,
    path: Path,
    *,
    band_label: str | None = None,
    share_x: bool = True,
) -> None:
    """Actual test values with forecasts from every origin drawn, one panel per target (or
    per series of a panel).

    Args:
        panels: What to draw, top to bottom.
        title: Figure title.
        path: Where to write the PNG.
        band_label: Legend text of the bands.
        share_x: Whether the panels share their x axis (the targets of one series do).
    """
    n = len(panels)
    height = 2.4 * n + 0.7
    fig = _figure(figsize=(10, height))
    axes = fig.subplots(n, 1, sharex=share_x, squeeze=False)[:, 0]
    for ax, panel in zip(axes, panels, strict=True):
        ax.plot(panel.x, panel.actual, color="black", linewidth=1, label="actual")
        if panel.bands is not None:
            for k, steps in enumerate(panel.steps):
                ax.fill_between(
                    steps,
                    panel.bands[0][k],
                    panel.bands[1][k],
                    color="tab:blue",
                    alpha=0.2,
                    linewidth=0,
                    label=band_label if k == 0 else None,
                )
        # every origin's forecasts as one line broken by NaN: one artist, not one per origin
        steps, model, naive = _broken_lines(panel.steps, panel.model, panel.naive)
        ax.plot(steps, model, color="tab:blue", label="forecast")
        ax.plot(steps, naive, color="tab:orange", linestyle="--", linewidth=0.8, label="naive")
        ax.set_title(panel.label, fontsize="small", loc="left")
        ax.grid(alpha=0.3)
        ax.locator_params(axis="y", nbins=4)
    axes[0].legend(loc="upper right", fontsize="small")
    fig.suptitle(title)
    # Fixed margins in inches: a layout engine costs more than the drawing for many panels.
    fig.subplots_adjust(
        left=0.08, right=0.98, top=1 - 0.8 / height, bottom=0.45 / height, hspace=0.45
    )
    _save(fig, path, tight=False)


def _broken_lines(positions: np.ndarray, *series: np.ndarray) -> tuple:
    """Join rows into one line per series, with a NaN after each row."""
    steps = np.concatenate([np.append(p, p[-1:]) for p in positions])
    joined = [np.concatenate([np.append(row, np.nan) for row in rows]) for rows in series]
    return (steps, *joined)


def error_by_fold(folds: pd.DataFrame, title: str, path: Path) -> None:
    """MAE and MSE of the model and the naive baseline in every backtest fold.

    Args:
        folds: One row per fold with ``fold``, ``model_mae``, ``naive_mae``, ``model_mse``
            and ``naive_mse`` columns.
        title: Figure title.
        path: Where to write the PNG.
    """
    fig = _figure(figsize=(10, 3.8))
    axes = fig.subplots(1, 2)
    for ax, metric in zip(axes, ("mae", "mse"), strict=True):
        ax.plot(folds["fold"], folds[f"model_{metric}"], marker="o", label="model")
        ax.plot(folds["fold"], folds[f"naive_{metric}"], marker="s", linestyle="--", label="naive")
        ax.set_xlabel("fold (later origins to the right)")
        ax.set_ylabel(metric.upper())
        ax.set_xticks(folds["fold"])
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    _save(fig, path)


def compare_forecasts(
    x: np.ndarray,
    actual: np.ndarray,
    steps: np.ndarray,
    forecasts: dict[str, np.ndarray],
    naive: np.ndarray,
    target_names: tuple[str, ...],
    title: str,
    path: Path,
) -> None:
    """Forecasts of several runs from the same origins, one panel per target.

    Args:
        x: Positions (timestamps or step numbers) of ``actual``.
        actual: ``(n_steps, n_targets)`` observed values.
        steps: ``(n_origins, horizon)`` positions of the forecast steps.
        forecasts: Run name -> ``(n_origins, horizon, n_targets)`` forecasts.
        naive: ``(n_origins, horizon, n_targets)`` naive forecasts.
        target_names: Panel titles.
        title: Figure title.
        path: Where to write the PNG.
    """
    from matplotlib import rcParams

    n = len(target_names)
    fig = _figure(figsize=(11, 2.8 * n + 0.8))
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)
    colors = rcParams["axes.prop_cycle"].by_key()["color"]
    for j, name in enumerate(target_names):
        ax = axes[j, 0]
        ax.plot(x, actual[:, j], color="black", linewidth=1, label="actual")
        for k in range(len(steps)):
            ax.plot(
                steps[k],
                naive[k, :, j],
                color="gray",
                linestyle="--",
                linewidth=0.8,
                label="naive" if k == 0 else None,
            )
            for i, (run, forecast) in enumerate(forecasts.items()):
                ax.plot(
                    steps[k],
                    forecast[k, :, j],
                    color=colors[i % len(colors)],
                    linewidth=1.2,
                    label=run if k == 0 else None,
                )
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper left", fontsize="small")
    fig.suptitle(title)
    _save(fig, path)


def trials(table: pd.DataFrame, objective: str, title: str, path: Path) -> None:
    """Each trial's objective in the order the trials ran, with the best so far.

    Args:
        table: One row per trial with a numeric ``trial`` id and the ``objective`` column
            (empty for failed trials).
        objective: The column to draw.
        title: Figure title.
        path: Where to write the PNG.
    """
    ordered = table.assign(order=table["trial"].astype(int)).sort_values("order")
    fig = _figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.plot(ordered["order"], ordered[objective], marker="o", linestyle="none", label="trial")
    ax.plot(
        ordered["order"], ordered[objective].cummin(), drawstyle="steps-post", label="best so far"
    )
    ax.set_xlabel("trial")
    ax.set_ylabel(f"{objective} (best epoch)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(title)
    _save(fig, path)
