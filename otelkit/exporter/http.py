"""OTLP/HTTP span exporter: direct encoder, zstd/gzip/deflate, keep-alive, bounded retries.

``OTEL_TRACES_EXPORTER=otelkit_otlp`` (or ``OtlpHttpSpanExporter()`` in code) reads the
standard ``OTEL_EXPORTER_OTLP_[TRACES_]{ENDPOINT,HEADERS,TIMEOUT,COMPRESSION,CERTIFICATE,
CLIENT_KEY,CLIENT_CERTIFICATE}`` variables (``zstd`` accepted) and the ``OTELKIT_EXPORTER_*``
knobs; explicit arguments win. Compared with the stock exporter it:

* encodes with :class:`~otelkit.exporter.encoder.SpanEncoder` (no protobuf objects);
* compresses with zstd (level 3) or gzip level 6, skipping bodies under 1 KiB;
* keeps connections alive, and bounds every ``export()`` by its timeout end to end:
  connect, send, status line, headers and body share one deadline
  (:mod:`otelkit.exporter._transport`, standard library only);
* retries 408/429/502/503/504 and connection errors with jittered exponential backoff or
  the server's ``Retry-After``, never past the export timeout, cut short by ``shutdown()``;
* never loses a batch to a refused encoding: a receiver answering 400/415 to a compressed
  body gets the same batch again with gzip, then uncompressed, and the one that works is
  kept (one warning; the configured codec is probed again later, :mod:`._negotiate`);
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from otelkit import config
from otelkit._fork import ForkSafeLock, after_fork, fresh_event
from otelkit._parse import check_range
from otelkit._warn import warn_limited
from otelkit.exporter._encoded import EncodedSpan, request_parts, split_requests
from otelkit.exporter._export import export_spans
from otelkit.exporter._http_config import HttpSettings, resolve
from otelkit.exporter._http_send import HttpSender, Outcome
from otelkit.exporter._negotiate import DEFAULT_PROBE_INTERVAL_S, fallback_chain
from otelkit.exporter._request import write_parts
from otelkit.exporter._spool import Record
from otelkit.exporter._spool_replay import Replayer
from otelkit.exporter._spool_settings import OTELKIT_SPOOL_REPLAY_SPANS_PER_S, spool_from_env
from otelkit.exporter._stats import ExportStats
from otelkit.exporter.compression import Body, Compressor
from otelkit.pool.buffer import BufferPool

__all__ = ["OtlpHttpSpanExporter"]

_logger = logging.getLogger("otelkit.exporter.http")
_shared_pool: BufferPool | None = None
_shared_pool_lock = ForkSafeLock()  # re-made in a forked child (another thread may hold it at fork)


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
        compression_probe_s: after a receiver refused the configured compression, seconds
            before it is tried again; default 300.
        spool_dir: disk spool for batches that cannot be delivered (``docs/spool.md``);
            default ``OTELKIT_SPOOL_DIR`` (none).
        meter_provider: provider for the self-metrics (``OTELKIT_SELF_METRICS``); default global.
        environ: mapping read instead of ``os.environ``.
        clock: monotonic clock in seconds for the compression probes (tests pass a fake one).

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
        compression_probe_s: float | None = None,
        spool_dir: str | None = None,
        meter_provider: Any = None,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        env = os.environ if environ is None else environ
        _check_range("max_request_bytes", max_request_bytes, 1024)
        _check_range("max_retries", max_retries, 0)
        _check_range("min_compress_bytes", min_compress_bytes, 0)
        if buffer_pool is not None and not isinstance(buffer_pool, (bool, BufferPool)):
            raise ValueError(f"buffer_pool={buffer_pool!r} is invalid: expected True, False or a BufferPool")
        if retry_initial is not None and not (isinstance(retry_initial, (int, float)) and retry_initial > 0):
            raise ValueError(f"retry_initial={retry_initial!r} is invalid: expected seconds > 0")
        if compression_probe_s is not None and not (
            isinstance(compression_probe_s, (int, float)) and compression_probe_s > 0
        ):
            raise ValueError(f"compression_probe_s={compression_probe_s!r} is invalid: expected seconds > 0")
        explicit = {
            "endpoint": endpoint, "certificate_file": certificate_file, "client_key_file": client_key_file,
            "client_certificate_file": client_certificate_file, "headers": headers, "timeout": timeout,
            "compression": compression, "compression_level": compression_level,
            "min_compress_bytes": min_compress_bytes, "max_request_bytes": max_request_bytes,
            "max_retries": max_retries, "retry_initial": retry_initial,
            "buffer_pool": buffer_pool if isinstance(buffer_pool, bool) else None,
        }
        self.settings: HttpSettings = resolve(explicit, env)
        self._pool: BufferPool | None = (
            buffer_pool if isinstance(buffer_pool, BufferPool) else _default_pool() if self.settings.buffer_pool else None
        )
        self._stats = ExportStats(
            None, config.OTELKIT_SELF_METRICS.get(env), meter_provider, endpoint=self.settings.endpoint,
        )
        self._shutdown = threading.Event()
        self._sender = HttpSender(
            self.settings, self._stats, self._shutdown, self._make_compressors(compression_level is not None),
            DEFAULT_PROBE_INTERVAL_S if compression_probe_s is None else compression_probe_s, clock,
        )
        self._spool = spool_from_env("otlp_http", spool_dir, env)
        self._replayer: Replayer | None = None
        if self._spool is not None:
            self._replayer = Replayer(self._spool, self._replay, OTELKIT_SPOOL_REPLAY_SPANS_PER_S.get(env))
            self._stats.observe_spool(self._spool.snapshot)
            self._replayer.start()
        after_fork(self._after_fork)

    def _after_fork(self) -> None:
        # Another thread may have held the event's lock at fork time: a new one, same state.
        self._shutdown = fresh_event(self._shutdown)
        self._sender.use_shutdown(self._shutdown)

    # ------------------------------------------------------------------ SpanExporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send ``spans``; SUCCESS only if every span was encoded and every request accepted.
        Never raises.

        A span that cannot be encoded is counted failed (``error="encode"``) alone; the others
        are sent. An empty batch is SUCCESS without a request, except after :meth:`shutdown`:
        then, like any batch, it is FAILURE (the stock exporter's answer), and nothing is counted.
        """
        return export_spans(spans, self._shutdown.is_set(), self._stats.spans, self.export_encoded)

    def export_encoded(self, spans: Sequence[EncodedSpan]) -> SpanExportResult:
        """Send spans encoded at ``on_end`` (:mod:`otelkit.exporter._encoded`): requests are
        assembled by concatenation, split at ``max_request_bytes``. Same retries, spool, stats
        and result as :meth:`export`. Never raises."""
        total = len(spans)
        if self._shutdown.is_set():  # even an empty batch: nothing is accepted after shutdown
            if total:
                self._stats.spans(failed=total, error="shutdown")
            return SpanExportResult.FAILURE
        if not total:
            return SpanExportResult.SUCCESS
        started = time.monotonic()
        token = otel_context.attach(otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True))
        self._stats.begin(total)
        ok = True
        done = 0
        try:
            deadline = started + self.settings.timeout_s
            for chunk, payload in self._chunks(spans):
                ok = self._deliver(len(chunk), payload, deadline) and ok
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
        if self._replayer is not None:
            self._replayer.stop()
        if self._spool is not None:
            self._spool.close()
        try:
            self._sender.close()
        except Exception:  # noqa: BLE001
            _logger.debug("closing the connections failed", exc_info=True)

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here; always True."""
        return True

    def stats(self) -> dict[str, Any]:
        """Counters snapshot (see :mod:`otelkit.exporter._stats` for the keys), with the
        spool's counts as ``spool_*`` keys when a spool is configured (``docs/spool.md``)."""
        out = self._stats.snapshot()
        if self._spool is not None:
            out.update({f"spool_{k}": v for k, v in self._spool.snapshot().items()})
        return out

    # ------------------------------------------------------------------ internals

    def _make_compressors(self, level_is_explicit: bool) -> dict[str, Compressor]:
        """A compressor per encoding of the fallback chain; the configured level applies to
        the configured codec only."""
        s = self.settings
        out = {}
        for name in fallback_chain(s.compression):
            level = (s.compression_level or None) if name == s.compression else None
            try:
                out[name] = Compressor(name, level, s.min_compress_bytes)
            except ValueError as exc:
                if level_is_explicit:
                    raise
                warn_limited(_logger, "compression-level", "%s (OTELKIT_EXPORTER_COMPRESSION_LEVEL); using the default", exc)
                out[name] = Compressor(name, None, s.min_compress_bytes)
        return out

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

    def _deliver(self, n: int, payload: Body, deadline: float) -> bool:
        """Send one encoded request of ``n`` spans and account for every span. Never raises.

        This is the exporter's send path for already-encoded bytes (``export()`` calls it
        per request; so can anything else holding an encoded ``ExportTraceServiceRequest``).
        With a spool, a request that cannot be delivered now is spooled (True); while the
        receiver is known to be down, requests go straight to the spool.
        """
        replayer = self._replayer
        if replayer is not None:
            replayer.start()  # no-op unless a forked child lost the thread
            if replayer.outage:
                return self._to_spool(n, payload, "the receiver is down")
        outcome = self._sender.send(n, payload, deadline, retry_refused=replayer is None)
        if outcome.ok:
            self._stats.spans(exported=n - outcome.rejected, rejected=outcome.rejected)
            if replayer is not None:
                replayer.delivered()
            return True
        if outcome.spoolable and replayer is not None:
            replayer.failed()
            return self._to_spool(n, payload, outcome.detail or outcome.error)
        warn_limited(_logger, "export-failed:" + outcome.error, "dropping %d spans for %s: %s",
                     n, self._sender.endpoint, outcome.detail or outcome.error)
        self._stats.spans(failed=n, error=outcome.error)
        return False

    def _to_spool(self, n: int, payload: Body, why: str) -> bool:
        assert self._spool is not None
        if self._spool.append(n, bytes(payload)):
            warn_limited(_logger, "spooled", "spooling spans for %s (%s); they are sent when it answers",
                         self._sender.endpoint, why)
            self._stats.spans(spooled=n)
            return True
        self._stats.spans(failed=n, error="spool_full")
        return False

    def _replay(self, record: Record) -> Outcome:
        """Send one spooled request once (the replayer paces and backs off)."""
        return self._sender.send(record.spans, record.body, time.monotonic() + self.settings.timeout_s, max_retries=0)


def _check_range(name: str, value: int | None, lo: int) -> None:
    if value is not None:
        check_range(name, value, lo=lo, integer=True)
