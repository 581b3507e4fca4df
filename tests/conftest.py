"""Shared fixtures: an in-process OTLP sink, and real peers (Rotel, Tansu) on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otelkit._pressure import EXPORT_PRESSURE
from otelkit._warn import reset_warnings
from otelkit.receiver import OtlpReceiver
from otelkit.testing import Rotel, Tansu, start_rotel, start_tansu


@pytest.fixture(autouse=True)
def _no_export_pressure() -> Iterator[None]:
    """Every test starts without export back-pressure: the shared instance is process-wide,
    so a test whose batch queue dropped spans would otherwise lower the next test's sampling."""
    EXPORT_PRESSURE.reset()
    yield
    EXPORT_PRESSURE.reset()


@pytest.fixture(autouse=True)
def _fresh_warning_limits() -> None:
    reset_warnings()


@pytest.fixture
def sink() -> Iterator[OtlpReceiver]:
    """An OTLP/HTTP receiver on 127.0.0.1 that keeps every span it gets."""
    with OtlpReceiver() as rx:
        yield rx


@pytest.fixture
def rotel(sink: OtlpReceiver) -> Iterator[Rotel]:
    """A real Rotel collector that forwards everything it receives to ``sink``."""
    proc = start_rotel(sink.base_url)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def tansu() -> Iterator[Tansu]:
    """A real Tansu (Kafka-compatible) broker with in-memory storage, shared by the session."""
    proc = start_tansu()
    try:
        yield proc
    finally:
        proc.stop()
