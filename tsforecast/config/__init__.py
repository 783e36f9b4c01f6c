"""Typed, immutable configuration parsed once from YAML.

One module per group of sections (``data.py``; ``sections.py`` for window, model,
training and output, and the whole :class:`Config`), the rules that span fields
(``checks.py``), and reading, overriding and writing config files (``loading.py``).
Sections are declared with :mod:`tsforecast.schema`. The names below are the public API.
"""

from tsforecast.config.data import SYNTHETIC_COLUMN, DataConfig, SplitConfig, SyntheticConfig
from tsforecast.config.loading import (
    apply_overrides,
    config_difference,
    config_from_dict,
    config_to_dict,
    dump_config,
    load_config,
    parse_override,
    read_config_file,
    read_yaml,
)
from tsforecast.config.sections import (
    Config,
    EarlyStoppingConfig,
    EvaluationConfig,
    LRScheduleConfig,
    ModelConfig,
    OptimizerConfig,
    OutputConfig,
    TrainingConfig,
    WindowConfig,
)

__all__ = [
    "SYNTHETIC_COLUMN",
    "Config",
    "DataConfig",
    "EarlyStoppingConfig",
    "EvaluationConfig",
    "LRScheduleConfig",
    "ModelConfig",
    "OptimizerConfig",
    "OutputConfig",
    "SplitConfig",
    "SyntheticConfig",
    "TrainingConfig",
    "WindowConfig",
    "apply_overrides",
    "config_difference",
    "config_from_dict",
    "config_to_dict",
    "dump_config",
    "load_config",
    "parse_override",
    "read_config_file",
    "read_yaml",
]
