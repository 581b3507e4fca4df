"""Pieces shared by the HTTP server middleware: excluded paths, semconv attributes, instruments.

Attribute names come from ``opentelemetry.semconv.attributes`` (the stable HTTP
conventions); nothing here imports a web framework.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.semconv.attributes import (
    client_attributes,
    error_attributes,
    http_attributes,
    network_attributes,
    server_attributes,
    url_attributes,
    user_agent_attributes,
)
from opentelemetry.semconv.metrics import http_metrics
from opentelemetry.semconv.schemas import Schemas
from opentelemetry.trace import Span, Status, StatusCode

from otelkit import __version__
from otelkit._warn import short, warn_limited
from otelkit.config import OTEL_PYTHON_EXCLUDED_URLS, OTELKIT_ASGI_EXCLUDED_PATHS, Setting
from otelkit.middleware._settings import compile_excluded

__all__ = [
    "DURATION_BUCKETS",
    "ExcludedPaths",
    "Instruments",
    "method_and_name",
    "request_attributes",
    "route_of",
    "set_status",
    "split_host",
    "telemetry_failed",
    "template_from_params",
]

_logger = logging.getLogger("otelkit.middleware")

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
"""Semconv's advisory bucket boundaries for ``http.server.request.duration`` (seconds)."""

_SCHEMA = Schemas.V1_44_0.value

_KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "QUERY"}
)

METHOD = http_attributes.HTTP_REQUEST_METHOD
ROUTE = http_attributes.HTTP_ROUTE
STATUS = http_attributes.HTTP_RESPONSE_STATUS_CODE
ERROR_TYPE = error_attributes.ERROR_TYPE
SCHEME = url_attributes.URL_SCHEME
PROTOCOL_VERSION = network_attributes.NETWORK_PROTOCOL_VERSION
METRIC_KEYS = (METHOD, SCHEME, ROUTE, STATUS, PROTOCOL_VERSION, ERROR_TYPE)
"""Attributes the duration histogram keeps (semconv's low-cardinality set)."""


def telemetry_failed(where: str, exc: BaseException) -> None:
    """Log (rate-limited) that otelkit's own telemetry code failed; the request goes on."""
    warn_limited(_logger, "telemetry:" + where, "otelkit %s telemetry failed (%s: %s); request continues untraced",
                 where, type(exc).__name__, short(exc))


class ExcludedPaths:
    """Decides which request paths are not traced.

    Args:
        paths: explicit entries (exact paths, or prefixes ending in ``*``), a
            comma-separated string of them, or ``None`` to read ``OTELKIT_ASGI_EXCLUDED_PATHS``
            and then the contrib regex variables ``regex_settings`` (first non-empty wins,
            searched in the path).
        regex_settings: framework-specific contrib variables, before ``OTEL_PYTHON_EXCLUDED_URLS``.
        environ: environment mapping (default ``os.environ``).

    Raises:
        ValueError: an explicit entry is not a string.
    """

    def __init__(
        self,
        paths: Iterable[str] | str | None,
        *,
        regex_settings: tuple[Setting[str], ...] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._regex: re.Pattern[str] | None = None
        if paths is None:
            paths = OTELKIT_ASGI_EXCLUDED_PATHS.get(environ)
            if not paths:
                self._regex = _regex_from(regex_settings + (OTEL_PYTHON_EXCLUDED_URLS,), environ)
        entries = paths.split(",") if isinstance(paths, str) else list(paths)
        for entry in entries:
            if not isinstance(entry, str):
                raise ValueError(f"excluded path {entry!r} is invalid: expected a str such as '/health' or '/internal/*'")
        cleaned = [e.strip() for e in entries if e.strip()]
        self._exact = frozenset(e for e in cleaned if not e.endswith("*"))
        self._prefixes = tuple(e[:-1] for e in cleaned if e.endswith("*"))
        self.active = bool(self._exact or self._prefixes or self._regex)

    def __call__(self, path: str) -> bool:
        """True when ``path`` must not be traced."""
        if path in self._exact or (self._prefixes and path.startswith(self._prefixes)):
            return True
        return self._regex is not None and self._regex.search(path) is not None


def _regex_from(settings: Iterable[Setting[str]], environ: Mapping[str, str] | None) -> re.Pattern[str] | None:
    for setting in settings:
        raw = setting.raw(environ)
        if raw is None:
            continue
        try:
            pattern = compile_excluded(raw)
        except ValueError as exc:
            warn_limited(_logger, "config:" + setting.name, "%s=%r is not a list of valid regexes (%s); ignoring it",
                         setting.name, short(raw), exc)
            continue
        if pattern is not None:
            return pattern
    return None


def method_and_name(method: str) -> tuple[str, str | None]:
    """``(semconv method, original or None)``: unknown methods become ``_OTHER``."""
    upper = method.upper()
    if upper in _KNOWN_METHODS:
        return upper, (method if upper != method else None)
    return "_OTHER", method


def split_host(host: str) -> tuple[str, int | None]:
    """``"name:port"`` / ``"[v6]:port"`` -> ``(name, port)``; port ``None`` when absent or bad."""
    if host.startswith("["):
        end = host.find("]")
        name, rest = host[1:end], host[end + 1:]
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        name, _, port_text = host.partition(":")
    port = int(port_text) if port_text.isdigit() and len(port_text) <= 5 else None
    return name, port


def request_attributes(
    *,
    method: str,
    scheme: str,
    path: str,
    query: str,
    host: str | None,
    server: Any,
    client: Any,
    user_agent: str | None,
    http_version: str | None,
) -> dict[str, Any]:
    """Stable HTTP server span attributes for one request (``http.request.method`` normalized)."""
    norm, original = method_and_name(method)
    attrs: dict[str, Any] = {METHOD: norm, SCHEME: scheme, url_attributes.URL_PATH: path}
    if original is not None:
        attrs[http_attributes.HTTP_REQUEST_METHOD_ORIGINAL] = original
    if query:
        attrs[url_attributes.URL_QUERY] = query
    if host:
        name, port = split_host(host)
        if name:
            attrs[server_attributes.SERVER_ADDRESS] = name
        if port is not None:
            attrs[server_attributes.SERVER_PORT] = port
    elif server and len(server) == 2:
        attrs[server_attributes.SERVER_ADDRESS] = str(server[0])
        if isinstance(server[1], int):
            attrs[server_attributes.SERVER_PORT] = server[1]
    if client and len(client) == 2:
        attrs[client_attributes.CLIENT_ADDRESS] = str(client[0])
        attrs[network_attributes.NETWORK_PEER_ADDRESS] = str(client[0])
        if isinstance(client[1], int):
            attrs[network_attributes.NETWORK_PEER_PORT] = client[1]
    if user_agent:
        attrs[user_agent_attributes.USER_AGENT_ORIGINAL] = user_agent
    if http_version:
        attrs[PROTOCOL_VERSION] = http_version
    return attrs


def set_status(span: Span, attrs: dict[str, Any], status: int) -> None:
    """Record the response status; 5xx marks the span ERROR with ``error.type`` = the code."""
    attrs[STATUS] = status
    span.set_attribute(STATUS, status)
    if status >= 500:
        if ERROR_TYPE not in attrs:  # an exception's type, when there was one, is more telling
            attrs[ERROR_TYPE] = str(status)
            span.set_attribute(ERROR_TYPE, str(status))
        span.set_status(Status(StatusCode.ERROR))


def template_from_params(path: str, params: Mapping[str, Any]) -> str | None:
    """Rebuild a route template by replacing path segments equal to a param value, or ``None``."""
    by_value = {str(v): k for k, v in params.items()}
    segments = path.split("/")
    replaced = False
    for i, seg in enumerate(segments):
        name = by_value.get(seg)
        if name is not None and seg:
            segments[i] = "{" + name + "}"
            replaced = True
    return "/".join(segments) if replaced else None


def route_of(scope: Mapping[str, Any]) -> str | None:
    """The route template the framework matched, or ``None``.

    Reads ``scope["route"]`` (Starlette >= 0.46 and FastAPI set it after routing; a
    ``str`` or an object with ``path_format``/``path``, prefixed with the mount path),
    else rebuilds the template from ``scope["path_params"]``.
    """
    route = scope.get("route")
    if isinstance(route, str):
        return route or None
    if route is not None:
        fmt = getattr(route, "path_format", None) or getattr(route, "path", None)
        if isinstance(fmt, str) and fmt:
            root = scope.get("root_path") or ""
            app_root = scope.get("app_root_path") or ""
            mount = root[len(app_root):] if root.startswith(app_root) else ""
            return mount + fmt
    params = scope.get("path_params")
    if params and isinstance(params, Mapping):
        return template_from_params(scope.get("path") or "", params)
    return None


class Instruments:
    """The tracer and the ``http.server.request.duration`` histogram of one middleware."""

    def __init__(self, scope_name: str, tracer_provider: Any, meter_provider: Any) -> None:
        self.tracer = trace.get_tracer(scope_name, __version__, tracer_provider, schema_url=_SCHEMA)
        meter = metrics.get_meter(scope_name, __version__, meter_provider, schema_url=_SCHEMA)
        self.duration = meter.create_histogram(
            http_metrics.HTTP_SERVER_REQUEST_DURATION,
            unit="s",
            description="Duration of HTTP server requests.",
            explicit_bucket_boundaries_advisory=list(DURATION_BUCKETS),
        )

    def record(self, seconds: float, attrs: Mapping[str, Any]) -> None:
        """Record one request duration with the low-cardinality subset of ``attrs``."""
        self.duration.record(max(seconds, 0.0), {k: attrs[k] for k in METRIC_KEYS if k in attrs})
