"""The otelkit components a declarative configuration file can name, and their keys.

Each key of a component maps to the registry setting (:mod:`otelkit.config`) that reads the
same value from the environment: the file's value is checked by that setting's own parser
(same message as the environment path, prefixed by where it sits in the file) and handed
to the component's constructor through an ``environ`` mapping that holds only the file's
values. Keys a builder handles itself (``exporter``, ``processor``, ``policies``,
``probability``) are listed in ``own``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from otelkit import config

__all__ = ["Component", "COMPONENTS", "environ_for", "unknown_key"]


@dataclass(frozen=True)
class Component:
    """One otelkit component a file can name: ``kind`` is sampler, processor or exporter."""

    name: str
    kind: str
    keys: Mapping[str, str]
    own: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    lists: Mapping[str, str] = field(default_factory=dict)  # key -> separator joining a YAML list

    def allowed(self) -> list[str]:
        return sorted((*self.keys, *self.own))


_BSP = {
    "schedule_delay": "OTEL_BSP_SCHEDULE_DELAY",
    "export_timeout": "OTEL_BSP_EXPORT_TIMEOUT",
    "max_queue_size": "OTEL_BSP_MAX_QUEUE_SIZE",
    "max_export_batch_size": "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
}
_EXPORTER = {
    # the disk spool (both exporters): where undeliverable batches wait for replay
    "spool_dir": "OTELKIT_SPOOL_DIR",
    "spool_max_bytes": "OTELKIT_SPOOL_MAX_BYTES",
    "spool_max_age_s": "OTELKIT_SPOOL_MAX_AGE_S",
    "spool_replay_spans_per_s": "OTELKIT_SPOOL_REPLAY_SPANS_PER_S",
    "compression_level": "OTELKIT_EXPORTER_COMPRESSION_LEVEL",
    "min_compress_bytes": "OTELKIT_EXPORTER_MIN_COMPRESS_BYTES",
    "max_request_bytes": "OTELKIT_EXPORTER_MAX_REQUEST_BYTES",
    "max_retries": "OTELKIT_EXPORTER_MAX_RETRIES",
    "retry_initial_ms": "OTELKIT_EXPORTER_RETRY_INITIAL_MS",
    "buffer_pool": "OTELKIT_EXPORTER_BUFFER_POOL",
}


def _prefixed(prefix: str, *names: str) -> dict[str, str]:
    return {name.lower(): prefix + name for name in names}


COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        Component(
            "otelkit_adaptive", "sampler",
            {**_prefixed("OTELKIT_SAMPLER_", "TARGET", "TAU", "KEYS", "MAX_KEYS", "DEBUG"), "rules": "OTELKIT_RULES"},
            lists={"keys": ";", "rules": ";"},
        ),
        Component("otelkit_rules", "sampler", {"rules": "OTELKIT_RULES", "debug": "OTELKIT_SAMPLER_DEBUG"},
                  required=("rules",), lists={"rules": ";"}),
        Component("otelkit_consistent", "sampler", {"debug": "OTELKIT_SAMPLER_DEBUG"}, own=("probability",),
                  required=("probability",)),
        Component(
            "otelkit_batch", "processor",
            {**_BSP, **_prefixed("OTELKIT_BATCH_", "MAX_QUEUE", "MAX_SIZE", "MIN_SIZE", "FRESHNESS_MS", "STARTUP_MS",
                                 "MAX_CONCURRENT_EXPORTS", "OVERFLOW", "BLOCK_TIMEOUT_MS")},
            own=("exporter",), required=("exporter",),
        ),
        Component(
            "otelkit_tail", "processor",
            _prefixed("OTELKIT_TAIL_", "DECISION_WAIT_MS", "MAX_WAIT_MS", "MAX_SPANS", "MAX_BYTES",
                      "MAX_SPANS_PER_TRACE", "OVERFLOW", "DECISION_CACHE_SIZE"),
            own=("policies", "processor"), required=("processor",),
        ),
        Component(
            "otelkit_otlp", "exporter",
            {
                "endpoint": "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "headers": "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "headers_list": "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                "timeout": "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                "compression": "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
                "certificate_file": "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                "client_key_file": "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY",
                "client_certificate_file": "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE",
                **_EXPORTER,
            },
        ),
        Component(
            "otelkit_kafka", "exporter",
            {**_prefixed("OTELKIT_KAFKA_", "BOOTSTRAP_SERVERS", "TOPIC", "COMPRESSION", "KEYING", "TIMEOUT_MS",
                         "PRODUCER_CONFIG"),
             **{k: v for k, v in _EXPORTER.items() if k.startswith("spool_")}},
            lists={"bootstrap_servers": ","},
        ),
    )
}
"""Every otelkit component by the name a file uses for it."""


def unknown_key(where: str, key: str, allowed: list[str]) -> str:
    """The message for a key that is not one of ``allowed``, naming the closest one."""
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{where}: unknown key {key!r}{hint}; allowed: {', '.join(allowed) or 'none'}"


def _text(value: Any, separator: str | None) -> str:
    """A file value as the text its environment variable would hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):  # headers / producer properties as a mapping
        return ",".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        if all(isinstance(v, Mapping) and "name" in v for v in value):  # the stock [{name, value}] headers
            return ",".join(f"{v['name']}={v.get('value') or ''}" for v in value)
        return (separator or ",").join(_text(v, None) for v in value)
    return str(value)


def environ_for(component: Component, where: str, fields: Mapping[str, Any],
                problems: list[str]) -> dict[str, str]:
    """The environment mapping equivalent to ``fields`` (the component's own keys left out).

    Each unknown key and each value its setting's parser refuses appends one message to
    ``problems`` and is left out, so its default applies.
    """
    env: dict[str, str] = {}
    allowed = component.allowed()
    for key in component.required:
        if fields.get(key) is None:
            problems.append(f"{where}: key {key!r} is required")
    for key, value in fields.items():
        if key in component.own:
            continue
        name = component.keys.get(key)
        if name is None:
            problems.append(unknown_key(where, key, allowed))
            continue
        if value is None:
            continue
        setting = config.SETTINGS[name]
        text = _text(value, component.lists.get(key))
        try:
            setting.parse(text)
        except ValueError as exc:
            problems.append(f"{where}.{key}: {exc}")
            continue
        env[name] = text
    return env
