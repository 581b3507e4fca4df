"""The documentation site builds with ``mkdocs build --strict``: no broken link or anchor,
every docs/*.md page included, and the API reference generated from the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import otelkit

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def test_every_page_is_in_the_site(site: Path) -> None:
    for page in sorted((ROOT / "docs").glob("*.md")):
        built = site / ("index.html" if page.stem == "index" else f"{page.stem}/index.html")
        assert built.is_file(), f"{page.name} is not in the site"


def test_api_reference_renders_every_public_name(site: Path) -> None:
    html = (site / "api" / "index.html").read_text()
    for name, module in otelkit._EXPORTS.items():
        assert f'id="{module}.{name}"' in html, f"{module}.{name} is missing from the API reference"
