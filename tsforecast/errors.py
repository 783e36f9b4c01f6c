"""Errors that reach users, and the exit codes of the commands.

The CLI prints an error as one ``Error: ...`` line and exits with its ``exit_code``: 1 for
a data or run error, 2 for a config or usage error, 130 when interrupted.
"""

#: Exit code of a command whose work succeeded but whose quality gate failed.
GATE_FAILED_EXIT_CODE = 3


class TsForecastError(Exception):
    """Base class of every error a user can act on."""

    exit_code = 1


class ConfigError(TsForecastError):
    """The configuration or the command-line arguments are invalid."""

    exit_code = 2


class DataError(TsForecastError):
    """The input data cannot be used as configured."""


class RunError(TsForecastError):
    """Training, saving or loading a run failed."""


class RunInterrupted(RunError):
    """Training was stopped by SIGINT or SIGTERM; the run can be resumed."""

    exit_code = 130
