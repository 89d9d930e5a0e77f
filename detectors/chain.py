"""The random chain every training view goes through, real and generated alike, and the
evaluation conditions.

Why one chain for both classes: whatever differs between the two training sets other than
synthesis becomes the detector's evidence. Our real photos are small, soft JPEG crops and our
generated faces 64 px PNGs or 1024 px renders, so without the chain the detector learns size,
sharpness and codec (and calls a sharp 1024 px portrait, or a photo saved as a GIF, synthetic).
Each view therefore gets, whatever its class:

- a source size: the face square is shrunk to 32..2x the working size (log-uniform, never
  above what the image has), and sometimes enlarged again as an upscaled avatar would be,
  each time with a randomly chosen resampling kernel;
- blur and sensor-like noise, sometimes;
- a codec: JPEG at quality 30-100, a 256-colour palette PNG (with or without dithering), a GIF,
  or nothing;
- sometimes grey instead of everything outside a random box around the face (a tightly cropped
  upload), and grayscale;
- a small random shift, scale and rotation of the canonical square, then the working-size crop
  with another random kernel, and a mirror flip.

The conditions (`CONDITIONS`) are what `eval-detector` applies to whole images before the
detector sees them: the everyday edits a profile picture goes through.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from synthface.faces import FILL, canonical_crop

_KERNELS = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS,
            Image.Resampling.BOX, Image.Resampling.HAMMING)


@dataclass(frozen=True)
class ChainConfig:
    """Probabilities and ranges of the chain's steps."""

    smallest_side: int = 32  # the face square's smallest source size, px
    upscale_p: float = 0.25
    upscale_range: tuple[float, float] = (1.25, 4.0)
    blur_p: float = 0.15
    blur_sigma: tuple[float, float] = (0.3, 1.5)
    noise_p: float = 0.15
    noise_sigma: tuple[float, float] = (1.0, 8.0)  # in 8-bit levels
    jpeg_p: float = 0.65
    jpeg_quality: tuple[int, int] = (30, 100)
    palette_p: float = 0.1
    gif_p: float = 0.05
    tight_crop_p: float = 0.2
    grayscale_p: float = 0.03
    shift: float = 0.02  # of the square's side
    scale: float = 0.04  # relative
    rotation_degrees: float = 3.0
    flip: bool = True


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def palette_png(image: Image.Image, dither: bool) -> Image.Image:
    """256 colours, as a palette PNG stores them (what many sites and editors save)."""
    quantized = image.quantize(256, dither=Image.Dither.FLOYDSTEINBERG if dither else Image.Dither.NONE)
    buffer = io.BytesIO()
    quantized.save(buffer, "PNG")
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def gif(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "GIF")
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def rescale(image: Image.Image, factor: float,
            resample: Image.Resampling = Image.Resampling.BICUBIC) -> Image.Image:
    width, height = image.size
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return image.resize(size, resample) if size != image.size else image


def _codec(image: Image.Image, rng: np.random.Generator, config: ChainConfig) -> Image.Image:
    draw = rng.random()
    if draw < config.jpeg_p:
        return jpeg(image, int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1)))
    draw -= config.jpeg_p
    if draw < config.palette_p:
        return palette_png(image, dither=bool(rng.random() < 0.5))
    draw -= config.palette_p
    if draw < config.gif_p:
        return gif(image)
    return image


def _noise(image: Image.Image, sigma: float, rng: np.random.Generator) -> Image.Image:
    pixels = np.asarray(image, dtype=np.float32)
    noisy = pixels + rng.normal(0.0, sigma, pixels.shape).astype(np.float32)
    return Image.fromarray(np.clip(noisy + 0.5, 0, 255).astype(np.uint8))


def _tight_crop(image: Image.Image, margin: float, rng: np.random.Generator) -> Image.Image:
    """Grey outside a random box that keeps the face (the canonical square's middle) in view."""
    pixels = np.array(image)
    side = pixels.shape[0]
    unit = side / (1 + 2 * margin)  # region px per canonical unit

    def edge(low: float, high: float) -> int:
        return int(round((margin + rng.uniform(low, high)) * unit))

    left, top = edge(-margin, 0.08), edge(-margin, 0.08)
    right, bottom = edge(0.92, 1 + margin), edge(0.92, 1 + margin)
    pixels[:top], pixels[bottom:] = FILL, FILL
    pixels[:, :left], pixels[:, right:] = FILL, FILL
    return Image.fromarray(pixels)


def _jitter(config: ChainConfig, rng: np.random.Generator) -> np.ndarray:
    """A small similarity of the canonical frame about its centre (3x3)."""
    scale = math.exp(rng.uniform(-config.scale, config.scale))
    angle = math.radians(rng.uniform(-config.rotation_degrees, config.rotation_degrees))
    shift = rng.uniform(-config.shift, config.shift, 2)
    cos, sin = scale * math.cos(angle), scale * math.sin(angle)
    centre = np.array([0.5, 0.5])
    offset = centre - np.array([[cos, -sin], [sin, cos]]) @ centre + shift
    return np.array([[cos, -sin, offset[0]], [sin, cos, offset[1]], [0.0, 0.0, 1.0]])


def training_view(region: np.ndarray, margin: float, size: int, rng: np.random.Generator,
                  config: ChainConfig) -> np.ndarray:
    """One view, uint8 [size, size, 3], of a face region from the face bank.

    `region` is the face's canonical frame from -margin to 1 + margin (upright, at the detail
    the photo had, capped by the bank): canonical units map linearly to its pixels.
    """
    image = Image.fromarray(region)
    unit = image.width / (1 + 2 * margin)  # px per canonical unit: the face square's side now
    target = math.exp(rng.uniform(math.log(config.smallest_side), math.log(2 * size)))
    if target < unit:
        image = rescale(image, target / unit, _KERNELS[rng.integers(len(_KERNELS))])
    if rng.random() < config.upscale_p:
        current = image.width / (1 + 2 * margin)
        factor = min(rng.uniform(*config.upscale_range), 4 * size / current)
        if factor > 1:
            image = rescale(image, factor, _KERNELS[rng.integers(3)])
    if rng.random() < config.tight_crop_p:
        image = _tight_crop(image, margin, rng)
    if rng.random() < config.blur_p:
        image = image.filter(ImageFilter.GaussianBlur(radius=float(rng.uniform(*config.blur_sigma))))
    if rng.random() < config.noise_p:
        image = _noise(image, float(rng.uniform(*config.noise_sigma)), rng)
    image = _codec(image, rng, config)
    if rng.random() < config.grayscale_p:
        image = image.convert("L").convert("RGB")
    per_unit = image.width / (1 + 2 * margin)
    region_to_canonical = np.array([[1 / per_unit, 0.0, -margin], [0.0, 1 / per_unit, -margin], [0.0, 0.0, 1.0]])
    matrix = (_jitter(config, rng) @ region_to_canonical)[:2]
    view = canonical_crop(image, matrix, size, resample=_KERNELS[rng.integers(len(_KERNELS))])
    if config.flip and rng.random() < 0.5:
        view = view[:, ::-1]
    return np.ascontiguousarray(view)


# The evaluation conditions: name -> deterministic edit of a whole PIL image.
CONDITIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "clean": lambda image: image,
    "jpeg75": lambda image: jpeg(image, 75),
    "resize0.5": lambda image: rescale(image, 0.5),
    "resize2": lambda image: rescale(image, 2.0),
}


def apply_condition(image: Image.Image, condition: str) -> Image.Image:
    """`image` under an evaluation condition (see `CONDITIONS`), as RGB."""
    return CONDITIONS[condition](image).convert("RGB")
