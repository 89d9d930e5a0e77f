"""Train / val / test splits that never put the same person (or picture) on both sides.

A detector evaluated on other photos of people it was trained on measures memory of
faces, not of generator traces. So photos are grouped by identity -- the folder that
holds them (LFW's `Person_Name/`, CelebA's `celeb_N/`) -- and whole groups are assigned
to a split by a stable hash of the group name. A path that already says where it
belongs (a `train` / `val` / `test` folder, e.g. CelebA's) keeps that assignment; its
`train` part still gives up some identities to `val` for calibration. Flat folders of
generated images (no identities) are split per file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import PurePosixPath

SPLITS = ("train", "val", "test")
_FOLDER_SPLITS = {"train": "train", "training": "train", "val": "val", "valid": "val",
                  "validation": "val", "test": "test", "testing": "test"}


def _unit(text: str) -> float:
    """A stable number in [0, 1) from a string (same on every machine and Python run)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") / 2**64


def _hash_split(group: str, val: float, test: float) -> str:
    u = _unit(group)
    return "test" if u < test else "val" if u < test + val else "train"


def assign_splits(names: Sequence[str], val: float = 0.1, test: float = 0.2) -> list[str]:
    """The split of each name (a source-relative POSIX path like `lfw/AJ_Cook/AJ_Cook_0001.jpg`)."""
    parents = {str(PurePosixPath(name).parent) for name in names}
    by_identity = len(parents) >= 5  # otherwise a flat folder: there are no identities to keep apart
    out = []
    for name in names:
        path = PurePosixPath(name)
        group = str(path.parent) if by_identity else name
        declared = next((_FOLDER_SPLITS[p.lower()] for p in path.parts[:-1] if p.lower() in _FOLDER_SPLITS),
                        None)
        if declared == "train":
            # Identities of a declared training folder are only divided between train and val.
            out.append("val" if _unit(path.parent.name if by_identity else name) < val else "train")
        elif declared is not None:
            out.append(declared)
        else:
            out.append(_hash_split(group, val, test))
    return out
