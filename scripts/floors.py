"""Test otelkit against the lowest version of every core dependency that pyproject.toml allows.

Reads ``[project].dependencies``, turns each ``name>=X`` into ``name==X``, installs exactly
those floors (and the test runner) into a throwaway virtual environment, installs otelkit
itself there without dependencies (for its entry points), puts this checkout first on the
path, and runs the exporter's core tests there.
A floor that the code does not really support (urllib3 1.26 lacked ``read1``, issue 12)
fails here instead of in a user's environment.

Usage: python scripts/floors.py [pytest args]   (exit status is pytest's)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/exporter/test_http.py",
    "tests/exporter/test_compression.py",
    "tests/exporter/test_retry.py",
    "tests/exporter/test_stats.py",
    "tests/exporter/test_spool.py",
    "tests/exporter/test_compression_fallback.py",
    "tests/faults/test_http_faults.py",
]
RUNNER = ["pytest>=8", "pytest-timeout>=2.3"]
# Not otelkit dependencies, but what an application may bring along at its own floor: the
# exporter must not care (urllib3 1.26 broke every export while the exporter used urllib3).
ALONGSIDE = ["urllib3==1.26.0"]
_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-\[\]]+)\s*>=\s*([^,;\s]+)")


def floors(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """``name==lowest`` for every core dependency (each must declare a ``>=`` floor)."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    pins = []
    for dep in deps:
        match = _FLOOR.match(dep)
        if match is None:
            raise SystemExit(f"core dependency {dep!r} has no >= floor: declare its lowest version")
        pins.append(f"{match.group(1)}=={match.group(2)}")
    return pins


def main(argv: list[str]) -> int:
    pins = floors()
    print("==> dependency floors:", " ".join(pins), "| alongside:", " ".join(ALONGSIDE), flush=True)
    with tempfile.TemporaryDirectory(prefix="otelkit-floors-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        py = str(venv / "bin" / "python")
        subprocess.run(
            [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", *pins, *ALONGSIDE, *RUNNER], check=True
        )
        # otelkit itself without its dependencies, for its entry points (the exporter is found
        # through `opentelemetry_traces_exporter`); the checkout on PYTHONPATH is what runs
        subprocess.run(
            [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps", str(ROOT)], check=True
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        tests = [t for t in TESTS if (ROOT / t).exists()]
        cmd = [py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not peers", *tests, *argv]
        return subprocess.run(cmd, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
