"""Settings of the carriers and middleware: excluded paths and URLs, Kafka consumer spans.
"""

from __future__ import annotations

import re
import warnings

from otelkit._warn import short
from otelkit.config import enum_setting, int_setting, str_setting


def compile_excluded(raw: str) -> re.Pattern[str] | None:
    """Contrib's comma-separated excluded-URL regexes as one pattern (``None`` when empty),
    joined with ``|`` as contrib joins them (so a leading ``(?i)`` applies, as there);
    ValueError naming the first invalid one, or saying why the list does not combine."""
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    with warnings.catch_warnings():  # "possible nested set" and the like: a user's pattern, not ours
        warnings.simplefilter("ignore", FutureWarning)
        for part in parts:
            try:
                re.compile(part)
            except re.error as exc:
                raise ValueError(f"regex {short(part)!r}: {exc}") from None
        try:  # each part compiles alone, yet the list may not: a later (?i), a repeated group name
            return re.compile("|".join(parts)) if parts else None
        except re.error as exc:
            raise ValueError(f"the regexes do not combine into one ({exc})") from None


__all__ = [
    "compile_excluded",
    "OTELKIT_KAFKA_CONSUMER_CONTEXT",
    "OTELKIT_KAFKA_MAX_LINKS",
    "OTELKIT_ASGI_EXCLUDED_PATHS",
    "OTEL_PYTHON_ASGI_EXCLUDED_URLS",
    "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS",
    "OTEL_PYTHON_EXCLUDED_URLS",
]

OTELKIT_KAFKA_CONSUMER_CONTEXT = enum_setting(
    "OTELKIT_KAFKA_CONSUMER_CONTEXT",
    "link",
    ("link", "parent"),
    "How a per-message `process` span relates to the producer's context: `link` (the "
    "messaging semconv default: keep the current trace, link the producer) or `parent` "
    "(continue the producer's trace, and link it too).",
    component="carriers",
)

OTELKIT_KAFKA_MAX_LINKS = int_setting(
    "OTELKIT_KAFKA_MAX_LINKS",
    128,
    "Most producer links one Kafka batch span carries; the rest are counted in "
    "`otelkit.kafka.links_dropped`.",
    min=0,
    component="carriers",
)

OTELKIT_ASGI_EXCLUDED_PATHS = str_setting(
    "OTELKIT_ASGI_EXCLUDED_PATHS",
    "",
    "Request paths the ASGI and aiohttp middleware do not trace, comma-separated: exact "
    "paths, or prefixes ending in `*` (`/health,/metrics,/internal/*`). Replaces the "
    "OTEL_PYTHON_*_EXCLUDED_URLS regexes when set.",
    allowed="comma-separated paths; a trailing * makes a prefix",
    component="carriers",
)

OTEL_PYTHON_ASGI_EXCLUDED_URLS = str_setting(
    "OTEL_PYTHON_ASGI_EXCLUDED_URLS",
    "",
    "Contrib's comma-separated regexes of URLs the ASGI middleware skips; otelkit searches "
    "them in the request path. Wins over OTEL_PYTHON_EXCLUDED_URLS.",
    allowed="comma-separated regular expressions",
    validate=compile_excluded,
    explain=True,
    component="carriers",
    standard=True,
)

OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS = str_setting(
    "OTEL_PYTHON_AIOHTTP_SERVER_EXCLUDED_URLS",
    "",
    "Contrib's regexes of URLs the aiohttp server middleware skips (searched in the path). "
    "Wins over OTEL_PYTHON_EXCLUDED_URLS.",
    allowed="comma-separated regular expressions",
    validate=compile_excluded,
    explain=True,
    component="carriers",
    standard=True,
)

OTEL_PYTHON_EXCLUDED_URLS = str_setting(
    "OTEL_PYTHON_EXCLUDED_URLS",
    "",
    "Contrib's regexes of URLs no HTTP server instrumentation traces (searched in the path).",
    allowed="comma-separated regular expressions",
    validate=compile_excluded,
    explain=True,
    component="carriers",
    standard=True,
)

