"""Checkpoints as safetensors: nested training state without pickles.

A training state is a tree of dicts/lists holding tensors and plain values
(optimiser states, RNG states, counters). `save_state` stores every tensor in one
safetensors file and the tree's shape, with tensors replaced by references, as
JSON in the file's metadata, so loading never unpickles anything. Files are
written atomically; only the newest `keep` checkpoints are kept.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from synthface.errors import SynthfaceError
from synthface.io_utils import atomic_path

log = logging.getLogger(__name__)

CHECKPOINT_PATTERN = re.compile(r"^checkpoint-(\d{9})\.safetensors$")
_TENSOR_REF = "__tensor__"
_TUPLE = "__tuple__"


def _flatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {_TENSOR_REF: key}
    if isinstance(obj, dict):
        return {"__dict__": [[_flatten(k, tensors), _flatten(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {_TUPLE: [_flatten(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [_flatten(v, tensors) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a checkpoint")


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if _TENSOR_REF in obj:
            return tensors[obj[_TENSOR_REF]]
        if _TUPLE in obj:
            return tuple(_unflatten(v, tensors) for v in obj[_TUPLE])
        return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def save_state(state: dict[str, Any], path: str | Path) -> None:
    """Write a nested training state to one safetensors file, atomically."""
    tensors: dict[str, torch.Tensor] = {}
    tree = _flatten(state, tensors)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"synthface_state": json.dumps(tree)})


def load_state(path: str | Path) -> dict[str, Any]:
    """Read a state written by `save_state` (no pickle involved)."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as handle:  # one open: metadata and tensors
            tree = json.loads((handle.metadata() or {})["synthface_state"])
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - safe_open is not iterable
    except Exception as exc:  # safetensors raises its own error type for damaged headers
        raise SynthfaceError(
            f"checkpoint {path} is unreadable ({exc}); delete it to resume from an older one"
        ) from None
    return _unflatten(tree, tensors)


def checkpoint_path(run_dir: str | Path, images_seen: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"checkpoint-{images_seen:09d}.safetensors"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if CHECKPOINT_PATTERN.match(p.name)]
    return sorted(found, key=lambda p: int(CHECKPOINT_PATTERN.match(p.name).group(1)))


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def load_newest_state(run_dir: str | Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest checkpoint that can be read, and its state; None when the run has none.

    A newer file that cannot be read (a kill mid-copy, a full disk, a damaged file) is reported
    and skipped, so a resume loses at most one more checkpoint interval instead of stopping.
    """
    found = list_checkpoints(run_dir)
    for path in reversed(found):
        try:
            return path, load_state(path)
        except SynthfaceError as exc:
            log.warning("%s; resuming from an older checkpoint", exc)
    if found:
        raise SynthfaceError(f"none of the {len(found)} checkpoints in {Path(run_dir) / 'checkpoints'} can be "
                             "read; start the run again without --resume in a new --out")
    return None


def prune_checkpoints(run_dir: str | Path, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints."""
    for old in list_checkpoints(run_dir)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)


def rng_state() -> dict[str, Any]:
    """The global RNG states that a step consumes (CPU, and CUDA when present)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
