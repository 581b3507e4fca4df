"""otelkit's pieces in a declarative configuration file (``OTEL_CONFIG_FILE``).

The file is loaded by the ``opentelemetry-configuration`` package (schema validation,
``${VAR}`` substitution). The tracer provider section is walked here: the names of
:data:`otelkit._config_file_keys.COMPONENTS` (``otelkit_adaptive``, ``otelkit_rules``,
``otelkit_consistent`` samplers, also as delegates of ``parent_based``; ``otelkit_batch`` and
``otelkit_tail`` processors; ``otelkit_otlp`` and ``otelkit_kafka`` exporters, also inside the
stock ``batch``/``simple`` processors) are built with their public constructors; every
other shape is built by the package's own factories, so it behaves as with the stock SDK.

:class:`FileWalk` does one pass: it checks every key (``problems``), describes the
effective pipeline (``lines``) and, with ``build=True``, builds the objects.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler

from otelkit import config
from otelkit._config_file_composable import composable_tree, names_plugin
from otelkit._config_file_keys import COMPONENTS, Component, environ_for, unknown_key
from otelkit._config_file_load import brief, sdk_factories, show
from otelkit._parse import check_range

_DELEGATES = ("root", "remote_parent_sampled", "remote_parent_not_sampled", "local_parent_sampled",
              "local_parent_not_sampled")
_STOCK = {"sampler": ("always_on", "always_off", "trace_id_ratio_based", "parent_based", "composite/development"),
          "processor": ("batch", "simple"), "exporter": ("otlp_http", "otlp_grpc", "console")}
_GROUPS = {"sampler": "opentelemetry_sampler", "exporter": "opentelemetry_traces_exporter"}


class FileWalk:
    """Check, describe and (``build=True``) build a file's tracer provider parts.

    ``base``: environment values every otelkit component also sees (``OTELKIT_SELF_METRICS``);
    nothing else is read from the environment: a file's values and the defaults decide.
    """

    def __init__(self, *, build: bool, base: Mapping[str, str] | None = None) -> None:
        self.build = build
        self.base = dict(base or {})
        self.problems: list[str] = []
        self.lines: list[str] = []
        self.tail = False
        self.tp, self.models, self._to_model = sdk_factories()

    # -- shared -----------------------------------------------------------------------

    def _line(self, depth: int, text: str) -> None:
        self.lines.append("  " * depth + text)

    def _plugin(self, node: Any) -> tuple[str, Any] | None:
        extra = getattr(node, "additional_properties", None) or {}
        return next(iter(extra.items())) if extra else None

    def _otelkit(self, name: str, kind: str, fields: Any, where: str, depth: int) -> tuple[Component, dict[str, str]]:
        comp = COMPONENTS[name]
        if fields is None:
            fields = {}
        if not isinstance(fields, Mapping):
            self.problems.append(f"{where}: {fields!r} is invalid: expected a mapping of settings")
            fields = {}
        env = environ_for(comp, where, fields, self.problems)
        shown = []
        for key, name_ in comp.keys.items():
            setting = config.SETTINGS[name_]
            if name_ in env or key in fields:
                shown.append(f"{key}={show(setting, setting.get(env))}")
        self._line(depth, f"{name}" + (f" ({', '.join(shown)})" if shown else " (defaults)"))
        return comp, {**self.base, **env}

    def _unknown(self, kind: str, name: str, where: str, installed: tuple[str, ...] = ()) -> None:
        allowed = sorted({*_STOCK[kind], *installed, *(n for n, c in COMPONENTS.items() if c.kind == kind)})
        self.problems.append(unknown_key(where, name, allowed).replace("unknown key", f"unknown {kind}", 1))

    def _installed(self, kind: str, name: str, where: str) -> bool:
        """Whether plugin ``name`` is an entry point the package can load (else a problem)."""
        from otelkit._exporter_selection import entry_point_names

        installed = entry_point_names(_GROUPS[kind])
        if name in installed:
            return True
        self._unknown(kind, name, where, installed)
        return False

    def _model(self, raw: Any, cls_name: str, where: str) -> Any:
        if not isinstance(raw, Mapping) or len(raw) != 1:
            self.problems.append(f"{where}: {raw!r} is invalid: expected a mapping with exactly one {cls_name} type")
            return None
        try:
            return self._to_model(dict(raw), getattr(self.models, cls_name))
        except (TypeError, ValueError) as exc:
            self.problems.append(f"{where}: {exc}")
            return None

    def _stock(self, factory: Any, arg: Any, where: str) -> Any:
        if not self.build:
            return None
        try:
            return factory(arg)
        except Exception as exc:  # noqa: BLE001 - reported as a problem of the file
            self.problems.append(f"{where}: {type(exc).__name__}: {exc}")
            return None

    def _describe_stock(self, node: Any, depth: int) -> None:
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if value is not None and f.name not in ("exporter",):
                self._line(depth, f.name.replace("_development", "/development") + brief(value))
                return
        self._line(depth, "(plugin) " + ", ".join(self._plugin(node) or ("?",)))

    # -- samplers ---------------------------------------------------------------------

    def sampler(self, node: Any, where: str, depth: int = 1) -> Sampler | None:
        plugin = self._plugin(node)
        if plugin is not None and plugin[0] in COMPONENTS:
            name, fields = plugin
            if COMPONENTS[name].kind != "sampler":
                self._unknown("sampler", name, where)
                return None
            comp, env = self._otelkit(name, "sampler", fields, f"{where}.{name}", depth)
            return self._build_sampler(comp, env, fields if isinstance(fields, Mapping) else {}, f"{where}.{name}")
        if node.parent_based is not None:
            self._line(depth, "parent_based")
            kwargs: dict[str, Sampler] = {}
            for role in _DELEGATES:
                sub = getattr(node.parent_based, role)
                if sub is not None:
                    self._line(depth + 1, role + ":")
                    built = self.sampler(sub, f"{where}.parent_based.{role}", depth + 2)
                    if built is not None:
                        kwargs[role] = built
            if not self.build:
                return None
            kwargs.setdefault("root", ALWAYS_ON)
            return ParentBased(**kwargs)
        if node.composite_development is not None and names_plugin(node.composite_development):
            return composable_tree(node.composite_development, where, depth, build=self.build,  # type: ignore[no-any-return]
                                   problems=self.problems, lines=self.lines, leaf=self._composable_leaf)
        if plugin is not None and not self._installed("sampler", plugin[0], where):
            return None
        if plugin is not None:
            self._line(depth, f"{plugin[0]} (entry point opentelemetry_sampler)")
        else:
            self._describe_stock(node, depth)
        return self._stock(self.tp._create_sampler, node, where)  # type: ignore[no-any-return]

    def _composable_leaf(self, node: Any, where: str, depth: int) -> Sampler | None:
        """An otelkit sampler as a leaf of a composable tree (its ``sampling_intent`` is used)."""
        plugin = self._plugin(node)
        if plugin is None or plugin[0] not in COMPONENTS or COMPONENTS[plugin[0]].kind != "sampler":
            self.problems.append(unknown_key(where, plugin[0] if plugin else "?", sorted(
                {"always_off", "always_on", "parent_threshold", "probability", "rule_based",
                 *(n for n, c in COMPONENTS.items() if c.kind == "sampler")})).replace(
                "unknown key", "unknown composable sampler", 1))
            return None
        return self.sampler(node, where, depth)

    def _build_sampler(self, comp: Component, env: dict[str, str], fields: Mapping[str, Any],
                       where: str) -> Sampler | None:
        probability = fields.get("probability")
        if comp.name == "otelkit_consistent" and probability is not None:
            try:
                check_range("probability", probability, lo=0.0, hi=1.0, joiner=" ")
            except ValueError as exc:
                self.problems.append(f"{where}.probability: {exc}")
                probability = None
        if not self.build:
            return None
        try:
            if comp.name == "otelkit_adaptive":
                from otelkit.sampling.adaptive import AdaptiveSampler

                return AdaptiveSampler(environ=env)
            if comp.name == "otelkit_rules":
                from otelkit.sampling.rules import RulesSampler

                return RulesSampler(environ=env)
            from otelkit.sampling.consistent import ConsistentProbabilitySampler

            return ConsistentProbabilitySampler(1.0 if probability is None else float(probability),
                                                debug=config.OTELKIT_SAMPLER_DEBUG.get(env))
        except ValueError as exc:
            self.problems.append(f"{where}: {exc}")
            return None

    # -- processors -------------------------------------------------------------------

    def processor(self, node: Any, where: str, depth: int = 1) -> SpanProcessor | None:
        if isinstance(node, Mapping):
            node = self._model(node, "SpanProcessor", where)
            if node is None:
                return None
        plugin = self._plugin(node)
        if plugin is not None:
            name, fields = plugin
            if name not in COMPONENTS or COMPONENTS[name].kind != "processor":
                self._unknown("processor", name, where)
                return None
            comp, env = self._otelkit(name, "processor", fields, f"{where}.{name}", depth)
            return self._build_processor(comp, env, fields if isinstance(fields, Mapping) else {}, f"{where}.{name}",
                                         depth + 1)
        stock = node.batch if node.batch is not None else node.simple
        kind = "batch" if node.batch is not None else "simple"
        self._line(depth, kind + (brief(stock, skip=("exporter",)) if kind == "batch" else ""))
        exporter = self.exporter(stock.exporter, f"{where}.{kind}.exporter", depth + 1)
        if exporter is None or not self.build:
            return None
        if kind == "simple":
            return SimpleSpanProcessor(exporter)
        try:
            return BatchSpanProcessor(exporter, max_queue_size=stock.max_queue_size,
                                      schedule_delay_millis=stock.schedule_delay,
                                      max_export_batch_size=stock.max_export_batch_size,
                                      export_timeout_millis=stock.export_timeout)
        except ValueError as exc:
            self.problems.append(f"{where}.batch: {exc}")
            return None

    def _build_processor(self, comp: Component, env: dict[str, str], fields: Mapping[str, Any], where: str,
                         depth: int) -> SpanProcessor | None:
        if comp.name == "otelkit_batch":
            exporter = self.exporter(fields.get("exporter"), f"{where}.exporter", depth)
            if exporter is None or not self.build:
                return None
            from otelkit.batch import SmartBatchSpanProcessor

            batch: SpanProcessor | None = self._construct(SmartBatchSpanProcessor, where, exporter, environ=env)
            return batch
        self.tail = True
        policies = self._policies(fields.get("policies"), f"{where}.policies", depth)
        downstream = self.processor(fields.get("processor"), f"{where}.processor", depth)
        if downstream is None or not self.build:
            return None
        from otelkit.tail import TailSamplingProcessor

        tail: SpanProcessor | None = self._construct(TailSamplingProcessor, where, downstream, policies, environ=env)
        return tail

    def _policies(self, value: Any, where: str, depth: int) -> Any:
        from otelkit.tail.policy_config import build_policies, default_policies, policies_from_string

        try:
            built = (default_policies() if value is None else policies_from_string(value)
                     if isinstance(value, str) else build_policies(value))
        except ValueError as exc:
            self.problems.append(f"{where}: {exc}")
            built = default_policies()
        self._line(depth, "policies: " + ", ".join(f"{p.name}" for p in built))
        return built

    def _construct(self, cls: Any, where: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return cls(*args, **kwargs)
        except ValueError as exc:
            self.problems.append(f"{where}: {exc}")
            return None

    # -- exporters --------------------------------------------------------------------

    def exporter(self, node: Any, where: str, depth: int) -> SpanExporter | None:
        if node is None:
            return None  # reported as a required key
        if isinstance(node, Mapping):
            node = self._model(node, "SpanExporter", where)
            if node is None:
                return None
        plugin = self._plugin(node)
        if plugin is not None and plugin[0] in COMPONENTS:
            name, fields = plugin
            if COMPONENTS[name].kind != "exporter":
                self._unknown("exporter", name, where)
                return None
            _comp, env = self._otelkit(name, "exporter", fields, f"{where}.{name}", depth)
            return self._build_exporter(name, env, f"{where}.{name}")
        if plugin is not None and not self._installed("exporter", plugin[0], where):
            return None
        if plugin is not None:
            self._line(depth, f"{plugin[0]} (entry point opentelemetry_traces_exporter)")
        else:
            self._describe_stock(node, depth)
        return self._stock(self.tp._create_span_exporter, node, where)  # type: ignore[no-any-return]

    def _build_exporter(self, name: str, env: dict[str, str], where: str) -> SpanExporter | None:
        from otelkit._exporter_selection import missing_extra

        problem = missing_extra(name)
        if problem is not None:
            self.problems.append(f"{where}: {problem}")
            return None
        if not self.build:
            return None
        if name == "otelkit_otlp":
            from otelkit.exporter.http import OtlpHttpSpanExporter

            return self._construct(OtlpHttpSpanExporter, where, environ=env)  # type: ignore[no-any-return]
        from otelkit.exporter.kafka import KafkaSpanExporter

        return self._construct(KafkaSpanExporter, where, environ=env)  # type: ignore[no-any-return]
