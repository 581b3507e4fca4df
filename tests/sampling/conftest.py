"""Every sampling test starts without export back-pressure (the shared instance)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otelkit._pressure import EXPORT_PRESSURE


@pytest.fixture(autouse=True)
def _no_export_pressure() -> Iterator[None]:
    EXPORT_PRESSURE.reset()
    yield
    EXPORT_PRESSURE.reset()
