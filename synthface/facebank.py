"""The face bank: every usable face of one source, upright, with room around it, cached.

Training (the detector's random views in `detectors.chain`, the attribute model's) draws
hundreds of thousands of views of the same faces. Decoding each
photo and finding its face again for every view would cost more than the training itself,
so a source is read once: each image is decoded, its largest face found and the canonical
frame from -MARGIN to 1 + MARGIN cut out upright at the detail the photo has (capped at
`max_side` px per face square: the chain never needs more than twice the working size).
Images without a usable face are reported and left out, as `detect` would leave them out.

The bank is cached as safetensors (never pickle) under the synthface cache, keyed by the
source's fingerprint and the options, so a second run starts in seconds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from synthface.data.splits import SPLITS, assign_splits
from synthface.errors import SynthfaceError

log = logging.getLogger("synthface.facebank")

MARGIN = 0.25  # canonical units kept on each side of the face square
BANK_FORMAT = 1  # bump when the regions for the same options would change


@dataclass
class FaceBank:
    """Face regions of one source: `regions[i, :sides[i], :sides[i]]` is image `names[i]`'s."""

    label: str
    source: str
    names: list[str]
    regions: np.ndarray  # uint8 [N, R, R, 3], each region in its top-left corner
    sides: np.ndarray  # int32 [N]: region side in px
    crop_sides: np.ndarray  # float32 [N]: the face square's side in the original image, px
    skipped: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.names)

    def region(self, index: int) -> np.ndarray:
        side = int(self.sides[index])
        return self.regions[index, :side, :side]

    def split_indices(self) -> dict[str, np.ndarray]:
        """Indices of each split (people kept apart: `synthface.data.splits`)."""
        assignment = np.array(assign_splits(self.names)) if self.names else np.array([], dtype=str)
        return {split: np.flatnonzero(assignment == split) for split in SPLITS}


@dataclass
class _BankChunk:
    start: int
    ok: list[int]
    regions: list[np.ndarray]
    crop_sides: list[float]
    failures: list[tuple[int, str]]


def _bank_chunk(start: int, payloads: list, names: list[str], max_side: int) -> _BankChunk:
    from synthface.data.decode import ImageReadError, decode_image
    from synthface.faces import canonical_crop, find_faces

    chunk = _BankChunk(start, [], [], [], [])
    for offset, (payload, name) in enumerate(zip(payloads, names, strict=True)):
        try:
            if not payload:
                raise ImageReadError(name, "no image data")
            image = decode_image(payload, channels=3, name=name)
            faces = find_faces(image)
            if not faces:
                chunk.failures.append((offset, "no face found"))
                continue
            face = faces[0]
            crop_side = face.crop_side()
            side = max(8, round(min(crop_side, max_side) * (1 + 2 * MARGIN)))
            region = canonical_crop(image, face.to_canonical(), side, extent=(-MARGIN, 1 + MARGIN),
                                    resample=_lanczos())
            chunk.ok.append(offset)
            chunk.regions.append(region)
            chunk.crop_sides.append(crop_side)
        except ImageReadError as exc:
            chunk.failures.append((offset, exc.reason))
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the batch
            chunk.failures.append((offset, f"unexpected {type(exc).__name__}: {' '.join(str(exc).split())[:160]}"))
    return chunk


def _crashed(index: int, reason: str) -> _BankChunk:
    return _BankChunk(index, [], [], [], [(0, reason)])


def _lanczos():
    from PIL import Image

    return Image.Resampling.LANCZOS


def _cache_path(fingerprint: str, max_side: int, count: int) -> Path:
    from synthface.data.cache import cache_root, make_cache_key

    key = make_cache_key(fingerprint, kind="face-bank", bank_format=BANK_FORMAT, margin=MARGIN,
                         max_side=max_side, count=count)
    return cache_root() / "faces" / f"{key}.safetensors"


def _save(path: Path, bank: FaceBank) -> None:
    from safetensors.numpy import save_file

    from synthface.io_utils import atomic_path

    metadata = {"names": json.dumps(bank.names), "skipped": json.dumps([list(s) for s in bank.skipped]),
                "source": bank.source}
    tensors = {"regions": bank.regions, "sides": bank.sides, "crop_sides": bank.crop_sides}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)


def _load(path: Path, label: str) -> FaceBank | None:
    from safetensors import safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="numpy") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in ("regions", "sides", "crop_sides")}
        names = json.loads(metadata["names"])
        skipped = [(str(a), str(b)) for a, b in json.loads(metadata["skipped"])]
        if len(tensors["regions"]) != len(names):
            raise ValueError("names and regions differ in length")
        return FaceBank(label, metadata.get("source", ""), names, tensors["regions"], tensors["sides"],
                        tensors["crop_sides"], skipped)
    except Exception as exc:  # noqa: BLE001 - a damaged cache is rebuilt, never fatal
        log.warning("ignoring unreadable face bank %s (%s)", path, str(exc).splitlines()[0])
        return None


def source_label(source: str) -> str:
    """A short name for reports: the folder's name (`gen-psi07`), or the dataset id."""
    path = Path(source)
    return path.name if path.exists() else source


def build_face_bank(source: str | Path, max_side: int, label: str | None = None, max_images: int | None = None,
                    progress: bool = True, num_workers: int | None = None, use_cache: bool = True) -> FaceBank:
    """Find the face of every image of `source` (folder or dataset) and keep its region; cached."""
    from tqdm.auto import tqdm

    from synthface.data.sources import resolve_source
    from synthface.data.workers import ChunkWork, default_workers, run_chunks

    label = label or source_label(str(source))
    resolved = resolve_source(source).truncated(max_images)
    path = _cache_path(resolved.fingerprint, max_side, len(resolved.names))
    if use_cache and (cached := _load(path, label)) is not None:
        return cached
    count = len(resolved.names)
    side = round(max_side * (1 + 2 * MARGIN))
    regions = np.zeros((count, side, side, 3), dtype=np.uint8)
    sides = np.zeros(count, dtype=np.int32)
    crop_sides = np.zeros(count, dtype=np.float32)
    usable = np.zeros(count, dtype=bool)
    skipped: list[tuple[str, str]] = []
    work = ChunkWork(partial(_bank_chunk, max_side=max_side), _crashed)
    workers = default_workers() if num_workers is None else max(1, num_workers)
    with tqdm(total=count, unit="img", desc=f"finding faces in {label}", disable=not progress,
              dynamic_ncols=True) as bar:
        for chunk in run_chunks(count, resolved.fetch, resolved.names, work, workers, chunk_size=32):
            for offset, region, crop_side in zip(chunk.ok, chunk.regions, chunk.crop_sides, strict=True):
                index = chunk.start + offset
                regions[index, :region.shape[0], :region.shape[1]] = region
                sides[index], crop_sides[index], usable[index] = region.shape[0], crop_side, True
            skipped.extend((resolved.names[chunk.start + offset], reason) for offset, reason in chunk.failures)
            bar.update(len(chunk.ok) + len(chunk.failures))
            bar.set_postfix(no_face=len(skipped), refresh=False)
    keep = np.flatnonzero(usable)
    if len(keep) == 0:
        first = f" (first: {skipped[0][0]}: {skipped[0][1]})" if skipped else ""
        raise SynthfaceError(f"no usable face in any of the {count} images of {source}{first}")
    if skipped:
        log.warning("%s: %d of %d images left out (no face found or unreadable)", label, len(skipped), count)
    bank = FaceBank(label, str(source), [resolved.names[i] for i in keep], regions[keep], sides[keep],
                    crop_sides[keep], sorted(skipped))
    if use_cache:
        try:
            _save(path, bank)
        except OSError as exc:
            log.warning("could not cache the face bank at %s (%s)", path, exc)
    return bank
