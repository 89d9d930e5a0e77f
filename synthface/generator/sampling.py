"""Sampling figures: seed grids and the style-mixing grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from synthface.errors import SynthfaceError
from synthface.generator.images import make_grid, to_uint8
from synthface.generator.networks import Generator
from synthface.generator.seeds import z_from_seeds


def load_generator(spec: str | Path | None = None, device: str = "cpu") -> Generator:
    """A generator from a save_pretrained folder, a training run folder, a Hub id or "bundled" (None: the
    default); see `synthface.pretrained.resolve_model_folder`."""
    from synthface.pretrained import resolve_model_folder

    path = resolve_model_folder(spec, "generator")
    try:
        G = Generator.from_pretrained(str(path))
    except (OSError, ValueError, RuntimeError, TypeError, KeyError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise SynthfaceError(f"cannot load generator {spec} ({reason}); it needs a config.json and "
                             "model.safetensors written by save_pretrained") from None
    G = G.to(device).eval()
    if next(G.parameters()).device.type == "cpu":
        # oneDNN's channels_last convolutions: 1.5x faster synthesis on a CPU core (same images to 1e-5).
        G = G.to(memory_format=torch.channels_last)
    return G


@torch.no_grad()
def seed_grid(G: Generator, seeds: list[int], psi: float = 0.7, columns: int = 8,
              noise_mode: str = "const") -> Image.Image:
    z = z_from_seeds(seeds, G.z_dim)
    images = to_uint8(G(z, psi=psi, noise_mode=noise_mode))
    return make_grid(images, columns=min(columns, len(seeds)))


STYLE_BANDS = ("coarse", "middle", "fine")


def first_layer_of(resolution: int) -> int:
    """Index in ws of the first style a block at `resolution` uses (4 px: 0, 8 px: 1, 16 px: 3, ...)."""
    return max(0, 2 * (resolution.bit_length() - 1) - 5)


def style_band(spec: str, num_ws: int, img_resolution: int) -> tuple[int, int]:
    """Layers [start, end) that a style donor contributes.

    coarse: the 4-8 px blocks (pose, face shape); middle: 16-32 px (features, hair
    style, eyes open); fine: 64 px and up (colour scheme, micro-structure). A layer
    index N means "from layer N to the end". A model with no 64 px block has its
    last block as "fine".
    """
    if spec in STYLE_BANDS:
        mid_start = min(first_layer_of(16), num_ws - 1)
        fine_start = min(first_layer_of(64), first_layer_of(img_resolution), num_ws - 1)
        mid_start = min(mid_start, fine_start)
        return {"coarse": (0, mid_start), "middle": (mid_start, fine_start), "fine": (fine_start, num_ws)}[spec]
    try:
        start = int(spec)
    except ValueError:
        raise SynthfaceError(f"crossover {spec!r}: use coarse, middle, fine or a layer index") from None
    if not 0 < start < num_ws:
        raise SynthfaceError(f"crossover layer {start} must be between 1 and {num_ws - 1} for this model")
    return start, num_ws


def mix_styles(ws_source: torch.Tensor, ws_style: torch.Tensor, band: tuple[int, int]) -> torch.Tensor:
    """The source's styles, except layers [start, end) which come from the style donor."""
    start, end = band
    return torch.cat([ws_source[:, :start], ws_style[:, start:end], ws_source[:, end:]], dim=1)


@torch.no_grad()
def mixing_grid(G: Generator, source_seeds: list[int], style_seeds: list[int], band: tuple[int, int],
                psi: float = 0.7, noise_mode: str = "const") -> Image.Image:
    """The classic figure: rows are sources, columns style donors; top row and left column alone."""
    ws_src = G.mapping(z_from_seeds(source_seeds, G.z_dim), psi=psi)
    ws_sty = G.mapping(z_from_seeds(style_seeds, G.z_dim), psi=psi)
    src_img = to_uint8(G.synthesis(ws_src, noise_mode=noise_mode))
    sty_img = to_uint8(G.synthesis(ws_sty, noise_mode=noise_mode))
    blank = np.full_like(src_img[0], 255)
    tiles = [blank, *sty_img]
    for r in range(len(source_seeds)):
        mixed = mix_styles(ws_src[r : r + 1].expand(len(style_seeds), -1, -1), ws_sty, band)
        tiles.append(src_img[r])
        tiles.extend(to_uint8(G.synthesis(mixed, noise_mode=noise_mode)))
    return make_grid(np.stack(tiles), columns=len(style_seeds) + 1)


@torch.no_grad()
def edit_grid(G: Generator, seeds: list[int], vector: np.ndarray, spread: float, amount: float, columns: int = 5,
              psi: float = 0.7) -> Image.Image:
    """One row per seed: its face moved along a W direction (unit `vector`) from 0 to `amount` spreads."""
    ws = G.mapping(z_from_seeds(seeds, G.z_dim), psi=psi)  # [S, num_ws, w_dim]
    steps = torch.linspace(0.0, float(amount), max(2, columns))
    offset = torch.from_numpy(np.asarray(vector, np.float32)) * float(spread)
    moved = ws[:, None] + steps[None, :, None, None] * offset  # [S, C, num_ws, w_dim]
    images = to_uint8(G.synthesis(moved.flatten(0, 1), noise_mode="const"))
    return make_grid(images, columns=len(steps))
