from pathlib import Path

import pytest
from conftest import base_config, write_config

from tsforecast.config import (
    Config,
    config_from_dict,
    dump_config,
    load_config,
)
from tsforecast.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def parse(**changes):
    raw = base_config("data.csv")
    for dotted, value in changes.items():
        node = raw
        *parents, last = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return config_from_dict(raw, base_dir=Path("/tmp"))


def test_defaults_are_filled_in():
    config = parse()
    assert isinstance(config, Config)
    assert config.data.scaler == "standard"
    assert config.training.optimizer.name == "adam"
    assert config.training.optimizer.learning_rate == 0.001
    assert config.training.early_stopping.patience == 2
    assert config.training.early_stopping.monitor == "val_loss"
    assert config.output.dir == "runs"
    assert config.data.target_columns == ("y",)


def test_relative_data_path_resolves_against_config_folder(tmp_path):
    path = write_config(tmp_path, base_config("sub/data.csv"))
    config = load_config(path)
    assert config.data.path == str((tmp_path / "sub" / "data.csv").resolve())


def test_config_objects_are_immutable():
    config = parse()
    with pytest.raises(AttributeError):
        config.window.horizon = 3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"window__horizon": 0}, "window.horizon must be a positive number; got 0."),
        ({"window__input_width": "x"}, "window.input_width must be an integer; got 'x'."),
        ({"window__input_width": 4.5}, "window.input_width must be an integer; got 4.5."),
        ({"window__horizn": 3}, "Unknown key 'window.horizn'. Did you mean 'horizon'?"),
        (
            {"data__scaler": "robust"},
            "data.scaler must be one of standard, minmax, none; got 'robust'.",
        ),
        ({"data__split": {"val": 0.5, "test": 0.5}}, "must leave rows for training"),
        ({"data__split": {"val": 0}}, "data.split.val must be a fraction between 0 and 1"),
        ({"data__target_columns": []}, "data.target_columns must be a non-empty list"),
        ({"data__feature_columns": ["y"]}, "repeats target column 'y'"),
        ({"data__time_column": "y"}, "data.time_column 'y' cannot also be listed"),
        ({"model__type": "lstn"}, "model.type 'lstn' is not a known model. Did you mean 'lstm'?"),
        ({"model__units": [8]}, "Unknown key 'model.units'."),
        ({"training__optimizer": {"name": "adamax"}}, "training.optimizer.name must be one of"),
        ({"training__epochs": True}, "training.epochs must be an integer; got true."),
        ({"output__name": "../escape"}, "output.name must be a plain name"),
        ({"training__optimizer": {"name": "adam", "momentum": 0.9}}, "momentum applies to sgd"),
        ({"training__optimizer": {"name": "rmsprop", "nesterov": True}}, "nesterov applies to sgd"),
        ({"training__loss": "msle"}, "training.loss msle needs non-negative targets"),
    ],
)
def test_bad_values_name_the_key_and_value(changes, message):
    with pytest.raises(ConfigError) as info:
        parse(**changes)
    assert message in str(info.value)


def test_unknown_section_gets_a_hint():
    raw = base_config("data.csv")
    raw["trainig"] = {}
    with pytest.raises(ConfigError, match="Unknown section 'trainig'. Did you mean 'training'?"):
        config_from_dict(raw)


def test_missing_section_and_required_key():
    raw = base_config("data.csv")
    del raw["window"]
    with pytest.raises(ConfigError, match="no 'window' section"):
        config_from_dict(raw)
    raw = base_config("data.csv")
    del raw["data"]["target_columns"]
    with pytest.raises(ConfigError, match="data.target_columns is required."):
        config_from_dict(raw)


def test_unknown_model_lists_valid_names():
    names = (
        "auto, naive, seasonal_naive, linear, mlp, simple_rnn, gru, lstm, conv1d, wavenet, "
        "nhits, tide, tsmixer, patchtst"
    )
    with pytest.raises(ConfigError, match=f"Known models: {names}."):
        parse(model__type="transformer")


def test_overrides_set_nested_keys(tmp_path):
    raw = base_config("data.csv")
    raw["model"] = {"type": "lstm"}
    path = write_config(tmp_path, raw)
    config = load_config(path, ["model.units=[16, 8]", "window.horizon=24", "training.seed=3"])
    assert config.model.params.units == (16, 8)
    assert config.window.horizon == 24
    assert config.training.seed == 3
    scalar = load_config(path, ["model.units=32"])
    assert scalar.model.params.units == (32,)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.unitz=3", "Did you mean 'units'?"),
        ("novalue", "--set expects KEY.PATH=VALUE"),
        ("window.horizon.x=3", "window.horizon is not a section"),
    ],
)
def test_bad_overrides(tmp_path, override, message):
    raw = base_config("data.csv")
    raw["model"] = {"type": "lstm"}
    path = write_config(tmp_path, raw)
    with pytest.raises(ConfigError, match=message):
        load_config(path, [override])


def test_malformed_and_empty_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="Malformed YAML .* at line"):
        load_config(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        load_config(empty)
    with pytest.raises(ConfigError, match="Config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("data: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ConfigError, match="Malformed YAML"):
        load_config(path)


def test_resolved_config_round_trips(tmp_path):
    raw = base_config(str(tmp_path / "data.csv"))
    raw["model"] = {"type": "mlp", "units": [8, 4], "dropout": 0.1}
    config = config_from_dict(raw)
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_config(config))
    assert load_config(path) == config


def test_every_bundled_config_is_valid():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        load_config(path)


@pytest.mark.parametrize(
    ("model", "changes", "message"),
    [
        ({"type": "naive", "head": "sequence"}, {}, "model.head 'sequence' is not supported"),
        ({"type": "mlp", "head": "sequence"}, {}, "it supports: vector, recursive, quantile"),
        ({"type": "gru", "head": "quantile", "quantiles": [0.2, 0.8]}, {}, "holding 0.5"),
        ({"type": "gru", "head": "quantile", "quantiles": [0.9, 0.5, 0.1]}, {}, "increasing"),
        ({"type": "gru", "quantiles": [0.2, 0.5, 0.8]}, {}, "applies to model.head quantile"),
        ({"type": "gru", "head": "quantile"}, {"training__loss": "mae"}, "training.loss mae"),
        ({"type": "gru"}, {"training__loss": "pinball"}, "does not fit model.head vector"),
        ({"type": "linear", "head": "recursive"}, {}, "cannot read data.feature_columns"),
        ({"type": "gru", "encoder_decoder": True, "head": "sequence"}, {}, "encoder_decoder"),
        ({"type": "seasonal_naive"}, {}, "model.season_length is required."),
        ({"type": "seasonal_naive", "season_length": 24}, {}, "must not exceed window.input_width"),
        (
            {"type": "wavenet", "n_layers": 4, "n_blocks": 1, "strict_receptive_field": True},
            {},
            "receptive field is 16 steps, wider than window.input_width (12)",
        ),
        ({"type": "wavenet", "activation": "elu"}, {}, "applies to the plain variant"),
        (
            {"type": "conv1d", "filters": [4, 4], "kernel_size": [2, 2, 2]},
            {},
            "model.kernel_size must hold one value, or one per layer of model.filters (2); got 3.",
        ),
        (
            {"type": "conv1d", "strides": 2, "dilation_rate": 2},
            {},
            "cannot combine strides > 1 with dilation_rate > 1",
        ),
        (
            {"type": "conv1d", "kernel_size": 13, "padding": "valid"},
            {},
            "window.input_width (12) is too short for the conv1d stack",
        ),
        ({"type": "conv1d", "recurrent": "rnn"}, {}, "model.recurrent must be one of"),
        (
            {"type": "gru"},
            {"training__lr_schedule": {"name": "cosine", "factor": 0.1}},
            "training.lr_schedule.factor applies to lr_schedule.name plateau, not cosine.",
        ),
        (
            {"type": "gru"},
            {"training__lr_schedule": {"name": "plateau", "factor": 1.5}},
            "training.lr_schedule.factor must be a fraction strictly between 0 and 1",
        ),
    ],
)
def test_model_zoo_rules(model, changes, message):
    with pytest.raises(ConfigError) as info:
        parse(model=model, **changes)
    assert message in str(info.value)


def test_quantile_head_defaults_to_the_pinball_loss():
    config = parse(model={"type": "lstm", "head": "quantile"})
    assert config.training.loss == "pinball"
    assert config.model.params.quantiles == (0.1, 0.5, 0.9)
    recursive = parse(model={"type": "gru", "head": "recursive"}, data__feature_columns=[])
    assert recursive.model.params.head == "recursive"
    schedule = parse(training__lr_schedule={"name": "exponential", "decay_rate": 0.5})
    assert schedule.training.lr_schedule.decay_rate == 0.5
