"""Open a demo report in real headless Chromium (Debian's ``chromium``) and read the DOM it rendered.

The page draws its charts with its own script, so the SVG elements found here exist only if
the script ran in the browser on the embedded data. ``scripts/test`` installs chromium; a
missing browser fails the test with a message saying how to install it (never a skip).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from otelkit.testing import scrubbed_env

VOID = {"meta", "br", "img", "input", "link", "hr", "col", "source", "wbr", "area", "base", "embed", "track"}


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    chart: str | None
    parent: Node | None
    text: str = ""
    children: list[Node] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[Node] = []
        self.stack: list[Node] = []
        self.chart: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "figure":
            self.chart = a.get("id")
        parent = self.stack[-1] if self.stack else None
        node = Node(tag, a, self.chart, parent)
        self.nodes.append(node)
        if parent is not None:
            parent.children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop().tag == tag:
                break
        if tag == "figure":
            self.chart = None

    def handle_data(self, data: str) -> None:
        for node in self.stack:
            node.text += data


class Dom:
    """The rendered page: its elements, the embedded data, the summary table."""

    def __init__(self, html: str) -> None:
        parser = _Parser()
        parser.feed(html)
        self.nodes = parser.nodes
        raw = next(n for n in self.nodes if n.tag == "script" and n.attrs.get("id") == "otelkit-data")
        self.data: dict[str, Any] = json.loads(raw.text)
        self.summary: dict[str, list[str]] = {}
        for tr in (n for n in self.nodes if n.tag == "tr"):
            cells = [c.text.strip() for c in tr.children if c.tag == "td"]
            if cells:
                self.summary[cells[0]] = cells[1:]

    def find(self, tag: str, *, chart: str | None = None, cls: str | None = None, label: str | None = None) -> list[Node]:
        return [
            n for n in self.nodes
            if n.tag == tag and (chart is None or n.chart == chart)
            and (cls is None or cls in n.attrs.get("class", "").split())
            and (label is None or n.attrs.get("data-label") == label)
        ]

    def legend(self, chart: str, series: str) -> str:
        found = [n.text.strip() for n in self.find("li", chart=chart) if n.attrs.get("data-series") == series]
        assert len(found) == 1, (chart, series, found)
        return found[0]

    def notes(self, chart: str) -> list[str]:
        return [n.text.strip() for n in self.find("li", chart=chart, cls="note")]

    def texts(self, chart: str, cls: str) -> list[str]:
        return [n.text.strip() for n in self.find("text", chart=chart, cls=cls)]


def render_in_chromium(page: Path, tmp: Path) -> Dom:
    """The DOM of ``page`` after headless Chromium ran its script."""
    browser = shutil.which("chromium")
    assert browser, (
        "Debian's chromium is not installed, and the demo report test needs a real browser: "
        "run scripts/test (it installs it) or `apt-get install -y chromium`"
    )
    argv = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp / 'chromium-profile'}", "--dump-dom", page.resolve().as_uri(),
    ]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=90, env=scrubbed_env({"HOME": str(tmp)}))
    assert proc.returncode == 0 and "<svg" in proc.stdout, proc.stderr[-3000:]
    dom = Dom(proc.stdout)
    body = next(n for n in dom.nodes if n.tag == "body")
    assert body.attrs.get("data-rendered") == "true", "the page's script did not finish"
    return dom


def check_line_charts(dom: Dom) -> None:
    """Every line chart has axes with values and draws each series of the embedded data: one
    path with its point count and one circle per point at the recorded values; an empty
    series is named as empty in the legend."""
    for chart in dom.data["lines"]:
        cid = chart["id"]
        ys, xs = dom.texts(cid, "y"), dom.texts(cid, "x")  # tick values from 0 past the largest value
        assert len(ys) >= 2 and len(xs) >= 2 and float(ys[0]) == 0 == float(xs[0]), (cid, ys, xs)
        top = max((p[1] for s in chart["series"] for p in s["points"]), default=0.0)
        assert float(ys[-1]) >= top and float(xs[-1]) >= max((p[0] for s in chart["series"] for p in s["points"]), default=0)
        for series in chart["series"]:
            name, points = series["name"], series["points"]
            paths = [p for p in dom.find("path", chart=cid, cls="series") if p.attrs["data-series"] == name]
            dots = [c for c in dom.find("circle", chart=cid, cls="point") if c.attrs["data-series"] == name]
            if points:
                assert len(paths) == 1 and paths[0].attrs["data-points"] == str(len(points)), (cid, name)
                assert [[float(d.attrs["data-x"]), float(d.attrs["data-y"])] for d in dots] == points, (cid, name)
                assert dom.legend(cid, name).startswith(f"{name}: {len(points)} points")
            else:
                assert not paths and not dots, (cid, name)
                assert dom.legend(cid, name) == f"{name}: no data ({series['empty']})"
