"""Settings of the assembled pipeline (otelkit.pipeline, the configurator): the SDK switch,
resource, sampler and exporter names, the export processor and otelkit-wide knobs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from otelkit._parse import parse_pairs
from otelkit.config import (
    bool_setting,
    enum_setting,
    environment_check,
    float_setting,
    int_setting,
    str_setting,
)


def _names(group: str, *, extra: tuple[str, ...] = ("none",), single: bool = False) -> Callable[[str], object]:
    """Validator: every comma-separated name in the value is an entry point of ``group``."""

    def check(raw: str) -> object:
        from otelkit._exporter_selection import check_entry_points  # lazy: avoids an import cycle

        return check_entry_points(group, raw, extra=extra, single=single)

    return check


__all__ = [
    "OTEL_SDK_DISABLED",
    "OTEL_CONFIG_FILE",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_TRACES_EXPORTER",
    "OTEL_PROPAGATORS",
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_SPAN_EVENT_COUNT_LIMIT",
    "OTEL_SPAN_LINK_COUNT_LIMIT",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "SPAN_LIMITS",
    "OTELKIT_PROCESSOR",
    "OTELKIT_WARN_INTERVAL_S",
    "OTELKIT_SELF_METRICS",
]

OTEL_SDK_DISABLED = bool_setting(
    "OTEL_SDK_DISABLED", False, "Disable the SDK: configure() returns a no-op pipeline.", standard=True
)

OTEL_CONFIG_FILE = str_setting(
    "OTEL_CONFIG_FILE",
    "",
    "Path of a declarative configuration file (YAML/JSON, `file_format` 1.x) that names the "
    "pipeline, otelkit's samplers, processors and exporters included (docs/config-file.md); "
    "needs `pip install 'otelkit[config-file]'`. Set, the other variables of the tracer "
    "pipeline are not read. `otelkit config --file PATH` checks a file.",
    allowed="a path to a .yaml, .yml or .json file",
    standard=True,
)

OTEL_SERVICE_NAME = str_setting(
    "OTEL_SERVICE_NAME", "", "Sets the `service.name` resource attribute.", standard=True
)

OTEL_RESOURCE_ATTRIBUTES = str_setting(
    "OTEL_RESOURCE_ATTRIBUTES",
    "",
    "Extra resource attributes, `key1=value1,key2=value2`.",
    allowed="key=value pairs separated by commas",
    validate=parse_pairs,
    standard=True,
)

OTEL_TRACES_SAMPLER = str_setting(
    "OTEL_TRACES_SAMPLER",
    "parentbased_always_on",
    "Sampler name: a stock one (`always_on`, `parentbased_traceidratio`, ...) or an "
    "`opentelemetry_traces_sampler` entry point such as `otelkit_adaptive`.",
    allowed="a sampler entry-point name",
    validate=_names("opentelemetry_traces_sampler", extra=(), single=True),
    explain=True,
    standard=True,
)

OTEL_TRACES_SAMPLER_ARG = str_setting(
    "OTEL_TRACES_SAMPLER_ARG",
    "",
    "Argument passed to the sampler factory (a ratio for the ratio samplers, "
    "`key=value,...` for otelkit samplers). Checked against the chosen sampler.",
    allowed="what the chosen sampler takes",
    standard=True,
)

OTEL_TRACES_EXPORTER = str_setting(
    "OTEL_TRACES_EXPORTER",
    "otelkit_otlp",
    "Comma-separated `opentelemetry_traces_exporter` entry points (`otlp`, `console`, "
    "`otelkit_otlp`, `otelkit_kafka`; `none` anywhere: no exporter). `otlp` is the stock exporter for the chosen "
    "protocol. Unset, it is `otelkit_otlp`, which speaks only OTLP/HTTP protobuf: when "
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL (or OTEL_EXPORTER_OTLP_PROTOCOL) is `grpc` or "
    "`http/json`, the default is the stock `otlp` exporter instead.",
    allowed="comma-separated exporter entry-point names",
    validate=_names("opentelemetry_traces_exporter"),
    explain=True,
    standard=True,
)

OTEL_PROPAGATORS = str_setting(
    "OTEL_PROPAGATORS",
    "tracecontext,baggage",
    "Comma-separated `opentelemetry_propagator` entry points (`tracecontext`, `baggage`, "
    "`b3`, ..., or `none`). `configure()` installs them from its environ (an unknown name "
    "warns and is left out; the SDK itself raises on import).",
    allowed="comma-separated propagator entry-point names",
    validate=_names("opentelemetry_propagator"),
    explain=True,
    standard=True,
)

_COUNT_DOC = "Span limit (the SDK's SpanLimits): most {what}; `configure()` passes it from its environ."
_LENGTH_DOC = (
    "Span limit (the SDK's SpanLimits): longest {what} (characters); -1, the default, means "
    "no limit. `configure()` passes it from its environ."
)

OTEL_ATTRIBUTE_COUNT_LIMIT = int_setting(
    "OTEL_ATTRIBUTE_COUNT_LIMIT", 128, _COUNT_DOC.format(what="attributes (the default of the three below)"),
    min=0, standard=True)
OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT = int_setting(
    "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", 128, _COUNT_DOC.format(what="attributes per span"), min=0, standard=True)
OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT = int_setting(
    "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", 128, _COUNT_DOC.format(what="attributes per event"), min=0, standard=True)
OTEL_LINK_ATTRIBUTE_COUNT_LIMIT = int_setting(
    "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", 128, _COUNT_DOC.format(what="attributes per link"), min=0, standard=True)
OTEL_SPAN_EVENT_COUNT_LIMIT = int_setting(
    "OTEL_SPAN_EVENT_COUNT_LIMIT", 128, _COUNT_DOC.format(what="events per span"), min=0, standard=True)
OTEL_SPAN_LINK_COUNT_LIMIT = int_setting(
    "OTEL_SPAN_LINK_COUNT_LIMIT", 128, _COUNT_DOC.format(what="links per span"), min=0, standard=True)
OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT = int_setting(
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", -1, _LENGTH_DOC.format(what="attribute value (the default for spans)"),
    min=0, standard=True)
OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT = int_setting(
    "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", -1, _LENGTH_DOC.format(what="span attribute value"), min=0,
    standard=True)

SPAN_LIMITS = {
    "max_attributes": OTEL_ATTRIBUTE_COUNT_LIMIT,
    "max_span_attributes": OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
    "max_event_attributes": OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT,
    "max_link_attributes": OTEL_LINK_ATTRIBUTE_COUNT_LIMIT,
    "max_events": OTEL_SPAN_EVENT_COUNT_LIMIT,
    "max_links": OTEL_SPAN_LINK_COUNT_LIMIT,
    "max_attribute_length": OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT,
    "max_span_attribute_length": OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
}
"""The SDK's span limit variables by ``SpanLimits`` argument name."""

OTELKIT_PROCESSOR = enum_setting(
    "OTELKIT_PROCESSOR",
    "smart",
    ("smart", "stock"),
    "Export span processor the otelkit configurator puts in front of each exporter: "
    "`smart` (SmartBatchSpanProcessor) or `stock` (the SDK's BatchSpanProcessor).",
)

OTELKIT_WARN_INTERVAL_S = float_setting(
    "OTELKIT_WARN_INTERVAL_S",
    10.0,
    "Minimum seconds between two warnings about the same kind of bad input (otelkit._warn).",
    min=0.0,
)

OTELKIT_SELF_METRICS = bool_setting(
    "OTELKIT_SELF_METRICS",
    True,
    "Report otelkit's own metrics (queue sizes, drops, kept/dropped counts) through the "
    "OpenTelemetry metrics API.",
)


@environment_check()
def _check_exporters(environ: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """Each chosen exporter's optional dependencies are installed."""
    from otelkit._exporter_selection import exporter_names, missing_extra

    for name in exporter_names(environ):
        problem = missing_extra(name)
        if problem:
            yield "OTEL_TRACES_EXPORTER", problem


@environment_check()
def _check_config_file(environ: Mapping[str, str]) -> Iterator[tuple[str, str]]:
    """The file ``OTEL_CONFIG_FILE`` names loads, and every otelkit key in it is valid."""
    path = OTEL_CONFIG_FILE.get(environ).strip()
    if not path:
        return
    from otelkit._config_file_pipeline import check_file

    for problem in check_file(path)[1]:
        yield "OTEL_CONFIG_FILE", f"OTEL_CONFIG_FILE={path!r}: {problem}"
