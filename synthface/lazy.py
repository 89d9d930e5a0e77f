"""Lazy package exports (PEP 562), so `synthface --help` and `synthface detect` start fast.

A package lists ``name -> module`` and gets a module-level ``__getattr__`` that imports
the defining module on first use. Heavy dependencies (torch, cryptography, scipy,
c2pa) are then paid for only by the commands that need them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """Return a ``__getattr__`` for `package` that resolves `exports` on demand."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    return __getattr__
