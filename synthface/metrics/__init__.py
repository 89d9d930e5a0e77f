"""Image-quality metrics: FID and KID with the TF-Inception network, and its features.

Public API (imported lazily, so `synthface.metrics.commands` stays light)::

    from synthface.metrics import InceptionFeatures, extract_features   # 2048-d features
    from synthface.metrics import frechet_distance, fid_from_features, kernel_inception_distance
    from synthface.metrics import reference_stats, compute_generator_metrics
"""

from __future__ import annotations

from synthface.lazy import lazy_exports

_EXPORTS = {
    "InceptionFeatures": "synthface.metrics.inception",
    "extract_features": "synthface.metrics.inception",
    "load_inception": "synthface.metrics.inception",
    "GaussianStats": "synthface.metrics.fid",
    "frechet_distance": "synthface.metrics.fid",
    "fid_from_features": "synthface.metrics.fid",
    "KIDResult": "synthface.metrics.kid",
    "kernel_inception_distance": "synthface.metrics.kid",
    "ReferenceStats": "synthface.metrics.reference",
    "reference_stats": "synthface.metrics.reference",
    "load_reference_stats": "synthface.metrics.reference",
    "save_reference_stats": "synthface.metrics.reference",
    "compute_generator_metrics": "synthface.metrics.evaluate",
    "generator_features": "synthface.metrics.evaluate",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
