"""Print otelkit/stock median ratios from a pytest-benchmark JSON file.

Usage::

    python benchmarks/ratio.py benchmarks/results/latest.json

Benchmarks are paired by group; the side of each comes from ``extra_info["side"]`` or
from a ``stock``/``otelkit`` token in its parameter id. A ratio below 1 means otelkit is
faster. Extra numeric ``extra_info`` fields (drop %, bytes/span, ...) are printed too.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from typing import Any

_SIDE_RE = re.compile(r"(?:^|[\[\-_])(stock|otelkit)(?:[\]\-_]|$)")


def side_of(bench: dict[str, Any]) -> str | None:
    side = (bench.get("extra_info") or {}).get("side")
    if side in ("stock", "otelkit"):
        return str(side)
    m = _SIDE_RE.search(bench.get("param") or "") or _SIDE_RE.search(bench.get("name") or "")
    return m.group(1) if m else None


def variant_of(bench: dict[str, Any]) -> str:
    """The benchmark's identity without its side token, so variants pair up."""
    name = bench.get("name") or ""
    return _SIDE_RE.sub(lambda m: m.group(0).replace(m.group(1), "*"), name)


def rows(data: dict[str, Any]) -> list[tuple[str, str, float, float | None, float | None]]:
    by_key: dict[tuple[str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    for bench in data.get("benchmarks", []):
        side = side_of(bench)
        if side is None:
            continue
        by_key[(bench.get("group") or "", variant_of(bench))][side] = bench
    out = []
    for (group, variant), sides in sorted(by_key.items()):
        stock = sides.get("stock", {}).get("stats", {}).get("median")
        mine = sides.get("otelkit", {}).get("stats", {}).get("median")
        ratio = mine / stock if stock and mine is not None else float("nan")
        out.append((group, variant, ratio, stock, mine))
    return out


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds:.3g} s"


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1]) as fh:
        data = json.load(fh)
    table = rows(data)
    if not table:
        print("no paired stock/otelkit benchmarks found", file=sys.stderr)
        return 1
    print("| group | benchmark | stock median | otelkit median | otelkit / stock |")
    print("| --- | --- | --- | --- | --- |")
    for group, variant, ratio, stock, mine in table:
        print(f"| {group} | {variant} | {_fmt_time(stock)} | {_fmt_time(mine)} | {ratio:.3f} |")
    extras = [
        (b.get("group") or "", b.get("name") or "", {k: v for k, v in b["extra_info"].items() if k != "side"})
        for b in data.get("benchmarks", [])
        if b.get("extra_info")
    ]
    extras = [e for e in extras if e[2]]
    if extras:
        print("\nextra measurements:")
        for group, name, info in sorted(extras, key=lambda e: (e[0], e[1])):
            print(f"  {group}: {name}: {info}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
