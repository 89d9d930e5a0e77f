"""synthface: synthetic faces that are honest about what they are.

    import synthface
    faces = synthface.generate(4)                    # PIL images: watermarked and C2PA-signed
    synthface.personas(100, "personas/")              # a signed persona dataset in the Hub's layout
    print(synthface.detect(["photo.jpg"])[0].verdict)

Importing synthface costs nothing: each name loads its module on first use (`synthface.api`).
`synthface.personas` is also the persona package; calling it is `synthface.api.personas`.
"""

import importlib
from typing import Any

__version__ = "0.1.0"

_API = ("generate", "detect", "load_generator", "load_detector")
__all__ = sorted([*_API, "personas", "__version__"])


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("synthface.api"), name)
    if name == "personas":  # the subpackage, callable (see synthface/personas/__init__.py)
        return importlib.import_module("synthface.personas")
    raise AttributeError(f"module 'synthface' has no attribute {name!r}")
