"""The commands as library functions: each returns a result or record and never prints.

``cli.py`` parses arguments, calls one of these and prints its report.
"""
