"""Lazy re-exports for package ``__init__`` modules: one mechanism, used by every package.

A package declares ``{public name: defining module}`` and gets module-level ``__getattr__``
and ``__dir__`` (PEP 562) from :func:`lazy_exports`; a name's module is imported on first
access and the value cached in the package's globals, so importing the package imports
none of its submodules or their optional frameworks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, namespace: dict[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` re-exporting ``exports`` lazily.

    Args:
        package: the package's ``__name__`` (used in the AttributeError message).
        namespace: the package's ``globals()``; resolved values are cached there.
        exports: public name -> module that defines it.

    ``__dir__`` lists the package's ``__all__`` (or the exported names when it has none).
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(namespace.get("__all__", exports))

    return __getattr__, __dir__
