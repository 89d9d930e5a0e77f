"""Latents for personas: base faces, style-mixed faces and variants, batch-independent.

Every image is a pure function of its persona spec and variant number, never of the
batch it was synthesised in: z comes from per-seed generators, and per-image noise is
drawn from a per-image generator and passed as each NoiseInjection's buffer (shape
[N, 1, H, W], which broadcasts per image) through `torch.func.functional_call`. That
is what lets ranks split the work and still produce the same dataset.

Variants follow the style-based generator's scale-specific control: variant 0 is the
persona itself with the model's constant noise; variant v > 0 keeps the coarse and
middle styles (pose, face shape, features) and takes the fine styles (colour
scheme, micro-structure) from a derived seed, with fresh noise.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch

from synthface.errors import SynthfaceError
from synthface.generator.networks import Generator
from synthface.generator.sampling import mix_styles, style_band
from synthface.generator.seeds import z_from_seeds
from synthface.personas.persona import PersonaSpec

NOISE_BUFFER = "noise_const"


def derived_seed(*parts: object) -> int:
    """A 63-bit seed from a tuple, e.g. ("variant", 42, 3): stable across machines."""
    text = ":".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


@dataclass(frozen=True)
class ImageSpec:
    """One image to synthesise: a persona spec and its variant number."""

    persona: PersonaSpec
    variant: int

    @property
    def noise_seed(self) -> int | None:
        """None: the model's constant noise (variant 0); else the seed of this image's noise."""
        return None if self.variant == 0 else derived_seed("noise", self.persona.key, self.variant)

    @property
    def fine_seed(self) -> int | None:
        """Seed whose fine styles a variant borrows (None for variant 0)."""
        return None if self.variant == 0 else derived_seed("fine", self.persona.key, self.variant)


def check_crossover(G: Generator, crossover: str) -> tuple[int, int]:
    """The style layers a donor contributes, with a clear error for bad specs."""
    return style_band(crossover, G.num_ws, G.img_resolution)


@torch.no_grad()
def image_ws(G: Generator, specs: list[ImageSpec], psi: float) -> torch.Tensor:
    """ws [N, num_ws, w_dim] for a batch of image specs (truncated by psi)."""
    if not specs:
        raise SynthfaceError("no images to synthesise")
    ws = G.mapping(z_from_seeds([s.persona.seed for s in specs], G.z_dim), psi=psi)
    mixed = [i for i, s in enumerate(specs) if s.persona.mixed]
    if mixed:
        donors = G.mapping(z_from_seeds([specs[i].persona.style_seed for i in mixed], G.z_dim), psi=psi)
        for row, i in enumerate(mixed):
            band = check_crossover(G, str(specs[i].persona.crossover))
            ws[i : i + 1] = mix_styles(ws[i : i + 1], donors[row : row + 1], band)
    varied = [i for i, s in enumerate(specs) if s.variant > 0]
    if varied:
        fine = style_band("fine", G.num_ws, G.img_resolution)
        donors = G.mapping(z_from_seeds([specs[i].fine_seed for i in varied], G.z_dim), psi=psi)
        for row, i in enumerate(varied):
            ws[i : i + 1] = mix_styles(ws[i : i + 1], donors[row : row + 1], fine)
    return ws


def _noise_buffers(G: Generator) -> dict[str, torch.Tensor]:
    return {name: buf for name, buf in G.named_buffers() if name.endswith(NOISE_BUFFER)}


@torch.no_grad()
def synthesise(G: Generator, ws: torch.Tensor, specs: list[ImageSpec]) -> torch.Tensor:
    """Images [N, C, H, W] for ws, with each image's own noise (constant for variant 0)."""
    buffers = _noise_buffers(G)
    if not buffers or all(s.noise_seed is None for s in specs):
        return G.synthesis(ws, noise_mode="const")
    per_image: dict[str, list[torch.Tensor]] = {name: [] for name in buffers}
    for spec in specs:
        seed = spec.noise_seed
        rng = torch.Generator().manual_seed(seed) if seed is not None else None
        for name, buf in buffers.items():
            noise = buf if rng is None else torch.randn(buf.shape, generator=rng, dtype=buf.dtype)
            per_image[name].append(noise)
    stacked = {name: torch.cat(parts).to(ws.device) for name, parts in per_image.items()}
    return _synthesis_with_buffers(G, stacked, ws)


def _synthesis_with_buffers(G: Generator, buffers: dict[str, torch.Tensor], ws: torch.Tensor) -> torch.Tensor:
    """Run G.synthesis with some buffers replaced for this call only (the model is untouched)."""
    prefix = "synthesis_net."
    local = {name[len(prefix):]: value for name, value in buffers.items() if name.startswith(prefix)}
    return torch.func.functional_call(G.synthesis_net, local, (ws,), {"noise_mode": "const"})
