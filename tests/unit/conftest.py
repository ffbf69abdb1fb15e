"""Fixtures for in-process station tests: `desk` (see tests/desk_fixtures.py)."""

from desk_fixtures import desk  # noqa: F401 - a fixture, found by pytest by name
