"""Settings of the disk spool (:mod:`otelkit.exporter._spool`), declared beside it.

Registered in :data:`otelkit.config.SETTINGS` like every other setting (``otelkit config``
lists them) and re-exported as ``otelkit.config.OTELKIT_SPOOL_*``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from otelkit._warn import warn_limited
from otelkit.config import Setting, float_setting, int_setting, size_setting, str_setting

if TYPE_CHECKING:
    from otelkit.exporter._spool import Spool

__all__ = [
    "OTELKIT_SPOOL_DIR",
    "OTELKIT_SPOOL_MAX_BYTES",
    "OTELKIT_SPOOL_MAX_AGE_S",
    "OTELKIT_SPOOL_REPLAY_SPANS_PER_S",
    "spool_from_env",
]

_logger = logging.getLogger("otelkit.exporter.spool")

OTELKIT_SPOOL_DIR: Setting[str] = str_setting(
    "OTELKIT_SPOOL_DIR",
    "",
    "Directory of the disk spool: batches the exporters cannot deliver (refused, 5xx/429 past "
    "the retry budget, timeout, broker down) are written there and replayed, also by the next "
    "process started on the same directory. Empty = no spool (docs/spool.md).",
    allowed="a directory path, or empty for no spool",
    component="exporter",
)
OTELKIT_SPOOL_MAX_BYTES: Setting[int] = size_setting(
    "OTELKIT_SPOOL_MAX_BYTES",
    256 * 1024 * 1024,
    "Largest total size of the spool directory; a batch that does not fit is dropped (counted "
    "as failed, error `spool_full`).",
    min=64 * 1024,
    component="exporter",
)
OTELKIT_SPOOL_MAX_AGE_S: Setting[float] = float_setting(
    "OTELKIT_SPOOL_MAX_AGE_S",
    86400.0,
    "Spooled batches older than this (seconds since they were written) are not replayed but "
    "dropped and counted as expired.",
    min=1.0,
    component="exporter",
)
OTELKIT_SPOOL_REPLAY_SPANS_PER_S: Setting[int] = int_setting(
    "OTELKIT_SPOOL_REPLAY_SPANS_PER_S",
    20000,
    "Pace of replay from the spool (spans per second), so a recovering receiver is not "
    "flattened by the backlog on top of live traffic.",
    min=1,
    component="exporter",
)


def spool_from_env(kind: str, directory: str | None, environ: Mapping[str, str] | None) -> Spool | None:
    """The spool for exporter ``kind`` (``directory`` wins over ``OTELKIT_SPOOL_DIR``), or None
    when there is none or it cannot be used (warned, never raised)."""
    path = directory if directory is not None else OTELKIT_SPOOL_DIR.get(environ)
    if not path:
        return None
    try:
        from otelkit.exporter._spool import Spool

        return Spool(path, kind, OTELKIT_SPOOL_MAX_BYTES.get(environ), OTELKIT_SPOOL_MAX_AGE_S.get(environ))
    except Exception as exc:  # noqa: BLE001 - no fcntl (Windows), no permission, ...: run without
        warn_limited(_logger, "spool-open", "cannot use spool directory %r: %s; exporting without a spool", path, exc)
        return None
