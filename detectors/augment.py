"""Image degradations: training augmentation (after Wang et al. 2020) and the evaluation conditions.

Images met in the wild have been blurred, recompressed and resized on the way. Training
on degraded copies (each with probability 0.5: Gaussian blur sigma ~ U[0, 3], JPEG
quality ~ U[30, 100]; plus a random rescale and crop) keeps the detector from relying
on the most fragile traces; Wang et al. ("CNN-generated images are surprisingly easy to
spot... for now", CVPR 2020) showed this is what makes detectors generalise. Both
classes get exactly the same chain, so nothing but the generator's traces separates them.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

_RESAMPLERS = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)


def gaussian_blur(image: Image.Image, sigma: float) -> Image.Image:
    # Pillow's GaussianBlur radius is the standard deviation of its kernel.
    return image.filter(ImageFilter.GaussianBlur(radius=float(sigma))) if sigma > 0 else image


def jpeg(image: Image.Image, quality: int) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=int(quality))
    buffer.seek(0)
    with Image.open(buffer) as decoded:
        return decoded.convert("RGB")


def rescale(image: Image.Image, factor: float,
            resample: Image.Resampling = Image.Resampling.BICUBIC) -> Image.Image:
    width, height = image.size
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return image.resize(size, resample) if size != image.size else image


@dataclass(frozen=True)
class AugmentConfig:
    """Probabilities and ranges of the training degradations."""

    blur_p: float = 0.5
    blur_sigma: tuple[float, float] = (0.0, 3.0)
    jpeg_p: float = 0.5
    jpeg_quality: tuple[int, int] = (30, 100)
    resize_p: float = 0.5
    # Drawn log-uniformly: halving is as likely as doubling. (Uniform draws put 3% of views
    # near 0.5x, and the detector fell to AP 0.61 on halved images; profile pictures are
    # usually downscaled.)
    resize_range: tuple[float, float] = (0.5, 2.0)
    flip: bool = True


def degrade(pixels: np.ndarray, rng: np.random.Generator, config: AugmentConfig,
            min_side: int = 16) -> np.ndarray:
    """Random rescale, blur and JPEG (each with its probability); the result keeps >= `min_side` px."""
    image = Image.fromarray(pixels)
    if rng.random() < config.resize_p:
        # Never below min_side: a training crop must stay a crop, not an upsampling.
        low, high = np.log(config.resize_range[0]), np.log(config.resize_range[1])
        factor = max(float(np.exp(rng.uniform(low, high))), min_side / min(image.size))
        image = rescale(image, factor, _RESAMPLERS[rng.integers(len(_RESAMPLERS))])
    if rng.random() < config.blur_p:
        image = gaussian_blur(image, rng.uniform(*config.blur_sigma))
    if rng.random() < config.jpeg_p:
        image = jpeg(image, int(rng.integers(config.jpeg_quality[0], config.jpeg_quality[1] + 1)))
    return np.asarray(image)


def augment(pixels: np.ndarray, crop: int, rng: np.random.Generator, config: AugmentConfig) -> np.ndarray:
    """One training view: uint8 HWC in, uint8 [crop, crop, 3] out (random degradations, then a crop)."""
    out = degrade(pixels, rng, config, min_side=crop)
    height, width = out.shape[:2]
    if min(height, width) < crop:  # only when the source itself is smaller than the crop
        out = np.asarray(rescale(Image.fromarray(out), crop / min(height, width)))
        height, width = out.shape[:2]
    top = int(rng.integers(0, height - crop + 1))
    left = int(rng.integers(0, width - crop + 1))
    out = out[top:top + crop, left:left + crop]
    if config.flip and rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out)


def _center_crop(fraction: float) -> Callable[[Image.Image], Image.Image]:
    def apply(image: Image.Image) -> Image.Image:
        width, height = image.size
        keep_w, keep_h = round(width * (1 - fraction)), round(height * (1 - fraction))
        left, top = (width - keep_w) // 2, (height - keep_h) // 2
        return image.crop((left, top, left + keep_w, top + keep_h))

    return apply


# The evaluation conditions: name -> deterministic degradation of a PIL image.
CONDITIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "clean": lambda image: image,
    "jpeg90": lambda image: jpeg(image, 90),
    "jpeg75": lambda image: jpeg(image, 75),
    "jpeg50": lambda image: jpeg(image, 50),
    "resize0.5": lambda image: rescale(image, 0.5),
    "blur1": lambda image: gaussian_blur(image, 1.0),
    "crop10": _center_crop(0.10),
}


def apply_condition(pixels: np.ndarray, condition: str) -> np.ndarray:
    """uint8 HWC -> the same image under an evaluation condition (see `CONDITIONS`)."""
    return np.ascontiguousarray(np.asarray(CONDITIONS[condition](Image.fromarray(pixels)).convert("RGB")))
