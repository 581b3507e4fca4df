"""HTTPS export end to end against a TLS receiver on 127.0.0.1 with a CA made by the test.

The certificates come from the ``openssl`` CLI (no extra Python package): a test CA, a
server certificate for ``IP:127.0.0.1``, an expired one, one from a second (untrusted) CA
and a client certificate for mTLS. Verification is on by default (the test CA is not in the
system store, so the default exporter refuses it); ``OTEL_EXPORTER_OTLP_CERTIFICATE`` adds
the CA; ``OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE``/``_CLIENT_KEY`` give mTLS. A refused
certificate fails the export at once (no retries), with a warning naming the reason, and the
spans are counted as failed with ``error.type=tls``.
"""

from __future__ import annotations

import itertools
import logging
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export import SpanExportResult

from otelkit.exporter.http import OtlpHttpSpanExporter

from .conftest import realistic_batch

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")

N = 20


@dataclass(frozen=True)
class Pki:
    ca: Path
    server: tuple[Path, Path]  # (certificate, key)
    expired: tuple[Path, Path]
    untrusted: tuple[Path, Path]  # signed by another CA
    client: tuple[Path, Path]


_SERIALS = itertools.count(1000)


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=30)


def _ca(d: Path, name: str) -> tuple[Path, Path]:
    crt, key = d / f"{name}.crt", d / f"{name}.key"
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", crt, "-days", "2", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return crt, key


def _leaf(d: Path, name: str, ca: tuple[Path, Path], ext: str, days: int) -> tuple[Path, Path]:
    crt, key, csr, extfile = d / f"{name}.crt", d / f"{name}.key", d / f"{name}.csr", d / f"{name}.ext"
    extfile.write_text(ext + "\nbasicConstraints=CA:FALSE\n")
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial", str(next(_SERIALS)),
             "-out", crt, "-days", str(days), "-extfile", extfile)
    return crt, key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca, other = _ca(d, "otelkit-test-ca"), _ca(d, "someone-else-ca")
    server_ext = "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth"
    return Pki(
        ca=ca[0],
        server=_leaf(d, "server", ca, server_ext, 1),
        expired=_leaf(d, "expired", ca, server_ext, -1),  # notAfter one day in the past
        untrusted=_leaf(d, "untrusted", other, server_ext, 1),
        client=_leaf(d, "otelkit-client", ca, "extendedKeyUsage=clientAuth", 1),
    )


class TlsReceiver:
    """An HTTPS OTLP receiver: records each request's spans, headers and client certificate."""

    def __init__(self, cert: tuple[Path, Path], client_ca: Path | None = None) -> None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        if client_ca is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(str(client_ca))
        self.spans = 0
        self.headers: list[dict[str, str]] = []
        self.client_names: list[str] = []
        self.handshake_failures = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
                with receiver._lock:
                    receiver.spans += sum(len(ss.spans) for rs in ExportTraceServiceRequest.FromString(body)
                                          .resource_spans for ss in rs.scope_spans)
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                    if peer:
                        receiver.client_names.append(dict(x[0] for x in peer["subject"])["commonName"])
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[Any, Any]:
                sock, addr = self.socket.accept()  # handshake in the handler thread, not here
                return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

            def handle_error(self, request: Any, client_address: Any) -> None:
                with receiver._lock:
                    receiver.handshake_failures += 1

        self._server = Server(("127.0.0.1", 0), Handler)
        self.endpoint = f"https://127.0.0.1:{self._server.server_address[1]}/v1/traces"
        self._thread = threading.Thread(target=self._server.serve_forever, name="tls-receiver", daemon=True)

    def __enter__(self) -> TlsReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(5)
        self._server.server_close()


@contextmanager
def receiving(cert: tuple[Path, Path], client_ca: Path | None = None) -> Iterator[TlsReceiver]:
    with TlsReceiver(cert, client_ca) as rx:
        yield rx


def export(endpoint: str, environ: dict[str, str], **kw: Any) -> tuple[SpanExportResult, dict[str, Any], dict[str, int]]:
    """One export of N spans; (result, stats, failed spans by error.type from the self-metrics)."""
    reader = InMemoryMetricReader()
    exp = OtlpHttpSpanExporter(endpoint=endpoint, timeout=10, max_retries=0, environ=environ,
                               meter_provider=MeterProvider(metric_readers=[reader]), **kw)
    try:
        result = exp.export(realistic_batch(N))
    finally:
        exp.shutdown()
    failed: dict[str, int] = {}
    data = reader.get_metrics_data()
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in getattr(metric.data, "data_points", []):
                    error = (point.attributes or {}).get("error.type")
                    if error and metric.name.endswith("span.exported"):
                        failed[str(error)] = failed.get(str(error), 0) + int(point.value)
    return result, exp.stats(), failed


def _warnings(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("otelkit"))


def test_verification_is_on_by_default(pki: Pki, caplog: pytest.LogCaptureFixture) -> None:
    """The test CA is in no system store: a default exporter must refuse the receiver."""
    with receiving(pki.server) as rx:
        result, stats, failed = export(rx.endpoint, {})
    assert result is SpanExportResult.FAILURE and rx.spans == 0
    assert stats["spans_failed"] == N and stats["requests"] == 1  # refused once, not retried
    assert failed == {"tls": N}
    assert "certificate verify failed" in _warnings(caplog)


def test_custom_ca_from_otel_exporter_otlp_certificate(pki: Pki) -> None:
    with receiving(pki.server) as rx:
        result, stats, failed = export(rx.endpoint, {"OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca)})
    assert result is SpanExportResult.SUCCESS and rx.spans == N
    assert stats["spans_exported"] == N and failed == {}


def test_traces_certificate_variable_wins_over_the_generic_one(pki: Pki) -> None:
    with receiving(pki.server) as rx:
        result, _, _ = export(rx.endpoint, {"OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.server[0]),  # not a CA
                                            "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": str(pki.ca)})
    assert result is SpanExportResult.SUCCESS and rx.spans == N


def test_mtls_with_client_certificate_and_key(pki: Pki) -> None:
    env = {"OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca),
           "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": str(pki.client[0]),
           "OTEL_EXPORTER_OTLP_CLIENT_KEY": str(pki.client[1])}
    with receiving(pki.server, client_ca=pki.ca) as rx:
        result, stats, _ = export(rx.endpoint, env)
    assert result is SpanExportResult.SUCCESS and rx.spans == N
    assert rx.client_names == ["otelkit-client"] and stats["spans_exported"] == N


def test_mtls_receiver_refuses_an_exporter_without_a_client_certificate(pki: Pki) -> None:
    with receiving(pki.server, client_ca=pki.ca) as rx:
        result, stats, failed = export(rx.endpoint, {"OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca)})
    assert result is SpanExportResult.FAILURE and rx.spans == 0 and rx.handshake_failures >= 1
    assert stats["spans_failed"] == N and sum(failed.values()) == N


@pytest.mark.parametrize(("cert", "reason"), [
    ("expired", "certificate has expired"),
    ("untrusted", "certificate verify failed"),
])
def test_expired_or_untrusted_certificate_is_refused_and_counted(
    pki: Pki, cert: str, reason: str, caplog: pytest.LogCaptureFixture,
) -> None:
    with receiving(getattr(pki, cert)) as rx:
        result, stats, failed = export(rx.endpoint, {"OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca)})
    assert result is SpanExportResult.FAILURE and rx.spans == 0
    assert stats["spans_failed"] == N and failed == {"tls": N}
    lines = _warnings(caplog)
    assert reason in lines and f"dropping {N} spans for https://127.0.0.1:" in lines


# --------------------------------------------------------------------- configured secrets

SECRETS = ("Bearer-SECRET-7f3a", "api-SECRET-91bc", "sasl-SECRET-pass-55d", "SECRET-in-bad-pair-0e",
           "debug-SECRET-token-3c1", "url-SECRET-pass-8d2")


def test_configured_secrets_appear_in_no_log_config_output_stats_or_error(
    pki: Pki, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    """Every log record, ``otelkit config`` output (text and JSON), stats, repr and exception
    of a run with OTLP header credentials and Kafka SASL settings is searched for them."""
    from otelkit.cli import main
    from otelkit.exporter.kafka import KafkaSpanExporter
    from otelkit.testing import free_port

    caplog.set_level(logging.DEBUG)
    env = {
        "OTEL_EXPORTER_OTLP_HEADERS": f"authorization={SECRETS[0]},{SECRETS[3]}",  # 2nd pair malformed
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS": f"x-api-key={SECRETS[1]}",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": str(pki.ca),
        "OTELKIT_KAFKA_PRODUCER_CONFIG": f"security.protocol=SASL_PLAINTEXT,sasl.mechanism=PLAIN,"
                                         f"sasl.username=otelkit,sasl.password={SECRETS[2]}",
        "OTELKIT_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",  # nobody listens: librdkafka logs
        "OTELKIT_KAFKA_TIMEOUT_MS": "1500",
        "OTELKIT_WARN_INTERVAL_S": "0",  # log every occurrence: nothing hidden by the limiter
        "OTELKIT_SAMPLER_DEBUG_TOKEN": SECRETS[4],
    }
    seen: list[str] = []
    with receiving(pki.server) as ok:  # accepted: the receiver does get the credentials
        seen.append(repr(export(ok.endpoint, env)))
    assert ok.headers[0]["authorization"] == SECRETS[0] and ok.headers[0]["x-api-key"] == SECRETS[1]
    with receiving(pki.untrusted) as refused:  # refused by TLS
        seen.append(repr(export(refused.endpoint, env)))
    seen.append(repr(export(f"http://127.0.0.1:{free_port()}/v1/traces", env)))  # connection refused
    exp = OtlpHttpSpanExporter(environ=env)
    seen += [repr(exp.settings), repr(exp), repr(exp.stats())]
    for bad in ({"endpoint": "ftp://x"}, {"timeout": -1}, {"max_retries": -1}):
        with pytest.raises(ValueError) as err:
            OtlpHttpSpanExporter(headers={"authorization": SECRETS[0]}, environ=env, **bad)
        seen.append(str(err.value))
    from opentelemetry import baggage

    from otelkit.sampling.rules import RulesSampler

    sampler = RulesSampler("drop", environ=env)
    for value in (SECRETS[4], "guess"):  # honoured, refused
        sampler.should_sample(baggage.set_baggage("otelkit.debug", value), 1, "x")  # type: ignore[arg-type]
    seen += [repr(sampler.stats()), sampler.get_description()]
    kafka = KafkaSpanExporter(environ=env)
    seen.append(repr(kafka.export(realistic_batch(N))))
    seen += [repr(kafka.stats()), repr(kafka)]
    kafka.shutdown()
    for argv in (["config"], ["config", "--all"], ["config", "--json"]):
        main(argv, environ={**env, "OTELKIT_WARN_INTERVAL_S": "not-a-number",
                            "OTEL_EXPORTER_OTLP_ENDPOINT": f"https://otelkit:{SECRETS[5]}@127.0.0.1:4318"})
    out = capsys.readouterr()
    seen += [out.out, out.err]
    seen += [r.getMessage() + (logging.Formatter().formatException(r.exc_info) if r.exc_info else "")
             for r in caplog.records]
    assert any("librdkafka" in r.name for r in caplog.records)  # the Kafka client did log
    assert "<redacted>" in out.out and "OTEL_EXPORTER_OTLP_HEADERS" in out.out
    text = "\n".join(seen)
    assert [s for s in SECRETS if s in text] == []
