"""The resource of a pipeline configured from an injected ``environ`` mapping.

``Resource.create`` runs the SDK's resource detectors, and its ``otel`` detector (like its
choice of detectors, ``OTEL_EXPERIMENTAL_RESOURCE_DETECTORS``) reads ``os.environ``: given
``configure(environ={...})``, the process's ``OTEL_RESOURCE_ATTRIBUTES`` and
``OTEL_SERVICE_NAME`` would leak into a resource that should come from the mapping.
:func:`create_resource` does what ``Resource.create`` does, with the detector names read
from the mapping and the ``otel`` detector's part being the attributes the caller parsed
from it; for ``os.environ`` itself it is ``Resource.create``.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any

from opentelemetry.sdk.environment_variables import OTEL_EXPERIMENTAL_RESOURCE_DETECTORS
from opentelemetry.sdk.resources import (
    _DEFAULT_RESOURCE,
    Resource,
    ResourceDetector,
    get_aggregated_resources,
)
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME

from otelkit._warn import warn_limited

__all__ = ["create_resource"]

_logger = logging.getLogger("otelkit.configure")
_GROUP = "opentelemetry_resource_detector"


def create_resource(attributes: Mapping[str, Any], environ: Mapping[str, str]) -> Resource:
    """``Resource.create(attributes)`` with the detectors ``environ`` names (``attributes``
    already hold what the ``otel`` detector would read: ``OTEL_RESOURCE_ATTRIBUTES`` and
    ``OTEL_SERVICE_NAME`` of ``environ``, and the caller's own)."""
    if environ is os.environ:
        return Resource.create(dict(attributes))
    detected = get_aggregated_resources(_detectors(environ), _DEFAULT_RESOURCE)
    resource = detected.merge(Resource(dict(attributes)))
    if not resource.attributes.get(SERVICE_NAME):
        name = "unknown_service" + (f":{os.path.basename(sys.executable)}" if sys.executable else "")
        resource = resource.merge(Resource({SERVICE_NAME: name}))
    return resource


def _detectors(environ: Mapping[str, str]) -> list[ResourceDetector]:
    # As the SDK's Resource.create: service_instance first unless named, then the named
    # ones ("*": every registered one); "otel" is the caller's attributes, merged last.
    raw = environ.get(OTEL_EXPERIMENTAL_RESOURCE_DETECTORS, "")
    named = [n.strip() for n in raw.split(",") if n.strip()]
    names = list(dict.fromkeys(([] if "service_instance" in named else ["service_instance"]) + named))
    from importlib.metadata import entry_points

    if "*" in names:
        registered = sorted(set(entry_points(group=_GROUP).names) - set(names) - {"otel"})
        at = names.index("*")
        names[at : at + 1] = registered
    detectors: list[ResourceDetector] = []
    for name in names:
        if name == "otel":
            continue
        try:
            found = list(entry_points(group=_GROUP, name=name))
            if not found:
                raise LookupError("no such entry point is installed")
            detectors.append(found[0].load()())
        except Exception as exc:  # noqa: BLE001 - a bad detector name never breaks configure
            warn_limited(_logger, f"resource-detector:{name[:32]}", "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS: "
                         "cannot load resource detector %r (%s); skipping it (allowed: the names of "
                         "installed opentelemetry_resource_detector entry points, or *)", name, exc)
    return detectors
