"""On-disk cache of prepared uint8 image tensors (safetensors, never pickle).

Decoding 18k JPEGs takes a while on a laptop; reloading one safetensors file takes
a second or two. The key covers everything that changes the pixels (the source's
fingerprint, crop, resolution, channels, fit, image count), so a stale cache can
never be served, and it is what FID reference statistics are cached under too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from synthface.io_utils import atomic_path

log = logging.getLogger(__name__)

CACHE_FORMAT = 2  # bump when the pixels for the same options would change (e.g. a new resize)
ENV_CACHE_ROOT = "SYNTHFACE_CACHE"


def cache_root() -> Path:
    """synthface's cache root: $SYNTHFACE_CACHE, else the platform user cache dir / "synthface"."""
    override = os.environ.get(ENV_CACHE_ROOT)
    if override:
        return Path(override).expanduser()
    try:
        from platformdirs import user_cache_dir
    except ImportError:  # declared dependency, but a bare environment should still work
        return Path.home() / ".cache" / "synthface"
    return Path(user_cache_dir("synthface", appauthor=False))


def prepared_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """Folder for prepared tensors: `cache_dir` when given, else cache_root() / "prepared"."""
    return Path(cache_dir).expanduser() if cache_dir is not None else cache_root() / "prepared"


def make_cache_key(fingerprint: str, **options: object) -> str:
    """Stable hex key of a source fingerprint plus the preparation options."""
    payload = json.dumps({"format": CACHE_FORMAT, "fingerprint": fingerprint, **options}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclass
class CachedImages:
    images: torch.Tensor
    names: list[str]
    skipped: list[tuple[str, str]]
    source: str


def cache_file(directory: Path, key: str) -> Path:
    return directory / f"{key}.safetensors"


def save_cached(path: Path, entry: CachedImages, options: dict[str, object]) -> None:
    """Write the tensor and its names/skips (as JSON metadata) atomically."""
    metadata = {
        "format": str(CACHE_FORMAT),
        "names": json.dumps(entry.names),
        "skipped": json.dumps([list(item) for item in entry.skipped]),
        "source": entry.source,
        "options": json.dumps(options, sort_keys=True),
    }
    with atomic_path(path) as tmp:
        save_file({"images": entry.images.contiguous()}, str(tmp), metadata=metadata)


def load_cached(path: Path) -> CachedImages | None:
    """The cached entry at `path`, or None when it is absent or unusable (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            images = handle.get_tensor("images")
        names = json.loads(metadata["names"])
        skipped = [(str(name), str(reason)) for name, reason in json.loads(metadata["skipped"])]
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[0] != len(names):
            raise ValueError(f"tensor {tuple(images.shape)} {images.dtype} does not match {len(names)} names")
        return CachedImages(images.contiguous(), names, skipped, metadata.get("source", ""))
    except Exception as exc:  # noqa: BLE001 - any damage means "rebuild", never "crash"
        log.warning("ignoring unreadable cache file %s (%s); preparing again", path, str(exc).splitlines()[0])
        return None
