"""Generated images for the detector's "synthetic" class, from a synthface generator.

The detector must see the whole range of what the generator produces: truncation psi
from 0.5 (typical, smooth faces) to 1.0 (diverse, more artefacts), with and without
style mixing (two latents crossing over at a random layer, as personas are made).
Images are written as PNG (lossless: the training chain decides what degradations
both classes see), one file per seed, so a folder is a reproducible sample.

Every file is C2PA-signed as AI-generated, like every image synthface writes, but carries no
watermark: a detector trained on marked faces could learn the mark instead of the generator's
traces, and would then miss the same faces without it. The signature sits in its own PNG
chunk and leaves the pixels alone.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch

from synthface.errors import SynthfaceError
from synthface.io_utils import write_bytes_atomic


class SignedFakeWriter:
    """Writes generated faces as signed PNGs without a watermark (see the module docstring)."""

    def __init__(self, generator_id: str, checkpoint_sha256: str) -> None:
        from synthface.provenance import load_signing_identity

        self.identity = load_signing_identity(None, None, create_if_missing=True)
        self.generator_id, self.checkpoint_sha256 = generator_id, checkpoint_sha256

    def write(self, path: Path, pixels: np.ndarray, seed: int, psi: float, **details: object) -> None:
        """uint8 HxWxC pixels as a signed PNG, written atomically."""
        from PIL import Image

        from synthface.provenance import generation_assertion, sign_image

        buffer = io.BytesIO()
        Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(buffer, "PNG")
        assertion = generation_assertion(generator_id=self.generator_id, checkpoint_sha256=self.checkpoint_sha256,
                                         seed=seed, psi=psi, purpose="detector training, unwatermarked", **details)
        signed = sign_image(buffer.getvalue(), self.identity, assertion, fmt="png", title=path.name)
        write_bytes_atomic(path, signed.data)


@torch.no_grad()
def generate_fakes(
    generator: str,
    out: str | Path,
    count: int,
    psis: tuple[float, ...] = (0.5, 0.7, 0.85, 1.0),
    mixing: float = 0.5,
    seed_start: int = 0,
    batch: int = 32,
    progress: bool = True,
) -> list[Path]:
    """Write `count` PNGs (seeds seed_start..) cycling through `psis`; `mixing` of them style-mixed."""
    from tqdm.auto import tqdm

    from synthface.generator.images import to_uint8
    from synthface.generator.sampling import load_generator
    from synthface.generator.seeds import z_from_seeds

    if count < 1:
        raise SynthfaceError("--count must be at least 1")
    if not psis or any(not 0.0 <= p <= 1.0 for p in psis):
        raise SynthfaceError("each psi must be between 0 and 1")
    from synthface.personas.persona import checkpoint_sha256
    from synthface.pretrained import resolve_model_folder

    folder = resolve_model_folder(generator, "generator")
    G = load_generator(folder)
    writer = SignedFakeWriter(str(generator), checkpoint_sha256(folder))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    seeds = list(range(seed_start, seed_start + count))
    rng = np.random.default_rng(seed_start)
    with tqdm(total=count, unit="img", desc="generate", disable=not progress, dynamic_ncols=True) as bar:
        for start in range(0, count, batch):
            chunk = seeds[start:start + batch]
            chunk_psis = [psis[seed % len(psis)] for seed in chunk]
            ws = torch.cat([G.mapping(z_from_seeds([s], G.z_dim), psi=p) for s, p in zip(chunk, chunk_psis,
                                                                                           strict=True)])
            names, details = [], []
            for row, (seed, psi) in enumerate(zip(chunk, chunk_psis, strict=True)):
                tag = f"seed{seed:07d}_psi{psi:.2f}"
                detail: dict[str, object] = {}
                if rng.random() < mixing and G.num_ws > 1:
                    donor = G.mapping(z_from_seeds([seed + 10_000_000], G.z_dim), psi=psi)
                    cross = int(rng.integers(1, G.num_ws))
                    ws[row, cross:] = donor[0, cross:]
                    tag += f"_mix{cross}"
                    detail["style_mix"] = {"donor_seed": seed + 10_000_000, "crossover": cross}
                names.append(tag + ".png")
                details.append(detail)
            images = to_uint8(G.synthesis(ws, noise_mode="const"))
            for name, pixels, seed, psi, detail in zip(names, images, chunk, chunk_psis, details, strict=True):
                writer.write(out / name, pixels, seed, psi, **detail)
                written.append(out / name)
            bar.update(len(chunk))
    return written
