"""Errors that reach users. The CLI prints them as one ``Error: ...`` line."""


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
