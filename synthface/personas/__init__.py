"""Persona datasets: signed, watermarked synthetic faces with names, in the Hub's dataset layout.

`synthface.personas(count, out)` writes one (see `synthface.api`). The pieces (lazy imports keep
`synthface --help` fast)::

    from synthface.personas import GenerateOptions, generate_personas
    report = generate_personas(GenerateOptions(model="runs/faces64", out=Path("personas"), count=1000))

The memorisation guard the pipeline runs is `synthface.guard` (publishing uses it too).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from synthface.lazy import lazy_exports

_EXPORTS = {
    "GenerateOptions": "synthface.personas.pipeline",
    "GenerateReport": "synthface.personas.pipeline",
    "generate_personas": "synthface.personas.pipeline",
    "plan_personas": "synthface.personas.pipeline",
    "PersonaSpec": "synthface.personas.persona",
    "persona_id": "synthface.personas.persona",
    "persona_profile": "synthface.personas.persona",
    "checkpoint_sha256": "synthface.personas.persona",
    "render_dataset_card": "synthface.personas.card",
    "dataset_features": "synthface.personas.writer",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)


class _CallablePackage(types.ModuleType):
    """`synthface.personas(count, out, ...)` is the Python API's call (`synthface.api.personas`), while
    `synthface.personas` stays this package: a package attribute of the same name would be replaced by
    the package itself as soon as any of its modules is imported."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from synthface.api import personas

        return personas(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
