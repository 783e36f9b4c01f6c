import pytest

from tsforecast.errors import ConfigError
from tsforecast.gates import (
    Gates,
    MetricPath,
    check_gates,
    parse_gates,
    parse_metric,
    parse_threshold,
)

METRICS = {
    "val": {"model": {"mse": 2.0, "mase": 0.9}, "naive": {"mse": 3.0}, "skill_mse": 1 / 3},
    "test": {
        "model": {"mse": 4.0, "mase": 1.2, "mape": None},
        "naive": {"mse": 3.0, "mase": 1.0},
        "skill_mse": -1 / 3,
    },
}


def test_metric_paths_read_model_naive_and_skill_figures():
    assert parse_metric("test.mse") == MetricPath("test", "model", "mse")
    assert parse_metric("test.mse").value(METRICS) == 4.0
    assert parse_metric("test.naive.mase").value(METRICS) == 1.0
    skill = parse_metric("val.skill_mse")
    assert skill.value(METRICS) == pytest.approx(1 / 3)
    assert skill.higher_is_better and not parse_metric("val.mse").higher_is_better
    assert parse_metric("test.mape").value(METRICS) is None
    assert parse_metric("test.naive.mse").text == "test.naive.mse"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("mse", "must name a metric as PART.METRIC"),
        ("train.mse", "must name a metric as PART.METRIC"),
        ("test.model.mse", "must name a metric as PART.METRIC"),
        ("test.msee", "unknown metric 'msee' in 'test.msee'. Did you mean 'mse'?"),
    ],
)
def test_bad_metric_paths_are_config_errors(text, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("?", r"\?")):
        parse_metric(text, "--sort-by")


def test_thresholds_and_the_naive_gate():
    assert check_gates(METRICS, Gates()) == []
    assert check_gates(METRICS, parse_gates("naive")) == [
        "test.mse 4 is worse than the naive baseline's 3"
    ]
    limits = (parse_threshold("test.mase=1.5"), parse_threshold("val.mse=1"))
    assert check_gates(METRICS, Gates(limits)) == ["val.mse 2 > 1"]
    assert check_gates(METRICS, parse_gates(None, ("test.mape=10",))) == [
        "test.mape is not available"
    ]
    better = {**METRICS, "test": {**METRICS["test"], "model": {"mse": 3.0}}}
    assert check_gates(better, Gates(worse_than="naive")) == []  # equal is not worse


@pytest.mark.parametrize("text", ["test.mase", "test.mase=abc", "test.mase=nan", "=1"])
def test_bad_thresholds(text):
    with pytest.raises(ConfigError):
        parse_threshold(text)
    with pytest.raises(ConfigError, match="higher is better"):
        parse_threshold("test.skill_mse=0.1")
