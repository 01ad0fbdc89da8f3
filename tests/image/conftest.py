"""The built image (make image) and the local Redmine for the image tests (make image-test).

The image is not built here: `make image-test` builds it first. A missing image fails every
test loudly, naming the command that builds it.
"""

from __future__ import annotations

import os

import pytest

from tests.image.engine import Engine

# The real local Redmine and the agency's accounts, as in the integration tests.
from tests.integration.conftest import admin, redmine, workspace  # noqa: F401


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The image under test (SLABRIDGE_IMAGE, default slabridge:latest) and its engine."""
    engine = Engine(os.environ.get("SLABRIDGE_IMAGE", "slabridge:latest"))
    if not engine.exists():
        pytest.fail(f"no image {engine.image} for {engine.kind}: run `make image` first")
    return engine
