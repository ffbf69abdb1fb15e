"""Fixtures for in-process station tests: `desk` (see tests/desk_fixtures.py), `verify_core`."""

import pytest
from desk_fixtures import desk  # noqa: F401 - a fixture, found by pytest by name


@pytest.fixture(params=["c", "python"])
def verify_core(request, monkeypatch):
    """Run the test once with the verifier's compiled core and once on the pure-Python path.

    "c" insists on the core (ledger.verify raises if it is not built), so a broken build fails here
    rather than passing on the Python path unnoticed. The variable reaches the worker processes.
    """
    monkeypatch.setenv("LEDGER_VERIFY_CORE", request.param)
    return request.param
