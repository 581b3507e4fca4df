"""``otelkit.propagation`` re-exports every carrier name lazily."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import otelkit.propagation as package

MODULES = ["asgi", "aiohttp", "kafka", "websocket"]
FRAMEWORKS = ["aiohttp", "starlette", "websockets", "aiokafka", "kafka", "confluent_kafka"]


@pytest.mark.parametrize("name", package.__all__)
def test_every_exported_name_resolves_to_its_module_object(name: str) -> None:
    value = getattr(package, name)
    assert value is getattr(importlib.import_module(package._EXPORTS[name]), name)


def test_all_is_the_union_of_the_carrier_modules() -> None:
    names = {n for m in MODULES for n in importlib.import_module(f"otelkit.propagation.{m}").__all__}
    assert sorted(package.__all__) == sorted(names) == sorted(dir(package))


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        package.nope  # noqa: B018


def test_importing_the_package_imports_no_submodule_and_no_framework() -> None:
    code = (
        "import sys, otelkit.propagation; "
        f"print(sorted(m for m in sys.modules if m.startswith('otelkit.propagation.') or m in {FRAMEWORKS!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
