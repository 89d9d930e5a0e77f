"""`prepare_images`: a source in, one cached uint8 tensor of square faces out.

This is what the GAN trainer, the FID reference statistics and the detector all
call. It resolves the source, serves the cache when the same data was already
prepared with the same options, and otherwise decodes in parallel, reporting (not
raising on) every unreadable image, then caches the result atomically.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from synthface.data.cache import (
    CachedImages,
    cache_file,
    load_cached,
    make_cache_key,
    prepared_cache_dir,
    save_cached,
)
from synthface.data.geometry import CROP_PRESETS, FIT_MODES
from synthface.data.sources import ResolvedSource, resolve_source
from synthface.data.workers import PrepOptions, default_workers, prepare_work, run_chunks
from synthface.errors import SynthfaceError

log = logging.getLogger("synthface.data")

MAX_RESOLUTION = 4096


@dataclass
class PreparedImages:
    """Prepared images and where they came from.

    images: uint8 [N, C, H, W], contiguous. names: source-relative names in the same
    order (sorted). skipped: (name, reason) of images that could not be used.
    cache_key: hex key of (source fingerprint, options), stable for the same inputs.
    """

    images: torch.Tensor
    names: list[str]
    skipped: list[tuple[str, str]]
    cache_key: str
    source: str
    from_cache: bool = False
    cache_path: Path | None = None
    seconds: float = field(default=0.0, repr=False)

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_options(resolution: int, crop: str, channels: int, fit: str, max_images: int | None) -> None:
    if not _is_int(resolution) or not 1 <= resolution <= MAX_RESOLUTION:
        raise SynthfaceError(f"resolution must be an integer from 1 to {MAX_RESOLUTION}, got {resolution!r}")
    if crop not in CROP_PRESETS:
        raise SynthfaceError(f"unknown crop preset '{crop}'; choose one of {', '.join(CROP_PRESETS)}")
    if channels not in (1, 3):
        raise SynthfaceError(f"channels must be 3 (RGB) or 1 (grayscale), got {channels!r}")
    if fit not in FIT_MODES:
        raise SynthfaceError(f"unknown fit '{fit}'; choose one of {', '.join(FIT_MODES)}")
    if max_images is not None and (not _is_int(max_images) or max_images < 1):
        raise SynthfaceError(f"max_images must be a positive integer or None, got {max_images!r}")


def _decode_all(
    resolved: ResolvedSource, options: PrepOptions, workers: int, progress: bool
) -> tuple[torch.Tensor, list[str], list[tuple[str, str]]]:
    count = len(resolved.names)
    side = options.resolution
    buffer = torch.empty((count, options.channels, side, side), dtype=torch.uint8)
    target = buffer.numpy()
    usable = np.zeros(count, dtype=bool)
    skipped: list[tuple[str, str]] = []
    bar = tqdm(
        total=count,
        unit="img",
        desc=f"preparing {side}x{side} images",
        disable=not progress,
        dynamic_ncols=True,
    )
    with bar:
        for result in run_chunks(count, resolved.fetch, resolved.names, prepare_work(options), workers):
            indices = [result.start + offset for offset in result.ok]
            if indices:
                target[indices] = result.images
                usable[indices] = True
            for offset, reason in result.failures:
                name = resolved.names[result.start + offset]
                skipped.append((name, reason))
                log.warning("skipped image %s: %s", name, reason)
            bar.update(len(result.ok) + len(result.failures))
            if skipped:
                bar.set_postfix(skipped=len(skipped), refresh=False)
    skipped.sort()
    keep = np.flatnonzero(usable)
    names = [resolved.names[i] for i in keep]
    images = buffer if len(keep) == count else buffer[torch.from_numpy(keep)].contiguous()
    return images, names, skipped


def prepare_images(
    source: str | Path,
    resolution: int,
    crop: str = "auto",
    channels: int = 3,
    fit: str = "crop",
    image_column: str = "image",
    cache_dir: str | Path | None = None,
    max_images: int | None = None,
    use_cache: bool = True,
    progress: bool = True,
    num_workers: int | None = None,
) -> PreparedImages:
    """Decode, crop and resize every image of `source` into a uint8 [N, C, R, R] tensor.

    source: an image folder (recursive), a `save_to_disk` dataset folder, a dataset folder
    in the Hub layout, or a Hub dataset id. crop: "auto" (per image: 178x218 -> celeba,
    250x250 -> lfw, else centre), "celeba", "lfw", "center" or "none". fit: how a
    non-square region becomes square ("crop" the centre or "pad" with black).
    max_images: only the first N (sorted) items. use_cache=False neither reads nor
    writes the cache. num_workers: decoding processes (default: all usable CPUs).

    Unreadable images are skipped with one warning line each and listed in `.skipped`;
    only a source with no usable image at all raises `SynthfaceError`.
    """
    began = time.perf_counter()
    _check_options(resolution, crop, channels, fit, max_images)
    resolved = resolve_source(source, image_column=image_column).truncated(max_images)
    options = PrepOptions(resolution=resolution, crop=crop, channels=channels, fit=fit)
    key_options: dict[str, object] = {
        "resolution": resolution,
        "crop": crop,
        "channels": channels,
        "fit": fit,
        "count": len(resolved.names),
        "image_column": image_column if resolved.kind == "dataset" else None,
    }
    key = make_cache_key(resolved.fingerprint, **key_options)
    path = cache_file(prepared_cache_dir(cache_dir), key)

    if use_cache:
        cached = load_cached(path)
        if cached is not None:
            if cached.skipped:
                log.warning("%d images of '%s' were skipped when this cache was built (see .skipped)",
                            len(cached.skipped), source)
            log.info("loaded %d prepared images of '%s' from cache %s", len(cached.names), source, path)
            return PreparedImages(
                cached.images, cached.names, cached.skipped, key, str(source), True, path,
                time.perf_counter() - began,
            )

    workers = default_workers() if num_workers is None else max(1, int(num_workers))
    images, names, skipped = _decode_all(resolved, options, workers, progress)
    if not names:
        first = f" (first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise SynthfaceError(
            f"none of the {len(resolved.names)} images in '{source}' could be read{first}; "
            f"check that the source holds valid image files"
        )
    if skipped:
        total = len(resolved.names)
        log.warning("skipped %d of %d images of '%s' (see .skipped)", len(skipped), total, source)
    stored: Path | None = None
    if use_cache:
        try:
            save_cached(path, CachedImages(images, names, skipped, str(source)), key_options)
            stored = path
        except OSError as exc:  # a read-only or full disk costs the cache, not the run
            log.warning("could not write the prepared-image cache %s (%s); continuing without it", path, exc)
    seconds = time.perf_counter() - began
    return PreparedImages(images, names, skipped, key, str(source), False, stored, seconds)
