"""Sources of labelled images for the detector: names, labels and the images to measure.

Training reads sources through face banks (`synthface.facebank`); evaluation reads the
original files, because it must measure what `detect` does with a whole photo. A source's
label is its folder name (`lfw`, `random-face`) or dataset id, and it is how reports and the
model's config name it: a source whose label the detector trained on is measured on its
`test` split only (`synthface.data.splits`), any other source on all of its images.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from synthface.data.splits import assign_splits
from synthface.facebank import source_label


def _load(fetch, names: list[str], index: int):
    from synthface.data import load_image

    return load_image(fetch(index, index + 1)[0], name=names[index])


def eval_source(source: str, real: bool, seen_labels: set[str], limit: int | None = None, seed: int = 0):
    """An `EvalSource`: the test split of a seen source or all of an unseen one, at most `limit` images
    (a seeded random subset, the same every run)."""
    from detectors.evaluation import EvalSource
    from synthface.data.sources import resolve_source

    resolved = resolve_source(source)
    label = source_label(str(source))
    seen = label in seen_labels
    indices = np.arange(len(resolved.names))
    if seen:
        indices = indices[np.array(assign_splits(resolved.names)) == "test"]
    if limit is not None and len(indices) > limit:
        indices = np.sort(np.random.default_rng(seed).choice(indices, limit, replace=False))
    names = [resolved.names[i] for i in indices]
    positions = [int(i) for i in indices]

    def fetch(start: int, stop: int) -> list:
        return [resolved.fetch(positions[i], positions[i] + 1)[0] for i in range(start, stop)]

    return EvalSource(label, real, seen, names, partial(_load, fetch, names))
