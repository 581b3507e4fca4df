"""The setting mechanism and the registry of every variable otelkit reads.

Each component declares its settings next to it (``otelkit/_settings.py`` for the pipeline,
``otelkit/batch/_settings.py``, ``otelkit/exporter/_settings.py``,
``otelkit/sampling/_settings.py``, ``otelkit/tail/_settings.py``,
``otelkit/middleware/_settings.py``) with the typed helpers below; this module keeps the
mechanism, the registry and the reports. Every setting stays reachable as
``otelkit.config.<NAME>``: the name is resolved on first use from the module that declares
it, so importing this module imports no component.

* ``setting.get(environ)`` returns the parsed value, or the documented default when the
  variable is missing or empty. An invalid value logs one rate-limited warning naming
  the variable, the bad value and what is allowed, and the default is used: the host
  application never crashes on a typo.
* ``setting.resolve(explicit, environ)`` returns ``explicit`` when it is not ``None``:
  explicit constructor arguments always win over environment variables.
* ``setting.parse(raw)`` raises :class:`ValueError` with the same message; ``otelkit
  config`` uses it (and the component checks, :func:`problems`) to fail a deployment check.

Standard ``OTEL_*`` variables that otelkit honours are declared as well (``standard=True``)
so ``otelkit config`` shows the whole effective configuration; otelkit-only knobs are
``OTELKIT_*``.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from otelkit import _warn
from otelkit._parse import check_range, parse_bool, range_text

if TYPE_CHECKING:  # at run time these names resolve lazily, through __getattr__ below
    from otelkit._config_report import (
        Problem,
        Row,
        effective,
        environment_check,
        invalid,
        markdown_table,
        problems,
        unknown_names,
    )
    from otelkit._settings import *  # noqa: F403
    from otelkit.batch._settings import *  # noqa: F403
    from otelkit.exporter._settings import *  # noqa: F403
    from otelkit.middleware._settings import *  # noqa: F403
    from otelkit.sampling._settings import *  # noqa: F403
    from otelkit.tail._settings import *  # noqa: F403

    SETTINGS: dict[str, Setting[Any]]
    """Every library setting by variable name, in documentation order."""

__all__ = [
    "Setting",
    "SETTINGS",
    "Problem",
    "Row",
    "bool_setting",
    "int_setting",
    "float_setting",
    "enum_setting",
    "str_setting",
    "size_setting",
    "parse_size",
    "HOUR_MS",
    "environment_check",
    "effective",
    "invalid",
    "problems",
    "unknown_names",
    "markdown_table",
]

_logger = logging.getLogger("otelkit.config")

T = TypeVar("T")

_REGISTRY: dict[str, Setting[Any]] = {}

# Where each name is declared: first matching prefix wins (a test keeps this in step).
_HOMES: tuple[tuple[str, str], ...] = (
    ("OTEL_BSP_", "otelkit.batch._settings"),
    ("OTELKIT_BATCH_", "otelkit.batch._settings"),
    ("OTEL_EXPORTER_OTLP_", "otelkit.exporter._settings"),
    ("OTELKIT_EXPORTER_", "otelkit.exporter._settings"),
    ("OTELKIT_KAFKA_CONSUMER_", "otelkit.middleware._settings"),
    ("OTELKIT_KAFKA_MAX_LINKS", "otelkit.middleware._settings"),
    ("OTELKIT_KAFKA_", "otelkit.exporter._settings"),
    ("KAFKA_COMPRESSIONS", "otelkit.exporter._settings"),
    ("COMPRESSIONS", "otelkit.exporter._settings"),
    ("OTELKIT_SAMPLER_", "otelkit.sampling._settings"),
    ("OTELKIT_RULES", "otelkit.sampling._settings"),
    ("OTELKIT_TAIL_WORKER_", "otelkit.tailworker._settings"),
    ("OTELKIT_TAIL_", "otelkit.tail._settings"),
    ("OTELKIT_ASGI_", "otelkit.middleware._settings"),
    ("OTEL_PYTHON_", "otelkit.middleware._settings"),
    ("OTEL", "otelkit._settings"),
)
_MODULES = (
    "otelkit._settings",
    "otelkit.batch._settings",
    "otelkit.exporter._settings",
    "otelkit.sampling._settings",
    "otelkit.tail._settings",
    "otelkit.tailworker._settings",
    "otelkit.middleware._settings",
)

HOUR_MS = 3_600_000
"""Upper bound of every millisecond setting: longer waits overflow the platform's timers."""

EXAMPLE_PREFIX = "OTELKIT_EXAMPLE_"
"""Variables of the example servers (``examples/``), declared there, not in the library."""


def _home(name: str) -> str | None:
    return next((module for prefix, module in _HOMES if name.startswith(prefix)), None)


def _load_all() -> dict[str, Setting[Any]]:
    for module in _MODULES:
        importlib.import_module(module)
    rank = {m: i for i, m in enumerate(_MODULES)}
    seq = {name: i for i, name in enumerate(_REGISTRY)}
    names = sorted(_REGISTRY, key=lambda n: (rank.get(_home(n) or "", len(rank)), seq[n]))
    ordered = {name: _REGISTRY[name] for name in names}
    globals()["SETTINGS"] = ordered
    return ordered


_REPORTS = frozenset({"Problem", "Row", "environment_check", "effective", "invalid", "markdown_table", "problems",
                      "unknown_names"})
"""Names re-exported from otelkit._config_report (the reports over the registry)."""


def __getattr__(name: str) -> Any:
    if name == "SETTINGS":
        return _load_all()
    module = "otelkit._config_report" if name in _REPORTS else _home(name) if name.isupper() else None
    if module is None:
        raise AttributeError(f"module 'otelkit.config' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable: its name, parser, default and documentation.

    ``explain``: add the parser's own message to the error (for structured values such as
    policies or rules, where "expected ..." alone does not say which part is wrong); such a
    parser must keep secret values out of its messages.
    """

    name: str
    default: T
    doc: str
    allowed: str
    parser: Callable[[str], T] = field(repr=False)
    component: str = "core"
    standard: bool = False
    secret: bool = False
    explain: bool = False

    def parse(self, raw: str) -> T:
        """Parse ``raw``; raise ValueError naming the variable and what is allowed."""
        try:
            return self.parser(raw.strip())
        except (ValueError, TypeError, OverflowError) as exc:
            why = f" ({exc})" if self.explain and str(exc) else ""  # explained messages never hold values
            raise ValueError(f"{self.name}={self._show(raw)!r} is invalid: expected {self.allowed}{why}") from None

    def raw(self, environ: Mapping[str, str] | None = None) -> str | None:
        """The raw value from ``environ`` (default ``os.environ``), ``None`` if unset or blank."""
        env = os.environ if environ is None else environ
        value = env.get(self.name)
        if value is None or not value.strip():
            return None
        return value

    def get(self, environ: Mapping[str, str] | None = None) -> T:
        """The parsed value, or the default (with a warning) when the value is invalid."""
        raw = self.raw(environ)
        if raw is None:
            return self.default
        try:
            return self.parse(raw)
        except ValueError as exc:
            _warn.warn_limited(_logger, "config:" + self.name, "%s; using the default %r", exc, self.default)
            return self.default

    def resolve(self, explicit: T | None, environ: Mapping[str, str] | None = None) -> T:
        """``explicit`` when given (constructor arguments win), else :meth:`get`."""
        if explicit is not None:
            return explicit
        return self.get(environ)

    def _show(self, raw: str) -> str:
        return "<redacted>" if self.secret else mask_userinfo(raw)


_USERINFO = re.compile(r"(\w+://[^/@:\s]*:)[^/@\s]*@")
"""The password of a URL's user info (``https://user:pass@host``): a credential too."""


def mask_userinfo(text: str) -> str:
    """``text`` with the password of every URL's user info replaced by ``<redacted>``."""
    return _USERINFO.sub(r"\1<redacted>@", text)


def _declare(setting: Setting[T], registry: dict[str, Setting[Any]] | None = None) -> Setting[T]:
    target = _REGISTRY if registry is None else registry
    if setting.name in target:
        raise ValueError(f"setting {setting.name} is declared twice")
    target[setting.name] = setting
    return setting


def bool_setting(name: str, default: bool, doc: str, *, registry: dict[str, Any] | None = None,
                 **kw: Any) -> Setting[bool]:
    """Declare a boolean variable (true/false, 1/0, yes/no, on/off; case-insensitive)."""
    return _declare(Setting(name, default, doc, "true or false", parse_bool, **kw), registry)


def _number_setting(name: str, default: Any, doc: str, integer: bool, lo: float | None, hi: float | None,
                    registry: dict[str, Any] | None, kw: dict[str, Any]) -> Setting[Any]:
    def parse(raw: str) -> Any:
        value = int(raw, 10) if integer else float(raw)
        return check_range(name, value, lo=lo, hi=hi, integer=integer)

    allowed = range_text(lo, hi, integer=integer)
    return _declare(Setting(name, default, doc, allowed, parse, **kw), registry)


def int_setting(
    name: str,
    default: int,
    doc: str,
    *,
    min: int | None = None,  # noqa: A002 - reads naturally at declaration sites
    max: int | None = None,  # noqa: A002
    registry: dict[str, Any] | None = None,
    **kw: Any,
) -> Setting[int]:
    """Declare an integer variable with optional inclusive bounds."""
    return _number_setting(name, default, doc, True, min, max, registry, kw)


def float_setting(
    name: str,
    default: float,
    doc: str,
    *,
    min: float | None = None,  # noqa: A002
    max: float | None = None,  # noqa: A002
    registry: dict[str, Any] | None = None,
    **kw: Any,
) -> Setting[float]:
    """Declare a finite float variable with optional inclusive bounds."""
    return _number_setting(name, default, doc, False, min, max, registry, kw)


def enum_setting(
    name: str, default: str, choices: Iterable[str], doc: str, *, registry: dict[str, Any] | None = None,
    **kw: Any,
) -> Setting[str]:
    """Declare a variable taking one of ``choices`` (case-insensitive, stored lower-case)."""
    options = tuple(choices)

    def parse(raw: str) -> str:
        low = raw.lower()
        if low not in options:
            raise ValueError(raw)
        return low

    return _declare(Setting(name, default, doc, "one of " + ", ".join(options), parse, **kw), registry)


def str_setting(
    name: str,
    default: str,
    doc: str,
    allowed: str = "any string",
    *,
    validate: Callable[[str], object] | None = None,
    registry: dict[str, Any] | None = None,
    **kw: Any,
) -> Setting[str]:
    """Declare a string variable; ``validate(raw)`` (raising ValueError) checks it with the
    parser its component uses at run time, and the raw string is the value."""

    def parse(raw: str) -> str:
        if validate is not None:
            validate(raw)
        return raw

    return _declare(Setting(name, default, doc, allowed, parse, **kw), registry)


_SIZE_RE = re.compile(r"^(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?$", re.IGNORECASE)
_SIZE_UNITS = {None: 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000**2, "mib": 1024**2, "gb": 1000**3,
               "gib": 1024**3}


def parse_size(raw: str) -> int:
    """Parse a byte size such as ``4096``, ``64KiB`` or ``64MiB``."""
    match = _SIZE_RE.match(raw.strip())
    if not match:
        raise ValueError(raw)
    unit = match.group(2).lower() if match.group(2) else None
    return int(match.group(1)) * _SIZE_UNITS[unit]


def size_setting(
    name: str, default: int, doc: str, *, min: int = 0, registry: dict[str, Any] | None = None,  # noqa: A002
    **kw: Any,
) -> Setting[int]:
    """Declare a byte-size variable (an integer with an optional B/KiB/MiB/GiB/KB/MB/GB unit)."""

    def parse(raw: str) -> int:
        return int(check_range(name, parse_size(raw), lo=min, integer=True))

    allowed = f"a byte size such as 1048576, 512KiB or 64MiB (>= {min})"
    return _declare(Setting(name, default, doc, allowed, parse, **kw), registry)
