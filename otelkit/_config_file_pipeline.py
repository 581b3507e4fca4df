"""Build the pipeline a declarative configuration file describes (``OTEL_CONFIG_FILE``).

Used by :func:`otelkit.configure` and the otelkit configurator when ``OTEL_CONFIG_FILE`` is
set, and by ``otelkit config --file``. The tracer provider comes from
:class:`otelkit._config_file.FileWalk`; the resource, span limits, id generator and tracer
configurator from the ``opentelemetry-configuration`` package's own factories; the other
sections (meter and logger providers, propagators, instrumentation) are applied by its
``configure_sdk``, exactly as the stock SDK does with the file.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler

from otelkit._config_file import FileWalk
from otelkit._config_file_load import load, self_metrics_base, top_level_problems
from otelkit._warn import warn_limited

if TYPE_CHECKING:
    from otelkit.pipeline import Pipeline

__all__ = ["check_file", "configure_from_file"]

_logger = logging.getLogger("otelkit.configure")


class _NoPropagation(TextMapPropagator):
    """What an absent or empty ``propagator`` section means: propagate nothing. (The SDK's
    empty ``CompositePropagator`` returns ``None`` from ``extract()`` without a context,
    which instrumentations then attach and crash on.)"""

    def extract(self, carrier: CarrierT, context: Context | None = None,
                getter: Getter[CarrierT] = default_getter) -> Context:
        return context if context is not None else Context()

    def inject(self, carrier: CarrierT, context: Context | None = None,
               setter: Setter[CarrierT] = default_setter) -> None:
        return None

    @property
    def fields(self) -> set[str]:
        return set()


def _no_propagators(cfg: Any) -> bool:
    section = cfg.propagator
    if section is None:
        return True
    names = [n.strip() for n in (section.composite_list or "").split(",") if n.strip() not in ("", "none")]
    return not section.composite and not names


def check_file(path: str) -> tuple[list[str], list[str]]:
    """``(effective pipeline lines, problems)`` of the file at ``path``; builds nothing."""
    try:
        cfg = load(path)
    except ValueError as exc:
        return [], [str(exc)]
    walk = FileWalk(build=False)
    walk.problems.extend(top_level_problems(cfg))
    lines = ["disabled: true (the SDK is off)"] if cfg.disabled else []
    _walk_tracer(walk, cfg)
    return lines + ["tracer_provider:", *walk.lines], walk.problems


def _walk_tracer(walk: FileWalk, cfg: Any) -> tuple[Sampler | None, list[SpanProcessor]]:
    tp = cfg.tracer_provider
    if tp is None:
        walk.lines.append("  (absent: no tracer provider is installed, as with the stock SDK)")
        return None, []
    walk.lines.append("  sampler:")
    if tp.sampler is None:
        walk.lines.append("    parent_based (root: always_on; the default)")
        sampler: Sampler | None = ParentBased(ALWAYS_ON)
    else:
        sampler = walk.sampler(tp.sampler, "tracer_provider.sampler", 2)
    walk.lines.append("  processors:")
    processors = []
    for index, node in enumerate(tp.processors or []):
        built = walk.processor(node, f"tracer_provider.processors[{index}]", 2)
        if built is not None:
            processors.append(built)
    if walk.tail:
        walk.lines.append("  (head-dropped spans are recorded for the tail processor: RecordForTailSampler)")
    return sampler, processors


def configure_from_file(
    path: str,
    environ: Mapping[str, str],
    *,
    set_global: bool,
    sampler: Sampler | None = None,
    extra_processors: tuple[SpanProcessor, ...] = (),
) -> Pipeline:
    """The pipeline of the file at ``path``; ValueError when the file cannot be loaded.

    Problems inside the tracer provider section never raise: each warns (naming the key,
    the bad value and what is allowed) and the component's default applies, or the
    component is left out.
    """
    from otelkit.pipeline import Pipeline

    cfg = load(path)
    if cfg.disabled:
        return Pipeline(provider=TracerProvider(sampler=ALWAYS_OFF), sampler=ALWAYS_OFF)
    walk = FileWalk(build=True, base=self_metrics_base(environ))
    walk.problems.extend(top_level_problems(cfg))
    file_sampler, processors = _walk_tracer(walk, cfg)
    for problem in walk.problems:
        warn_limited(_logger, "config-file:" + problem[:80], "OTEL_CONFIG_FILE=%r: %s; using the default", path,
                     problem)
    tp_models = walk.tp
    from opentelemetry.configuration._resource import create_resource

    resource = create_resource(cfg.resource)
    tp = cfg.tracer_provider
    head = sampler or file_sampler or ParentBased(ALWAYS_ON)
    if walk.tail:
        from otelkit.tail import RecordForTailSampler

        head = RecordForTailSampler(head)
    limits = tp_models._create_span_limits(
        (tp.limits if tp is not None and tp.limits is not None else walk.models.SpanLimits()), cfg.attribute_limits)
    kwargs: dict[str, Any] = {}
    if tp is not None and tp.id_generator is not None:
        kwargs["id_generator"] = tp_models._create_id_generator(tp.id_generator)
    if tp is not None and tp.tracer_configurator_development is not None:
        kwargs["_tracer_configurator"] = tp_models._create_tracer_configurator(tp.tracer_configurator_development)
    provider = TracerProvider(resource=resource, sampler=head, span_limits=limits, **kwargs)
    pipeline = Pipeline(provider=provider, sampler=head)
    for processor in (*extra_processors, *processors):
        provider.add_span_processor(processor)
        pipeline.processors.append(processor)
    if set_global:
        from opentelemetry.configuration import configure_sdk

        rest = copy.copy(cfg)
        rest.tracer_provider = None  # every other section as the stock SDK applies it
        configure_sdk(rest)
        if _no_propagators(cfg):
            propagate.set_global_textmap(_NoPropagation())
        if tp is not None:
            trace.set_tracer_provider(provider)
    return pipeline
