"""Spool helpers shared by the spool tests: a spool in a test directory, and draining it."""

from __future__ import annotations

from pathlib import Path

from otelkit.exporter._spool import DELIVERED, Spool


def make(tmp_path: Path, **kw: object) -> Spool:
    """A spool of the ``otlp_http`` exporter under ``tmp_path``, big and old enough to drop nothing."""
    kw.setdefault("max_bytes", 64 * 1024 * 1024)
    kw.setdefault("max_age_s", 3600.0)
    return Spool(str(tmp_path), "otlp_http", **kw)  # type: ignore[arg-type]


def drain(spool: Spool) -> list[bytes]:
    """Deliver every claimable record; the bodies in order."""
    got = []
    while (claim := spool.claim()) is not None:
        for record in claim.records():
            got.append(record.body)
            claim.mark(record, DELIVERED)
        claim.finish()
    return got
