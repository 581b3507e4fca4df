"""Resolve the OTLP/HTTP exporter's settings: explicit arguments > traces env > generic env.

Spec semantics (``OTEL_EXPORTER_OTLP_*``): ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is used
as is; the generic ``OTEL_EXPORTER_OTLP_ENDPOINT`` gets ``/v1/traces`` appended; every
other ``TRACES_`` variable wins over its generic twin when set; headers are
``k=v`` pairs with URL-encoded values, the traces ones merged over the generic ones.
Header values are credentials: nothing here ever logs them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from otelkit import config
from otelkit._parse import parse_pairs
from otelkit._warn import warn_limited
from otelkit.config import Setting

__all__ = ["HttpSettings", "resolve", "parse_headers", "safe_url", "check_url"]

_logger = logging.getLogger("otelkit.exporter.http")

DEFAULT_ENDPOINT = "http://localhost:4318/v1/traces"


@dataclass(frozen=True)
class HttpSettings:
    """The effective exporter configuration (seconds and bytes)."""

    endpoint: str
    headers: dict[str, str] = field(repr=False)  # credentials: never in a repr or a log line
    timeout_s: float
    compression: str
    certificate_file: str | None
    client_key_file: str | None
    client_certificate_file: str | None
    compression_level: int
    min_compress_bytes: int
    max_request_bytes: int
    max_retries: int
    retry_initial_s: float
    buffer_pool: bool


def parse_headers(raw: str, source: str) -> dict[str, str]:
    """``k1=v1,k2=v2`` (URL-decoded, keys lower-cased). Malformed pairs are skipped with a
    warning that names only ``source`` and the pair's position, never its text."""

    def malformed(index: int, _item: str) -> None:
        warn_limited(_logger, "headers:" + source, "%s: ignoring malformed header pair #%d (expected key=value)",
                     source, index)

    return {k.lower(): v for k, v in parse_pairs(raw, decode=True, on_malformed=malformed).items()}


def safe_url(url: str) -> str:
    """``url`` without user info, query or fragment (safe to log)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"
    except ValueError:
        return "<unparseable url>"


def _pick(traces: Setting[Any], generic: Setting[Any], env: Mapping[str, str]) -> Any:
    return traces.get(env) if traces.raw(env) is not None else generic.get(env)


def _file(traces: Setting[str], generic: Setting[str], env: Mapping[str, str]) -> str | None:
    value = _pick(traces, generic, env)
    return str(value) if value else None


def _endpoint(env: Mapping[str, str]) -> str:
    traces = config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.raw(env)
    if traces is not None:
        return _usable(traces.strip(), "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
    generic = config.OTEL_EXPORTER_OTLP_ENDPOINT.raw(env)
    if generic is not None:
        return _usable(generic.strip().rstrip("/"), "OTEL_EXPORTER_OTLP_ENDPOINT", "/v1/traces")
    return DEFAULT_ENDPOINT


def _usable(url: str, name: str, suffix: str) -> str:
    """``url + suffix`` when ``url`` is valid; a scheme-less ``host:port`` gets ``http://``
    (with a warning); anything else warns and gives :data:`DEFAULT_ENDPOINT`."""
    try:
        return check_url(url) + suffix
    except ValueError as exc:
        repaired = "http://" + url
        if "://" not in url and _valid(repaired):
            warn_limited(_logger, "endpoint", "%s=%r has no scheme; using %r (set http:// or https://)",
                         name, safe_url(repaired)[7:], safe_url(repaired + suffix))
            return repaired + suffix
        warn_limited(_logger, "endpoint", "%s %s; using %s", name, exc, DEFAULT_ENDPOINT)
        return DEFAULT_ENDPOINT


def _valid(url: str) -> bool:
    try:
        check_url(url)
    except ValueError:
        return False
    return True


def check_url(url: str, what: str = "") -> str:
    """``url`` when it is an ``http://`` or ``https://`` URL with a host, else ValueError
    naming it (user info, query and fragment left out)."""
    try:
        parts = urlsplit(url)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:
        ok = False
    if not ok:
        shown = safe_url(url) if "://" in url else url.split("@")[-1]
        label = f"{what}={shown!r}" if what else repr(shown)
        raise ValueError(f"{label} is invalid: expected an http:// or https:// URL with a host")
    return url


def resolve(explicit: Mapping[str, Any], environ: Mapping[str, str]) -> HttpSettings:
    """Effective settings; ``explicit`` holds constructor arguments (``None`` = not given).

    Raises:
        ValueError: an explicit argument is invalid. Invalid env values warn and fall back.
    """
    env = environ
    endpoint = explicit.get("endpoint")
    if endpoint is not None:
        endpoint = check_url(str(endpoint), "endpoint")
    else:
        endpoint = _endpoint(env)
    headers = explicit.get("headers")
    if headers is None:
        # raw, not get(): a malformed pair is skipped (warned), the valid ones still apply
        headers = parse_headers(config.OTEL_EXPORTER_OTLP_HEADERS.raw(env) or "", "OTEL_EXPORTER_OTLP_HEADERS")
        headers.update(
            parse_headers(config.OTEL_EXPORTER_OTLP_TRACES_HEADERS.raw(env) or "", "OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        )
    else:
        headers = {str(k).lower(): str(v) for k, v in dict(headers).items()}
    timeout = explicit.get("timeout")
    if timeout is None:
        timeout_s = _pick(config.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, config.OTEL_EXPORTER_OTLP_TIMEOUT, env) / 1000.0
    elif isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < 3600:
        raise ValueError(f"timeout={timeout!r} is invalid: expected seconds, > 0 and < 3600")
    else:
        timeout_s = float(timeout)
    if timeout_s <= 0:
        timeout_s = 10.0
    compression = explicit.get("compression")
    if compression is None:
        compression = _pick(config.OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, config.OTEL_EXPORTER_OTLP_COMPRESSION, env)
    else:  # a str or the stock exporter's Compression enum
        compression = str(getattr(compression, "value", compression)).strip().lower()
    retry_initial = explicit.get("retry_initial")
    return HttpSettings(
        endpoint=endpoint,
        headers=headers,
        timeout_s=timeout_s,
        compression=compression,
        certificate_file=explicit.get("certificate_file")
        or _file(config.OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, config.OTEL_EXPORTER_OTLP_CERTIFICATE, env),
        client_key_file=explicit.get("client_key_file")
        or _file(config.OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY, config.OTEL_EXPORTER_OTLP_CLIENT_KEY, env),
        client_certificate_file=explicit.get("client_certificate_file")
        or _file(
            config.OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE, config.OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, env
        ),
        compression_level=config.OTELKIT_EXPORTER_COMPRESSION_LEVEL.resolve(explicit.get("compression_level"), env),
        min_compress_bytes=config.OTELKIT_EXPORTER_MIN_COMPRESS_BYTES.resolve(
            explicit.get("min_compress_bytes"), env
        ),
        max_request_bytes=config.OTELKIT_EXPORTER_MAX_REQUEST_BYTES.resolve(explicit.get("max_request_bytes"), env),
        max_retries=config.OTELKIT_EXPORTER_MAX_RETRIES.resolve(explicit.get("max_retries"), env),
        retry_initial_s=float(retry_initial)
        if retry_initial is not None
        else config.OTELKIT_EXPORTER_RETRY_INITIAL_MS.get(env) / 1000.0,
        buffer_pool=config.OTELKIT_EXPORTER_BUFFER_POOL.resolve(explicit.get("buffer_pool"), env),
    )
