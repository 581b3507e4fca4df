"""The OTLP/HTTP send path: one already-encoded request in, one :class:`Outcome` out.

:class:`HttpSender` compresses the request with the encoding the receiver takes (see
:mod:`otelkit.exporter._negotiate`), POSTs it through the deadline-bounded
:class:`~otelkit.exporter._transport.HttpTransport`, retries 408/429/502/503/504 and
connection errors with backoff or ``Retry-After`` (never past the deadline, cut short by
shutdown) and reads ``partial_success``. It counts requests; span outcomes are the caller's
to count, because a failed request may still be spooled (``Outcome.spoolable``).
Anything that takes encoded bytes (the span exporter, spool replay, ``export_encoded``)
sends through :meth:`HttpSender.send`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from otelkit._warn import warn_limited
from otelkit.exporter._http_config import HttpSettings, safe_url
from otelkit.exporter._negotiate import REFUSAL_STATUS, EncodingChooser
from otelkit.exporter._retry import RETRYABLE_STATUS, backoff_s, retry_after_s
from otelkit.exporter._stats import ExportStats
from otelkit.exporter._transport import DeadlineExceeded, HttpTransport, Response, TransportError
from otelkit.exporter.compression import Body, Compressor

__all__ = ["HttpSender", "Outcome"]

_logger = logging.getLogger("otelkit.exporter.http")
_USER_AGENT = "otelkit-otlp-http/0.1"


@dataclass(frozen=True)
class Outcome:
    """What became of one request: accepted (``ok``, ``rejected`` of its spans refused by the
    receiver's ``partial_success``) or not, with the ``error`` type and whether the request
    may be kept and sent again later (``spoolable``: refused connection, timeout, 5xx, 429
    past the retry budget) rather than dropped (other 4xx: the receiver will never take it)."""

    ok: bool
    rejected: int = 0
    error: str = ""
    detail: str = ""
    spoolable: bool = False


class HttpSender:
    """Send encoded OTLP requests to one endpoint. Thread-safe.

    Args:
        settings: the exporter's effective settings.
        stats: counts requests, retries and bytes.
        shutdown: set when the exporter shuts down (cuts backoff short).
        compressors: one :class:`Compressor` per encoding of the fallback chain.
        probe_interval_s: how long a refused encoding stays unused.
        clock: monotonic clock for the encoding probes.
    """

    def __init__(
        self,
        settings: HttpSettings,
        stats: ExportStats,
        shutdown: threading.Event,
        compressors: dict[str, Compressor],
        probe_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.endpoint = safe_url(settings.endpoint)
        self._stats = stats
        self._shutdown = shutdown
        self._compressors = compressors
        self.encodings = EncodingChooser(settings.compression, self.endpoint, probe_interval_s, clock)
        self.transport = self._new_transport()
        parts = urlsplit(settings.endpoint)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._base = {**settings.headers, "content-type": "application/x-protobuf", "user-agent": _USER_AGENT}

    def _new_transport(self) -> HttpTransport:
        s = self.settings
        return HttpTransport(s.endpoint, s.certificate_file, s.client_certificate_file, s.client_key_file)

    def close(self) -> None:
        self.transport.close()

    def use_shutdown(self, shutdown: threading.Event) -> None:
        """Watch ``shutdown`` from now on (the exporter re-makes its event in a forked child)."""
        self._shutdown = shutdown

    def compressor(self, encoding: str) -> Compressor:
        """The compressor used for ``encoding`` (one of the fallback chain)."""
        return self._compressors[encoding]

    def send(
        self, n: int, payload: Body, deadline: float, max_retries: int | None = None, retry_refused: bool = True
    ) -> Outcome:
        """POST one encoded request of ``n`` spans, retrying within ``deadline``. Never raises.

        ``retry_refused=False``: a refused connection (nothing listens) ends the attempt at
        once, spoolable, instead of backing off (with a spool, replay is the retry)."""
        retries = self.settings.max_retries if max_retries is None else max_retries
        try:
            return self._send(n, payload, deadline, retries, retry_refused)
        except Exception as exc:  # noqa: BLE001 - the send path never raises
            _logger.debug("sending %d spans failed", n, exc_info=True)
            return Outcome(False, error=type(exc).__name__, detail=repr(exc)[:200])

    def _post(self, payload: Body, encoding: str, deadline: float, retry: bool) -> tuple[Response, str | None]:
        body, sent = self._compressors[encoding].compress(payload)
        headers = self._base if sent is None else {**self._base, "content-encoding": sent}
        self._stats.request(len(payload), len(body), retry=retry)
        return self.transport.post(self._path, body, headers, deadline), sent

    def _send(self, n: int, payload: Body, deadline: float, max_retries: int, retry_refused: bool) -> Outcome:
        attempt = 0
        refused: list[str] = []
        refused_status = 0
        encoding = self.encodings.current()
        while True:
            if deadline - time.monotonic() <= 0:
                return Outcome(False, error="timeout", detail="export timeout reached", spoolable=True)
            try:
                resp, sent = self._post(payload, encoding, deadline, retry=attempt > 0 or bool(refused))
            except DeadlineExceeded as exc:
                return Outcome(False, error="timeout", detail=str(exc), spoolable=True)
            except TransportError as exc:
                if exc.reason == "tls":  # a refused certificate: retrying (or spooling) cannot help
                    return Outcome(False, error="tls", detail=f"TLS refused: {exc}")
                if exc.reason == "ConnectionRefusedError" and not retry_refused:
                    return Outcome(False, error=exc.reason, detail="connection refused", spoolable=True)
                reason, delay = exc.reason, backoff_s(attempt, self.settings.retry_initial_s)
            else:
                status = resp.status
                if 200 <= status < 300:
                    if refused:
                        self.encodings.refused(refused, encoding, refused_status)
                    return Outcome(True, rejected=self._rejected(n, resp.body))
                fallback = self.encodings.next_after(encoding) if sent is not None else None
                if status in REFUSAL_STATUS and fallback is not None:
                    # Maybe the receiver cannot decode this encoding: re-send the same batch at once.
                    refused.append(encoding)
                    refused_status = status
                    encoding = fallback
                    continue
                reason = f"http_{status}"
                if status not in RETRYABLE_STATUS:
                    return Outcome(False, error=reason, detail=f"HTTP {status}: {_text(resp.body)}",
                                   spoolable=status >= 500)
                after = retry_after_s(resp.headers.get("retry-after"))
                delay = backoff_s(attempt, self.settings.retry_initial_s) if after is None else after
            if attempt >= max_retries:
                return Outcome(False, error=reason, detail=f"{reason} after {attempt + 1} attempts", spoolable=True)
            if time.monotonic() + delay >= deadline:
                return Outcome(False, error=reason, spoolable=True,
                               detail=f"{reason}; retry in {delay:.2f}s would pass the export timeout")
            if self._shutdown.wait(delay):
                return Outcome(False, error="shutdown", detail=f"{reason}; shut down during backoff", spoolable=True)
            attempt += 1

    def _rejected(self, n: int, data: bytes) -> int:
        if not data:
            return 0
        try:
            partial = ExportTraceServiceResponse.FromString(data).partial_success
        except Exception:  # noqa: BLE001 - an unparseable 2xx body is still a success
            _logger.debug("ignoring an unparseable response body", exc_info=True)
            return 0
        rejected = max(0, min(n, int(partial.rejected_spans)))
        if rejected or partial.error_message:
            warn_limited(_logger, "partial-success", "receiver rejected %d of %d spans: %s",
                         rejected, n, partial.error_message[:200])
        return rejected


def _text(body: bytes) -> str:
    """The start of an error body, printable (receivers explain 400s there)."""
    return body[:200].decode("utf-8", "replace").replace("\n", " ").strip() or "(empty body)"
