"""Load the real and generated images of one experiment, split and ready for training or evaluation.

Both classes go through `synthface.data.prepare_images` with the same options, so they
arrive at the same resolution, decoded from their files the same way, and a detector
cannot tell them apart by size, format or resampling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.splits import SPLITS, assign_splits
from synthface.errors import SynthfaceError


@dataclass
class SplitImages:
    """uint8 NHWC images of one source, by split, and the source's label for reports."""

    label: str
    source: str
    splits: dict[str, np.ndarray]
    skipped: int

    def get(self, split: str) -> np.ndarray:
        if split == "all":
            return np.concatenate([self.splits[s] for s in SPLITS])
        return self.splits[split]


def source_label(source: str) -> str:
    """A short name for reports: the folder's name (`gen-psi07`), or the dataset id."""
    path = Path(source)
    return path.name if path.exists() else source


def load_split_source(
    source: str | Path,
    resolution: int,
    label: str | None = None,
    max_images: int | None = None,
    progress: bool = True,
    num_workers: int | None = None,
) -> SplitImages:
    """Prepare every image of `source` at `resolution` and split it (see `detectors.splits`)."""
    from synthface.data import prepare_images

    prepared = prepare_images(str(source), resolution=resolution, max_images=max_images, progress=progress,
                              num_workers=num_workers)
    images = prepared.images.permute(0, 2, 3, 1).numpy()
    if images.shape[-1] != 3:
        raise SynthfaceError(f"{source}: the detector needs RGB images")
    assignment = np.array(assign_splits(prepared.names))
    splits = {name: np.ascontiguousarray(images[assignment == name]) for name in SPLITS}
    return SplitImages(label or source_label(str(source)), str(source), splits, len(prepared.skipped))
