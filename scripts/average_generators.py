"""Snapshot averaging: one generator whose weights are the mean of several milestones of a run.

An experiment kept as a script, not a synthface command: late in a GAN run FID drifts between
milestones, and the mean of milestones of one run lies in the same basin and cancels much of that
drift (Yazici et al. 2019, "The Unusual Effectiveness of Averaging in GAN Training"). Measure each
mean with `synthface metrics` like any other candidate; what it gave here is in docs/training-log.md.

Only milestones of one run average meaningfully (same architecture and a shared trajectory); a
different architecture is refused. The discriminator of the newest milestone goes beside the mean,
so `train --init-from` on the result goes on against the D the newest generator was trained with.

    python scripts/average_generators.py runs/faces64/generators/kimg-00{15..19}* --out runs/faces64-mean
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch

from synthface.errors import SynthfaceError
from synthface.generator.networks import Generator
from synthface.generator.sampling import load_generator
from synthface.io_utils import atomic_folder
from synthface.pretrained import DISCRIMINATOR_FOLDER
from synthface.training.warm_start import read_kimg


def generator_architecture(G: Generator) -> dict:
    """The constructor arguments save_pretrained wrote to config.json."""
    return dict(getattr(G, "_hub_mixin_config", {}) or {})


def average_generators(folders: Sequence[str | Path]) -> Generator:
    """A generator whose floating-point parameters and buffers are the mean of the given ones."""
    if len(folders) < 2:
        raise SynthfaceError("averaging needs at least two generator folders (milestones of one run)")
    first = load_generator(folders[0])
    mean = {name: tensor.detach().double().clone() for name, tensor in first.state_dict().items()}
    for folder in folders[1:]:
        G = load_generator(folder)
        if generator_architecture(G) != generator_architecture(first):
            raise SynthfaceError(f"{folder} has another architecture than {folders[0]}; average milestones "
                                 "of one run only")
        for name, tensor in G.state_dict().items():
            if tensor.is_floating_point():
                mean[name] += tensor.detach().double()
    state = {name: (tensor / len(folders) if tensor.is_floating_point() else tensor)
             for name, tensor in mean.items()}
    reference = first.state_dict()
    first.load_state_dict({name: state[name].to(reference[name].dtype) for name in reference})
    return first


def export_average(folders: Sequence[str | Path], out: str | Path) -> Path:
    """Write the mean of `folders` to `out` (config + safetensors, D of the newest, metrics.json).

    The folder is staged beside `out` and swapped in whole (`atomic_folder`).
    """
    folders = [Path(folder) for folder in folders]
    out = Path(out)
    G = average_generators(folders)
    kimgs = [read_kimg(folder) for folder in folders]
    newest = max(range(len(folders)), key=lambda i: (kimgs[i] is not None, kimgs[i] or 0.0, i))
    known = sorted(k for k in kimgs if k is not None)
    metrics: dict = {"averaged_from": f"{len(folders)} milestones"
                     + (f", {known[0]:g}-{known[-1]:g} kimg" if known else "")}
    if kimgs[newest] is not None:
        metrics["kimg"] = kimgs[newest]
    return write_generator_folder(G, out, folders[newest] / DISCRIMINATOR_FOLDER, metrics)


def write_generator_folder(G: Generator, out: Path, discriminator: Path, metrics: dict) -> Path:
    """Save G to `out` with `discriminator` (a folder, copied when it exists) beside it and `metrics`
    as metrics.json, staged beside `out` and swapped in whole (`atomic_folder`)."""
    with atomic_folder(out) as tmp:
        G.to(torch.float32, memory_format=torch.contiguous_format).save_pretrained(tmp)
        if (discriminator / "model.safetensors").is_file():
            shutil.copytree(discriminator, tmp / DISCRIMINATOR_FOLDER)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return out


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folders", nargs="+", type=Path, help="generator folders: milestones of one run")
    parser.add_argument("--out", type=Path, required=True, help="folder for the averaged generator")
    args = parser.parse_args()
    try:
        folder = export_average(args.folders, args.out)
    except SynthfaceError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"wrote {folder} (mean of {len(args.folders)} generators)")


if __name__ == "__main__":
    main()
