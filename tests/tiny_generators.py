"""Tiny exported generator folders for the weight-arithmetic tests (averaging, extrapolation)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from synthface.generator.discriminator import Discriminator
from synthface.generator.networks import Generator
from synthface.pretrained import DISCRIMINATOR_FOLDER

TINY = dict(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=32)


def save_tiny_generator(folder: Path, seed: int, kimg: float, with_d: bool = False, **overrides) -> Path:
    """A random tiny G (w_avg randomised too, so buffers are covered) saved as `train` exports it."""
    torch.manual_seed(seed)
    G = Generator(**{**TINY, **overrides})
    with torch.no_grad():
        G.mapping_net.w_avg.normal_()
    G.save_pretrained(folder)
    (folder / "metrics.json").write_text(json.dumps({"kimg": kimg}))
    if with_d:
        torch.manual_seed(seed + 100)  # each folder's D differs, so tests can tell whose was copied
        Discriminator(resolution=16, channel_base=256, channel_max=32).save_pretrained(folder / DISCRIMINATOR_FOLDER)
    return folder


def check_exported_generator(out: Path, d_from: Path) -> dict:
    """Assert `out` loads and samples, holds `d_from`'s D byte for byte and left no temp folder;
    return its metrics.json."""
    from synthface.generator.sampling import load_generator

    G = load_generator(out)
    images = G(torch.randn(2, G.z_dim), psi=1.0)
    assert images.shape == (2, 3, 16, 16) and torch.isfinite(images).all()
    d_bytes = (out / DISCRIMINATOR_FOLDER / "model.safetensors").read_bytes()
    assert d_bytes == (d_from / DISCRIMINATOR_FOLDER / "model.safetensors").read_bytes()
    assert not list(out.parent.glob(f".{out.name}*")), "no temp folder is left behind"
    return json.loads((out / "metrics.json").read_text())


SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def run_script(args: list[str]) -> subprocess.CompletedProcess:
    """Run a script of scripts/ as a user would: `python scripts/NAME.py ARGS`."""
    return subprocess.run([sys.executable, str(SCRIPTS / args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=300)
