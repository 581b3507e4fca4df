"""Loading a declarative configuration file and the helpers :mod:`otelkit._config_file` uses.

``opentelemetry-configuration`` is imported lazily (the ``config-file`` extra). The walk
reaches its factories through :func:`sdk_factories`; besides its public names, otelkit uses
its ``_tracer_provider`` factories, ``_conversion._dict_to_dataclass`` and
``_resource.create_resource`` (pinned below 0.67 by the extra).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from otelkit import config
from otelkit._config_file_keys import unknown_key

__all__ = ["EXTRA_HINT", "brief", "load", "sdk_factories", "self_metrics_base", "show",
           "top_level_problems"]

EXTRA_HINT = "pip install 'otelkit[config-file]'"


def sdk_factories() -> Any:
    """The ``opentelemetry-configuration`` modules (ValueError naming the extra if missing)."""
    try:
        from opentelemetry.configuration import _tracer_provider, models
        from opentelemetry.configuration._conversion import _dict_to_dataclass
    except ImportError:
        raise ValueError(f"OTEL_CONFIG_FILE needs the opentelemetry-configuration package: {EXTRA_HINT}") from None
    return _tracer_provider, models, _dict_to_dataclass


def load(path: str) -> Any:
    """The parsed file (``OpenTelemetryConfiguration``); ValueError with the package's message."""
    sdk_factories()
    from opentelemetry.configuration import ConfigurationError, load_config_file

    try:
        return load_config_file(path)
    except ConfigurationError as exc:
        raise ValueError(f"{path}: {exc}") from None


_TOP_LEVEL = ("file_format", "disabled", "log_level", "attribute_limits", "logger_provider", "meter_provider",
              "propagator", "tracer_provider", "resource", "instrumentation/development", "distribution")


def top_level_problems(cfg: Any) -> list[str]:
    """Top-level keys the schema does not know (it lets them through: a typo of
    ``tracer_provider`` would silently leave the application untraced)."""
    extra = getattr(cfg, "additional_properties", None) or {}
    return [unknown_key("(top level)", key, sorted(_TOP_LEVEL)) for key in extra]


def show(setting: Any, value: Any) -> str:
    if setting.secret and value:
        return "<redacted>"
    return str(value).lower() if isinstance(value, bool) else str(value)


def brief(value: Any, skip: tuple[str, ...] = ()) -> str:
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        return ""
    parts = [f"{f.name}={getattr(value, f.name)}" for f in dataclasses.fields(value)
             if f.name not in skip and getattr(value, f.name) is not None
             and not dataclasses.is_dataclass(getattr(value, f.name))]
    return f" ({', '.join(parts)})" if parts else ""


def self_metrics_base(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment values a file's otelkit components still read (``OTELKIT_SELF_METRICS``)."""
    env = os.environ if environ is None else environ
    raw = config.OTELKIT_SELF_METRICS.raw(env)
    return {} if raw is None else {config.OTELKIT_SELF_METRICS.name: raw}
