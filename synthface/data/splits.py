"""Train / val / test splits that never put the same person (or picture) on both sides.

A detector evaluated on other photos of people it was trained on measures memory of
faces, not of generator traces. So photos are grouped by identity -- the name of the
folder that holds them (LFW's `Person_Name/`, CelebA's `celeb_N/`) -- and whole groups
are assigned to a split by a stable hash of that name. A dataset's own `train` / `test`
folders are not trusted to keep people apart (CelebA's hold the same 200 people), so they
only count in flat folders (no identities), which are otherwise split per file, as
folders of generated images are.
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
        if by_identity:
            out.append(_hash_split(path.parent.name, val, test))
            continue
        declared = next((_FOLDER_SPLITS[p.lower()] for p in path.parts[:-1] if p.lower() in _FOLDER_SPLITS),
                        None)
        if declared == "train":  # a declared training folder only gives some files up to val
            out.append("val" if _unit(name) < val else "train")
        else:
            out.append(declared or _hash_split(name, val, test))
    return out
