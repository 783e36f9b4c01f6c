from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import base_config, write_config

from tsforecast.cli import main
from tsforecast.config import config_from_dict, load_config
from tsforecast.errors import ConfigError
from tsforecast.search_space import load_search, parse_search

SPACE = {
    "model.units": {"choices": [[8], [16, 8]]},
    "training.optimizer.learning_rate": {"min": 0.0001, "max": 0.01, "sampling": "log"},
    "window.input_width": {"min": 8, "max": 16, "step": 4},
}


def base():
    raw = base_config("/tmp/data.csv")
    raw["model"] = {"type": "mlp", "units": [8]}
    return config_from_dict(raw)


def test_search_space_is_parsed_into_typed_params():
    search = parse_search({"algorithm": "bayesian", "max_trials": 4, "space": SPACE}, base())
    assert search.settings.algorithm == "bayesian" and search.settings.max_trials == 4
    units, rate, width = search.params
    assert units.choices == ((8,), (16, 8)) and units.encoded_choices == ["[8]", "[16, 8]"]
    assert units.decode("[16, 8]") == [16, 8]
    assert (rate.low, rate.high, rate.sampling, rate.integer) == (0.0001, 0.01, "log", False)
    assert (width.low, width.high, width.step, width.integer) == (8, 16, 4, True)
    config = search.trial_config({"model.units": [16, 8], "window.input_width": 8})
    assert config.model.params.units == (16, 8) and config.window.input_width == 8
    assert config.data == base().data


def test_nested_space_means_the_same_as_dotted_keys():
    nested = {
        "model": {"units": SPACE["model.units"]},
        "window": {"input_width": {"min": 8, "max": 16}},
    }
    params = parse_search({"space": nested}, base()).params
    assert [p.path for p in params] == ["model.units", "window.input_width"]


BAD_SPACES = [
    ("model.unit", {"choices": [[8]]}, "'model.unit' is not a config key that can be searched."),
    ("model.unit", {"choices": [[8]]}, "Did you mean 'model.units'?"),
    ("model.units", {"choices": []}, "model.units.choices must be a non-empty list; got an empty"),
    (
        "window.input_width",
        {"min": 20, "max": 10},
        "input_width: min (20) must not exceed max (10).",
    ),
    ("window.input_width", {"min": 8}, "needs choices, or both min and max"),
    ("window.input_width", {"min": 8.5, "max": 10}, "min must be an integer"),
    ("window.input_width", {"choice": [8]}, "input_width.choice'. Did you mean 'choices'?"),
    ("window.input_width", [8, 12], "must be a mapping with choices, or with min and max"),
    (
        "training.optimizer.learning_rate",
        {"min": 0, "max": 0.1, "sampling": "log"},
        "log sampling needs min > 0",
    ),
    ("model.activation", {"min": 1, "max": 2}, "a min/max range needs a numeric key"),
    ("model.units", {"choices": [[0]]}, "the choice [0] gives an invalid config: model.units must"),
    (
        "model.dropout",
        {"min": 0.0, "max": 1.5},
        "the bound 1.5 gives an invalid config: model.drop",
    ),
    ("data.scaler", {"choices": ["minmax"]}, "data.scaler cannot be searched: trials are compared"),
    ("window.horizon", {"choices": [4, 8]}, "window.horizon cannot be searched"),
    ("model.type", {"choices": ["lstm"]}, "model.type cannot be searched"),
    ("training.loss", {"choices": ["mae"]}, "training.loss cannot be searched"),
    ("training.optimizer", {"choices": [{}]}, "training.optimizer is a section; search its keys"),
]


@pytest.mark.parametrize(("key", "spec", "message"), BAD_SPACES)
def test_bad_search_spaces_name_the_key(key, spec, message):
    with pytest.raises(ConfigError) as info:
        parse_search({"space": {key: spec}}, base())
    assert message in str(info.value)
    with pytest.raises(ConfigError, match="search.space must map config keys to the values"):
        parse_search({"space": {}}, base())


def test_bad_search_settings():
    with pytest.raises(
        ConfigError, match="Unknown key 'search.algoritm'. Did you mean 'algorithm'"
    ):
        parse_search({"algoritm": "random", "space": SPACE}, base())
    with pytest.raises(ConfigError, match="search.algorithm must be one of random, bayesian"):
        parse_search({"algorithm": "grid", "space": SPACE}, base())
    with pytest.raises(ConfigError, match="search.max_trials must be a positive number"):
        parse_search({"max_trials": 0, "space": SPACE}, base())


def test_train_and_validate_accept_and_ignore_a_search_section(tmp_path: Path):
    raw = base_config("data.csv")
    raw["model"] = {"type": "mlp", "units": [8]}
    plain = write_config(tmp_path, raw, "plain.yaml")
    raw["search"] = {"space": SPACE}
    with_search = write_config(tmp_path, raw, "search.yaml")
    assert load_config(with_search) == load_config(plain)
    config, search = load_search(with_search, ["search.space.model.units.choices=[[4]]"])
    assert config == load_config(plain) and search is not None
    assert search.params[0].choices == ((4,),)
    assert load_search(plain)[1] is None
    # A search round-trips through its saved form.
    saved = tmp_path / "saved.yaml"
    saved.write_text(yaml.safe_dump(search.to_dict(), sort_keys=False))
    again = load_search(saved)[1]
    assert again.params == search.params and again.settings == search.settings


def test_bundled_search_configs_are_valid():
    root = Path(__file__).resolve().parents[1]
    searched = [path for path in sorted((root / "configs").glob("*.yaml")) if load_search(path)[1]]
    assert searched, "no bundled config has a search section"


def test_validate_checks_the_search_section(tmp_path: Path):
    raw = base_config("data.csv")
    raw["model"] = {"type": "mlp"}
    raw["search"] = {"algorithm": "bayesian", "space": SPACE}
    path = write_config(tmp_path, raw)
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.endswith(
        "Search: bayesian over model.units, training.optimizer.learning_rate, window.input_width.\n"
    )
    bad = CliRunner().invoke(main, ["validate", str(path), "--set", "search.max_trials=-1"])
    assert bad.exit_code == 2
    assert bad.stderr == "Error: search.max_trials must be a positive number; got -1.\n"
