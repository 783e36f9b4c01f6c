"""Naming metrics by dotted path (``test.mase``) and quality gates on them.

A path is ``PART.METRIC`` for the model's figure, ``PART.BASELINE.METRIC`` for a
baseline's (``naive``, ``seasonal_naive``, and the classical ``ets``, ``theta``, ``arima``
where a run has them), or ``PART.skill_mse``; PART is ``val`` or ``test``. The same paths sort the
``compare`` leaderboard and set ``--max-metric`` thresholds. No TensorFlow here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tsforecast.config.sections import CLASSICAL_BASELINES
from tsforecast.errors import ConfigError
from tsforecast.evaluation import POINT_METRICS
from tsforecast.schema import suggest

PARTS = ("val", "test")
#: The baselines a metric path or a gate may name.
BASELINES = ("naive", "seasonal_naive", *CLASSICAL_BASELINES)
#: Part-level figures that are not per-forecaster; higher is better for all of them.
SKILL_METRICS = ("skill_mse",)


@dataclass(frozen=True)
class MetricPath:
    """A metric of metrics.json (or backtest.json's aggregate) named by dotted path."""

    part: str
    who: str  # "model", a baseline, or "" for part-level figures such as skill_mse
    name: str

    @property
    def text(self) -> str:
        middle = [self.who] if self.who in BASELINES else []
        return ".".join([self.part, *middle, self.name])

    @property
    def higher_is_better(self) -> bool:
        return self.name in SKILL_METRICS

    def value(self, metrics: dict[str, Any]) -> float | None:
        """The metric's value, or None when the run does not have it."""
        section = metrics.get(self.part, {})
        if self.who:
            section = section.get(self.who, {})
        value = section.get(self.name)
        return float(value) if isinstance(value, int | float) else None


def parse_metric(text: str, where: str = "metric") -> MetricPath:
    """Parse ``test.mse``, ``test.naive.mse``, ``test.seasonal_naive.mae`` or
    ``val.skill_mse``.

    Raises:
        ConfigError: naming ``where`` (e.g. ``--sort-by``) and the valid names.
    """
    parts = text.strip().split(".")
    valid = ", ".join([*POINT_METRICS, *SKILL_METRICS])
    shape_ok = len(parts) == 2 or (len(parts) == 3 and parts[1] in BASELINES)
    if not shape_ok or parts[0] not in PARTS:
        raise ConfigError(
            f"{where} must name a metric as PART.METRIC or PART.BASELINE.METRIC, with PART "
            f"val or test and BASELINE one of {', '.join(BASELINES)}; got '{text}'."
        )
    name = parts[-1]
    if len(parts) == 2 and name in SKILL_METRICS:
        return MetricPath(parts[0], "", name)
    if name not in POINT_METRICS:
        raise ConfigError(
            f"{where}: unknown metric '{name}' in '{text}'.{suggest(name, list(POINT_METRICS))}"
            f" Metrics: {valid}."
        )
    return MetricPath(parts[0], parts[1] if len(parts) == 3 else "model", name)


@dataclass(frozen=True)
class Threshold:
    """``--max-metric PATH=LIMIT``: the metric must not exceed the limit."""

    metric: MetricPath
    limit: float


def parse_threshold(text: str) -> Threshold:
    """Parse ``test.mase=1.0``."""
    path, sep, limit = text.partition("=")
    try:
        value = float(limit)
    except ValueError:
        value = math.nan
    if not sep or not math.isfinite(value):
        raise ConfigError(
            f"--max-metric expects PART.METRIC=NUMBER such as test.mase=1.0; got '{text}'."
        )
    metric = parse_metric(path, "--max-metric")
    if metric.higher_is_better:
        raise ConfigError(f"--max-metric cannot cap {metric.text}, where higher is better.")
    return Threshold(metric, value)


@dataclass(frozen=True)
class Gates:
    """The quality gates of a command.

    Attributes:
        thresholds: Upper limits on metrics (``--max-metric``).
        worse_than: Fail when the model's test MSE exceeds this baseline's
            (``--fail-if-worse-than naive``, ``seasonal_naive``, ``ets``, ...), or None.
    """

    thresholds: tuple[Threshold, ...] = ()
    worse_than: str | None = None


NO_GATES = Gates()


def parse_gates(worse_than: str | None, max_metrics: tuple[str, ...] = ()) -> Gates:
    """The gates of ``--fail-if-worse-than`` and ``--max-metric`` options."""
    if worse_than is not None and worse_than not in BASELINES:
        raise ConfigError(
            f"--fail-if-worse-than accepts {', '.join(BASELINES)}; got '{worse_than}'."
            f"{suggest(worse_than, list(BASELINES))}"
        )
    return Gates(tuple(parse_threshold(text) for text in max_metrics), worse_than)


def _baseline_name(name: str) -> str:
    return "the naive baseline's" if name == "naive" else f"the {name} baseline's"


def check_gates(metrics: dict[str, Any], gates: Gates) -> list[str]:
    """Every failed gate, described; empty when all pass.

    Args:
        metrics: metrics.json of a run, or the aggregate of a backtest.
        gates: The gates to check.
    """
    failures = []
    if gates.worse_than is not None:
        ours = MetricPath("test", "model", "mse").value(metrics)
        theirs = MetricPath("test", gates.worse_than, "mse").value(metrics)
        if ours is None or theirs is None:
            failures.append(
                f"test.mse of the model or of the {gates.worse_than} baseline is missing"
                + (
                    " (add it with evaluation.baselines)"
                    if gates.worse_than in CLASSICAL_BASELINES
                    else ""
                )
            )
        elif ours > theirs:
            failures.append(
                f"test.mse {ours:.6g} is worse than {_baseline_name(gates.worse_than)} {theirs:.6g}"
            )
    for threshold in gates.thresholds:
        value = threshold.metric.value(metrics)
        if value is None:
            failures.append(f"{threshold.metric.text} is not available")
        elif value > threshold.limit:
            failures.append(f"{threshold.metric.text} {value:.6g} > {threshold.limit:g}")
    return failures
