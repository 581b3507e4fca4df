"""OTLP/HTTP span exporter: direct encoder, zstd/gzip/deflate, keep-alive, bounded retries.

``OTEL_TRACES_EXPORTER=otelkit_otlp`` (or ``OtlpHttpSpanExporter()`` in code) reads the
standard ``OTEL_EXPORTER_OTLP_[TRACES_]{ENDPOINT,HEADERS,TIMEOUT,COMPRESSION,CERTIFICATE,
CLIENT_KEY,CLIENT_CERTIFICATE}`` variables (``zstd`` accepted) and the ``OTELKIT_EXPORTER_*``
knobs; explicit arguments win. Compared with the stock exporter it:

* encodes with :class:`~otelkit.exporter.encoder.SpanEncoder` (no protobuf objects), or
  takes spans already encoded at ``on_end`` (``export_encoded``); a span that cannot be
  encoded fails alone, never its batch;
* compresses with zstd (level 3) or gzip level 6, skipping bodies under 1 KiB;
* keeps connections alive (``urllib3`` connection pool: already installed through the
  stock exporter, lighter to import than ``requests``, with TLS client-certificate
  support and no retry logic of its own in the way);
* retries 408/429/502/503/504 and connection errors with jittered exponential backoff or
  the server's ``Retry-After``, never past the export timeout, cut short by ``shutdown()``;
* reads ``partial_success`` and counts rejected spans; splits batches whose encoding
  exceeds ``max_request_bytes`` (default 4 MiB) instead of dropping them;
* never raises from ``export()``, never logs header values, and counts every span as
  exported, failed or rejected (``stats()``).

Example::

    from otelkit.exporter.http import OtlpHttpSpanExporter
    exporter = OtlpHttpSpanExporter(endpoint="http://127.0.0.1:4318/v1/traces", compression="zstd")
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit import config
from otelkit._fork import after_fork
from otelkit._parse import check_range
from otelkit._warn import short, warn_limited
from otelkit.exporter._encoded import EncodedSpan, encode_each, request_parts, split_requests
from otelkit.exporter._http_config import HttpSettings, resolve, safe_url
from otelkit.exporter._request import write_parts
from otelkit.exporter._retry import RETRYABLE_STATUS, backoff_s, retry_after_s
from otelkit.exporter._stats import ExportStats
from otelkit.exporter.compression import Body, Compressor
from otelkit.pool.buffer import BufferPool

__all__ = ["OtlpHttpSpanExporter"]

_logger = logging.getLogger("otelkit.exporter.http")
_USER_AGENT = "otelkit-otlp-http/0.1"
_READ_CHUNK = 64 * 1024
_MAX_RESPONSE_BYTES = 1024 * 1024
_shared_pool: BufferPool | None = None
_shared_pool_lock = threading.Lock()


def _default_pool() -> BufferPool:
    global _shared_pool
    with _shared_pool_lock:
        if _shared_pool is None:
            _shared_pool = BufferPool()
        return _shared_pool


class OtlpHttpSpanExporter(SpanExporter):
    """Export spans as OTLP/HTTP protobuf.

    Args:
        endpoint: full traces URL; default from env, else ``http://localhost:4318/v1/traces``.
        certificate_file: CA bundle for HTTPS. client_key_file / client_certificate_file: mTLS.
        headers: request headers (values never logged); default from env.
        timeout: seconds per ``export()`` call, retries included; default 10 s (env in ms).
        compression: ``zstd``, ``gzip``, ``deflate`` or ``none`` (or the stock
            ``Compression`` enum); default from env, else ``none``.
        compression_level: codec level; default 0 = codec default (zstd 3, gzip/deflate 6).
        min_compress_bytes: smaller bodies go uncompressed; default 1024.
        max_request_bytes: largest encoded request; larger batches are split; default 4 MiB.
        max_retries: retries after the first attempt; default 5.
        retry_initial: first backoff in seconds; default 0.5.
        buffer_pool: ``True`` (shared pool), ``False``, or a :class:`BufferPool`; default
            ``OTELKIT_EXPORTER_BUFFER_POOL`` (on, shared pool).
        meter_provider: provider for the self-metrics (``OTELKIT_SELF_METRICS``); default global.
        environ: mapping read instead of ``os.environ``.

    Raises:
        ValueError: an explicit argument is invalid (env values warn and fall back).
    """

    def __init__(
        self,
        endpoint: str | None = None,
        certificate_file: str | None = None,
        client_key_file: str | None = None,
        client_certificate_file: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        compression: Any = None,
        *,
        compression_level: int | None = None,
        min_compress_bytes: int | None = None,
        max_request_bytes: int | None = None,
        max_retries: int | None = None,
        retry_initial: float | None = None,
        buffer_pool: bool | BufferPool | None = None,
        meter_provider: Any = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        _check_range("max_request_bytes", max_request_bytes, 1024)
        _check_range("max_retries", max_retries, 0)
        _check_range("min_compress_bytes", min_compress_bytes, 0)
        if buffer_pool is not None and not isinstance(buffer_pool, (bool, BufferPool)):
            raise ValueError(f"buffer_pool={buffer_pool!r} is invalid: expected True, False or a BufferPool")
        if retry_initial is not None and not (isinstance(retry_initial, (int, float)) and retry_initial > 0):
            raise ValueError(f"retry_initial={retry_initial!r} is invalid: expected seconds > 0")
        explicit = {
            "endpoint": endpoint, "certificate_file": certificate_file, "client_key_file": client_key_file,
            "client_certificate_file": client_certificate_file, "headers": headers, "timeout": timeout,
            "compression": compression, "compression_level": compression_level,
            "min_compress_bytes": min_compress_bytes, "max_request_bytes": max_request_bytes,
            "max_retries": max_retries, "retry_initial": retry_initial,
            "buffer_pool": buffer_pool if isinstance(buffer_pool, bool) else None,
        }
        self.settings: HttpSettings = resolve(explicit, env)
        self._compressor = self._make_compressor(compression_level is not None)
        self._pool: BufferPool | None = (
            buffer_pool if isinstance(buffer_pool, BufferPool) else _default_pool() if self.settings.buffer_pool else None
        )
        self._stats = ExportStats(
            None, config.OTELKIT_SELF_METRICS.get(env), meter_provider, endpoint=self.settings.endpoint,
        )
        self._shutdown = threading.Event()
        self._http = self._connection_pool()
        after_fork(self._after_fork)  # a forked child must not share the parent's sockets
        parts = urlsplit(self.settings.endpoint)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        base = {**self.settings.headers, "content-type": "application/x-protobuf", "user-agent": _USER_AGENT}
        self._headers: dict[str | None, dict[str, str]] = {None: base}
        if self._compressor.encoding:
            self._headers[self._compressor.encoding] = {**base, "content-encoding": self._compressor.encoding}

    # ------------------------------------------------------------------ SpanExporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send ``spans``; SUCCESS only if every span was encoded and accepted. Never raises.

        A span that cannot be encoded is counted failed (``error="encode"``) alone; the
        others are sent.
        """
        encoded, failed = encode_each(spans)
        if failed:
            self._stats.spans(failed=failed, error="encode")
        result = self.export_encoded(encoded)
        return SpanExportResult.FAILURE if failed else result

    def export_encoded(self, spans: Sequence[EncodedSpan]) -> SpanExportResult:
        """Send spans encoded at ``on_end`` (:mod:`otelkit.exporter._encoded`): requests are
        assembled by concatenation, split at ``max_request_bytes``. Same retries, stats and
        result as :meth:`export`. Never raises."""
        total = len(spans)
        if not total:
            return SpanExportResult.SUCCESS
        started = time.monotonic()
        if self._shutdown.is_set():
            self._stats.spans(failed=total, error="shutdown")
            return SpanExportResult.FAILURE
        token = otel_context.attach(otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))
        self._stats.begin(total)
        ok = True
        done = 0
        try:
            deadline = started + self.settings.timeout_s
            for chunk, payload in self._chunks(spans):
                ok = self._send(chunk, payload, deadline) and ok
                done += len(chunk)
        except Exception as exc:  # noqa: BLE001 - export() must never raise
            warn_limited(_logger, "export-error", "export of %d spans failed: %r", total - done, exc)
            self._stats.spans(failed=total - done, error=type(exc).__name__)
            ok = False
        finally:
            otel_context.detach(token)
            self._stats.end(total)
            self._stats.latency(time.monotonic() - started, ok)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        """Stop: cuts any backoff short; later exports fail (counted). Idempotent."""
        if self._shutdown.is_set():
            return
        self._shutdown.set()
        try:
            self._http.close()
        except Exception:  # noqa: BLE001
            _logger.debug("closing the connection pool failed", exc_info=True)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here; always True."""
        return True

    def stats(self) -> dict[str, Any]:
        """Counters snapshot (see :mod:`otelkit.exporter._stats` for the keys)."""
        return self._stats.snapshot()

    # ------------------------------------------------------------------ internals

    def _after_fork(self) -> None:
        self._http = self._connection_pool()

    def _make_compressor(self, level_is_explicit: bool) -> Compressor:
        s = self.settings
        try:
            return Compressor(s.compression, s.compression_level or None, s.min_compress_bytes)
        except ValueError as exc:
            if level_is_explicit:
                raise
            warn_limited(_logger, "compression-level", "%s (OTELKIT_EXPORTER_COMPRESSION_LEVEL); using the default", exc)
            return Compressor(s.compression, None, s.min_compress_bytes)

    def _connection_pool(self) -> Any:
        import urllib3

        s = self.settings
        kw: dict[str, Any] = {"maxsize": 4, "block": False, "retries": False}
        if s.endpoint.startswith("https"):
            kw.update(ca_certs=s.certificate_file, cert_file=s.client_certificate_file, key_file=s.client_key_file)
        return urllib3.connection_from_url(s.endpoint, **kw)

    def _chunks(self, spans: Sequence[EncodedSpan]) -> Iterator[tuple[Sequence[EncodedSpan], Body]]:
        """Requests of at most ``max_request_bytes`` each (a lone span larger than that is
        sent alone), cut from exact sizes; buffers come from the pool when it is on and go
        back to it whatever happens (an assembly error included)."""
        limit = self.settings.max_request_bytes
        for part in split_requests(spans, limit):
            parts = request_parts(part)
            size = sum(map(len, parts))
            if size > limit:
                warn_limited(_logger, "oversize-span", "one span encodes to %d bytes, over max_request_bytes "
                             "%d; sending it alone", size, limit)
            if self._pool is None:
                yield part, b"".join(parts)
                continue
            buf = self._pool.acquire(size)
            view: memoryview | None = None
            try:
                write_parts(parts, buf)
                view = memoryview(buf)[:size]
                yield part, view
            finally:
                try:
                    if view is not None:
                        view.release()
                    self._pool.release(buf)
                except BufferError:  # a view still pins the buffer: do not reuse it
                    pass

    def _send(self, chunk: Sequence[EncodedSpan], payload: Body, deadline: float) -> bool:
        """POST one request with retries; accounts every span of ``chunk``. Never raises."""
        n = len(chunk)
        try:
            return self._post(n, payload, deadline)
        except Exception as exc:  # noqa: BLE001
            warn_limited(_logger, "send-error", "sending %d spans failed: %r", n, exc)
            self._stats.spans(failed=n, error=type(exc).__name__)
            return False

    def _post(self, n: int, payload: Body, deadline: float) -> bool:
        import urllib3

        body, encoding = self._compressor.compress(payload)
        headers = self._headers[encoding]
        raw, wire = len(payload), len(body)
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self._fail(n, "timeout", "export timeout reached")
            self._stats.request(raw, wire, retry=attempt > 0)
            try:
                resp = self._http.urlopen(
                    "POST", self._path, body=body, headers=headers, retries=False, redirect=False,
                    timeout=urllib3.Timeout(total=remaining), assert_same_host=False, preload_content=False,
                )
                data = _read_body(resp, deadline)
            except urllib3.exceptions.SSLError as exc:  # a refused certificate: retrying cannot help
                return self._fail(n, "tls", f"TLS refused: {short(exc, 200)}")
            except urllib3.exceptions.HTTPError as exc:
                reason, delay = type(exc).__name__, backoff_s(attempt, self.settings.retry_initial_s)
            else:
                if data is None:
                    return self._fail(n, "timeout", "export timeout reached while reading the response")
                if 200 <= resp.status < 300:
                    self._accept(n, data)
                    return True
                reason = f"http_{resp.status}"
                if resp.status not in RETRYABLE_STATUS:
                    return self._fail(n, reason, f"HTTP {resp.status}")
                after = retry_after_s(resp.headers.get("retry-after"))
                delay = backoff_s(attempt, self.settings.retry_initial_s) if after is None else after
            if attempt >= self.settings.max_retries:
                return self._fail(n, reason, f"{reason} after {attempt + 1} attempts")
            if time.monotonic() + delay >= deadline:
                return self._fail(n, reason, f"{reason}; retry in {delay:.2f}s would pass the export timeout")
            if self._shutdown.wait(delay):
                return self._fail(n, "shutdown", f"{reason}; shut down during backoff")
            attempt += 1

    def _accept(self, n: int, data: bytes) -> None:
        rejected = 0
        if data:
            try:
                partial = ExportTraceServiceResponse.FromString(data).partial_success
                rejected = max(0, min(n, int(partial.rejected_spans)))
                if rejected or partial.error_message:
                    warn_limited(_logger, "partial-success", "receiver rejected %d of %d spans: %s",
                                 rejected, n, partial.error_message[:200])
            except Exception:  # noqa: BLE001 - an unparseable 2xx body is still a success
                _logger.debug("ignoring an unparseable response body", exc_info=True)
        self._stats.spans(exported=n - rejected, rejected=rejected)

    def _fail(self, n: int, error: str, detail: str) -> bool:
        warn_limited(_logger, "export-failed:" + error, "dropping %d spans for %s: %s",
                     n, safe_url(self.settings.endpoint), detail)
        self._stats.spans(failed=n, error=error)
        return False


def _read_body(resp: Any, deadline: float) -> bytes | None:
    """The response body, read piece by piece so that a server trickling it cannot hold
    ``export()`` past ``deadline`` (a socket timeout bounds each read, not their sum).

    Returns None, with the connection closed rather than reused, when the deadline passes.
    A body over :data:`_MAX_RESPONSE_BYTES` (an OTLP answer is a few bytes; this is some
    other server) is cut there and its connection closed, so memory stays bounded.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        if time.monotonic() >= deadline:
            resp.close()
            return None
        piece = resp.read1(_READ_CHUNK)
        if not piece:
            break
        chunks.append(piece)
        size += len(piece)
        if size > _MAX_RESPONSE_BYTES:
            resp.close()
            return b"".join(chunks)[:_MAX_RESPONSE_BYTES]
    resp.release_conn()
    return b"".join(chunks)


def _check_range(name: str, value: int | None, lo: int) -> None:
    if value is not None:
        check_range(name, value, lo=lo, integer=True)
