"""The reports over the settings registry: the effective configuration, every problem
``otelkit config`` fails on, and the Markdown table docs/configuration.md is generated from.

Re-exported by :mod:`otelkit.config` (``config.effective``, ``config.problems``, ...).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from otelkit import config as _config

if TYPE_CHECKING:
    from otelkit.config import Setting

__all__ = ["Problem", "Row", "environment_check", "effective", "invalid", "problems", "unknown_names",
           "markdown_table"]

EnvCheck = Callable[[Mapping[str, str]], Iterable[tuple[str, str]]]
_CHECKS: list[tuple[EnvCheck, bool]] = []


def environment_check(*, deep: bool = False) -> Callable[[EnvCheck], EnvCheck]:
    """Register a component check: ``check(environ)`` yields ``(variable, message)`` per
    problem, by calling the parsers and constructors the runtime calls. ``deep`` checks
    (building a Kafka client) are left out by ``problems(deep=False)``."""

    def register(check: EnvCheck) -> EnvCheck:
        _CHECKS.append((check, deep))
        return check

    return register


_TOOLING = frozenset({"OTELKIT_VENV"})
"""``OTELKIT_*`` names the repository's scripts read (scripts/_venv.sh), not the library."""


@dataclass(frozen=True)
class Problem:
    """One reason ``otelkit config`` fails: the variable and a message that names the bad
    value (secrets masked) and what is allowed."""

    name: str
    message: str


def problems(environ: Mapping[str, str] | None = None, *, deep: bool = True) -> list[Problem]:
    """Every invalid value, cross-setting inconsistency and unknown ``OTELKIT_*`` name."""
    env = os.environ if environ is None else environ
    out = [Problem(r.name, r.error or "") for r in effective(env) if r.source == "invalid"]
    for check, is_deep in _CHECKS:
        if deep or not is_deep:
            try:
                out.extend(Problem(name, message) for name, message in check(env))
            except Exception as exc:  # noqa: BLE001 - a broken check must not hide the others
                out.append(Problem("otelkit", f"check {getattr(check, '__name__', check)} failed: {exc}"))
    return out + unknown_names(env)


def unknown_names(environ: Mapping[str, str] | None = None) -> list[Problem]:
    """``OTELKIT_*`` names in ``environ`` that are not settings, each with the closest one."""
    env = os.environ if environ is None else environ
    known = _config._load_all()
    out = []
    for name in sorted(env):
        if (name.startswith("OTELKIT_") and name not in known and name not in _TOOLING
                and not name.startswith(_config.EXAMPLE_PREFIX)):
            close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
            hint = f"; did you mean {close[0]}?" if close else "; see `otelkit config --markdown`"
            out.append(Problem(name, f"{name} is not an otelkit setting{hint}"))
    return out


# --------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the effective configuration."""

    name: str
    value: str
    source: str  # "env", "default" or "invalid"
    error: str | None
    setting: Setting[Any]


def _display(setting: Setting[Any], value: Any) -> str:
    if setting.secret and value:
        return "<redacted>"
    if isinstance(value, bool):
        return "true" if value else "false"
    return _config.mask_userinfo(str(value))


def effective(environ: Mapping[str, str] | None = None) -> list[Row]:
    """The effective value and its source for every declared setting."""
    rows = []
    for setting in _config._load_all().values():
        raw = setting.raw(environ)
        if raw is None:
            rows.append(Row(setting.name, _display(setting, setting.default), "default", None, setting))
            continue
        try:
            value = setting.parse(raw)
        except ValueError as exc:
            rows.append(Row(setting.name, _display(setting, setting.default), "invalid", str(exc), setting))
        else:
            rows.append(Row(setting.name, _display(setting, value), "env", None, setting))
    return rows


def invalid(environ: Mapping[str, str] | None = None) -> list[Row]:
    """Rows whose environment value does not parse."""
    return [row for row in effective(environ) if row.source == "invalid"]


def markdown_table(settings: Iterable[Setting[Any]] | None = None) -> str:
    """A Markdown table of ``settings`` (default: every library setting; what
    docs/configuration.md is generated from)."""
    lines = ["| variable | default | allowed | component | meaning |", "| --- | --- | --- | --- | --- |"]
    for s in _config._load_all().values() if settings is None else settings:
        comp = "standard" if s.standard else s.component
        lines.append(f"| `{s.name}` | `{_display(s, s.default)}` | {s.allowed} | {comp} | {s.doc} |")
    return "\n".join(lines) + "\n"
