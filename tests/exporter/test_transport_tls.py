"""The standard-library transport over TLS: server verification, mutual TLS, and the deadline."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace.export import SpanExportResult

from otelkit.exporter.http import OtlpHttpSpanExporter

from .conftest import realistic_batch

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


class TlsSink:
    def __init__(self, cert: Path, key: Path, client_ca: Path | None = None, stall_s: float = 0.0) -> None:
        self.requests = 0
        self.client_certs: list[Any] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.requests += 1
                sink.client_certs.append(self.connection.getpeercert())  # type: ignore[attr-defined]
                if stall_s:
                    time.sleep(stall_s)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if client_ca is not None:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    d = tmp_path_factory.mktemp("certs")
    return {"server": self_signed(d, "server"), "client": self_signed(d, "client")}


@pytest.fixture
def tls_sink(certs: dict[str, tuple[Path, Path]]) -> Iterator[Any]:
    started: list[TlsSink] = []

    def start(**kw: Any) -> TlsSink:
        started.append(TlsSink(*certs["server"], **kw))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def make(endpoint: str, **kw: Any) -> OtlpHttpSpanExporter:
    return OtlpHttpSpanExporter(endpoint=endpoint, environ={"OTELKIT_SELF_METRICS": "false"}, **kw)


def test_https_with_the_servers_ca_is_exported_over_one_kept_alive_connection(
    tls_sink: Any, certs: dict[str, tuple[Path, Path]]
) -> None:
    sink = tls_sink()
    exp = make(sink.endpoint, certificate_file=str(certs["server"][0]), compression="gzip")
    for _ in range(3):
        assert exp.export(realistic_batch(50)) == SpanExportResult.SUCCESS
    assert sink.requests == 3 and exp._sender.transport.connections_made == 1
    exp.shutdown()


def test_an_untrusted_server_certificate_fails_and_counts(tls_sink: Any) -> None:
    sink = tls_sink()
    exp = make(sink.endpoint, timeout=2.0, max_retries=0)  # the system CAs do not know it
    assert exp.export(realistic_batch(5)) == SpanExportResult.FAILURE
    assert sink.requests == 0 and exp.stats()["spans_failed"] == 5
    exp.shutdown()


def test_mutual_tls_sends_the_client_certificate(tls_sink: Any, certs: dict[str, tuple[Path, Path]]) -> None:
    client_cert, client_key = certs["client"]
    sink = tls_sink(client_ca=client_cert)
    exp = make(sink.endpoint, certificate_file=str(certs["server"][0]), client_certificate_file=str(client_cert),
               client_key_file=str(client_key))
    assert exp.export(realistic_batch(5)) == SpanExportResult.SUCCESS
    assert sink.client_certs and sink.client_certs[0]  # the server saw and verified it
    exp.shutdown()


def test_a_stalled_tls_answer_ends_at_the_timeout(tls_sink: Any, certs: dict[str, tuple[Path, Path]]) -> None:
    sink = tls_sink(stall_s=6.0)  # far past the bound below
    exp = make(sink.endpoint, certificate_file=str(certs["server"][0]), timeout=1.0, max_retries=0)
    t0 = time.monotonic()
    assert exp.export(realistic_batch(5)) == SpanExportResult.FAILURE
    assert time.monotonic() - t0 <= 2.5  # a correctness bound (timeout + CI slack): the deadline holds over TLS too
    exp.shutdown()
