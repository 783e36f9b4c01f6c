"""Allow ``python -m tsforecast``."""

from tsforecast.cli import main

main()
