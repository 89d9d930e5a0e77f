"""Inception statistics of a prepared training set, computed once and cached.

Why cache: the reference side of FID costs one Inception pass per training image
(minutes to hours on a CPU) and never changes for the same prepared data, whereas the
generated side changes every checkpoint. The cache entry is keyed by the prepared
data's ``cache_key`` (which already covers source fingerprint, crop, resolution and
channels) plus the network file's digest and our preprocessing version, so a stale
entry can never be served.

Format: one safetensors file (no pickle anywhere) holding ``mu`` (float64 [2048]),
``sigma`` (float64 [2048, 2048]) and ``features`` (float32 [N, 2048]; KID and the
memorisation guard need the raw features, not only the Gaussian), with the key,
resolution and channels in its JSON metadata. It lives under the data cache root
(``$SYNTHFACE_CACHE``/fid-reference by default), beside the prepared tensors.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from safetensors import safe_open
from safetensors.numpy import save_file

from synthface.data.cache import cache_root
from synthface.errors import SynthfaceError
from synthface.io_utils import atomic_path
from synthface.metrics.fid import GaussianStats
from synthface.metrics.inception import (
    FEATURE_DIM,
    PREPROCESS_VERSION,
    InceptionFeatures,
    inception_weights_digest,
)

log = logging.getLogger(__name__)

REFERENCE_FORMAT = "1"


class PreparedLike(Protocol):
    """What we need from `synthface.data.PreparedImages`."""

    images: torch.Tensor
    cache_key: str


@dataclass(frozen=True)
class ReferenceStats:
    """Inception features of a real image set and the Gaussian fitted to them."""

    mu: np.ndarray
    sigma: np.ndarray
    features: np.ndarray
    cache_key: str
    resolution: int
    channels: int

    @property
    def count(self) -> int:
        return int(self.features.shape[0])

    @property
    def gaussian(self) -> GaussianStats:
        return GaussianStats(mu=self.mu, sigma=self.sigma, count=self.count)


@dataclass(frozen=True)
class SubsetImages:
    """A seeded random subset of prepared images, with its own reference-cache key."""

    images: Any
    cache_key: str


def random_subset(prepared: PreparedLike, count: int, seed: int) -> SubsetImages:
    """`count` of the prepared images, drawn with `seed` (the same subset every time, so its
    statistics are cached once): FID-10k against 10k of the 18k training faces."""
    order = torch.randperm(len(prepared.images), generator=torch.Generator().manual_seed(seed))[:count]
    return SubsetImages(prepared.images[order.sort().values], f"{prepared.cache_key}-subset{count}-seed{seed}")


def reference_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """`cache_dir` when given, else the data cache root / "fid-reference"."""
    return Path(cache_dir).expanduser() if cache_dir is not None else cache_root() / "fid-reference"


def reference_cache_path(cache_key: str, cache_dir: str | Path | None = None) -> Path:
    """Where the statistics of the prepared data with `cache_key` are cached."""
    if not cache_key or not all(ch.isalnum() or ch in "-_" for ch in cache_key):
        raise SynthfaceError(f"invalid data cache key {cache_key!r}; expected hex from prepare_images")
    return reference_cache_dir(cache_dir) / f"{cache_key}-inception-{inception_weights_digest()}.safetensors"


def save_reference_stats(stats: ReferenceStats, path: str | Path) -> None:
    """Write `stats` to `path` as safetensors, atomically."""
    metadata = {
        "format": REFERENCE_FORMAT,
        "cache_key": stats.cache_key,
        "resolution": str(stats.resolution),
        "channels": str(stats.channels),
        "preprocess": PREPROCESS_VERSION,
        "network": inception_weights_digest(),
    }
    tensors = {
        "mu": np.ascontiguousarray(stats.mu, dtype=np.float64),
        "sigma": np.ascontiguousarray(stats.sigma, dtype=np.float64),
        "features": np.ascontiguousarray(stats.features, dtype=np.float32),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def load_reference_stats(path: str | Path) -> ReferenceStats:
    """Read statistics written by `save_reference_stats`; raise `SynthfaceError` if unusable."""
    path = Path(path)
    if not path.is_file():
        raise SynthfaceError(f"reference statistics file not found: {path}")
    try:
        with safe_open(str(path), framework="np") as handle:
            metadata = handle.metadata() or {}
            mu, sigma, features = (handle.get_tensor(name) for name in ("mu", "sigma", "features"))
        stats = ReferenceStats(
            mu=mu,
            sigma=sigma,
            features=features,
            cache_key=metadata["cache_key"],
            resolution=int(metadata["resolution"]),
            channels=int(metadata["channels"]),
        )
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types for damaged files
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise SynthfaceError(
            f"cannot read reference statistics {path} ({reason}); delete it to recompute"
        ) from exc
    if metadata.get("preprocess") != PREPROCESS_VERSION or metadata.get("format") != REFERENCE_FORMAT:
        raise SynthfaceError(
            f"reference statistics {path} were made by another version; delete it to recompute"
        )
    count = features.shape[0] if features.ndim == 2 else -1
    expected = ((FEATURE_DIM,), (FEATURE_DIM, FEATURE_DIM), (count, FEATURE_DIM))
    if (mu.shape, sigma.shape, features.shape) != expected:
        raise SynthfaceError(f"reference statistics {path} have wrong shapes; delete it to recompute")
    return stats


def compute_reference_stats(
    images_uint8: torch.Tensor, cache_key: str, extractor: InceptionFeatures, progress: bool = True
) -> ReferenceStats:
    """Extract features of real uint8 NCHW images and fit the Gaussian (no caching)."""
    if images_uint8.ndim != 4 or images_uint8.shape[0] < 2:
        raise SynthfaceError(
            "reference statistics need at least 2 images shaped [N, C, H, W], "
            f"got {tuple(images_uint8.shape)}"
        )
    features = extractor(images_uint8, progress=progress, desc="reference features")
    gaussian = GaussianStats.from_features(features)
    return ReferenceStats(
        mu=gaussian.mu,
        sigma=gaussian.sigma,
        features=features,
        cache_key=cache_key,
        resolution=int(images_uint8.shape[-1]),
        channels=int(images_uint8.shape[1]),
    )


def reference_stats(
    prepared: PreparedLike,
    device: str | torch.device = "auto",
    batch_size: int = 64,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = True,
) -> ReferenceStats:
    """Reference statistics of prepared data: from the cache when present, else computed and cached.

    A damaged or outdated cache file is reported on one warning line and recomputed.
    """
    path = reference_cache_path(prepared.cache_key, cache_dir)
    if use_cache and path.is_file():
        try:
            cached = load_reference_stats(path)
        except SynthfaceError as exc:
            log.warning("%s", exc)
        else:
            if cached.cache_key == prepared.cache_key and cached.count == int(prepared.images.shape[0]):
                return cached
            log.warning("reference statistics %s do not match the data; recomputing", path)
    extractor = InceptionFeatures(device=device, batch_size=batch_size)
    stats = compute_reference_stats(prepared.images, prepared.cache_key, extractor, progress=progress)
    if use_cache:
        save_reference_stats(stats, path)
    return stats
