"""Shared fixtures. Docker tests never skip: a missing engine is a failure with the next step."""

from __future__ import annotations

import pytest

from sandbox.engine import EngineUnavailable, connect


@pytest.fixture(scope="session")
def docker_client():
    try:
        return connect()
    except EngineUnavailable as exc:  # fail loudly: CI must start the engine (scripts/setup.sh)
        pytest.fail(str(exc), pytrace=False)
