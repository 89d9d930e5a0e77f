"""Crop presets, squaring (crop or pad) and high-quality resizing.

The generator learns whatever framing it is shown, so every training image must
frame the face the same way. Aligned datasets have known face positions: the
CelebA and LFW presets cut the square around the face; anything else gets a
centred square. The resize reduces by whole factors first (box filter) and then
finishes with Lanczos, which avoids the aliasing of a single bilinear step.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CROP_PRESETS = ("auto", "celeba", "lfw", "center", "none")
FIT_MODES = ("crop", "pad")

# (reference width, reference height, left, top, side) of the face square.
_PRESET_BOXES: dict[str, tuple[int, int, int, int, int]] = {
    "celeba": (178, 218, 19, 40, 140),  # img_align_celeba
    "lfw": (250, 250, 50, 58, 150),  # LFW deep-funneled
}

# Pillow first shrinks by an integer factor with a box filter while the image stays at least
# this many times the target size, then runs Lanczos: near-identical quality, much faster.
_REDUCING_GAP = 3.0

Box = tuple[float, float, float, float]


def resolve_preset(crop: str, width: int, height: int) -> str:
    """The concrete preset for one image: `auto` looks at the size (CelebA / LFW / centre)."""
    if crop != "auto":
        return crop
    for preset, (ref_w, ref_h, *_rest) in _PRESET_BOXES.items():
        if (width, height) == (ref_w, ref_h):
            return preset
    return "center"


def preset_box(crop: str, width: int, height: int) -> Box:
    """The region (left, top, right, bottom) that `crop` selects in a width x height image.

    A dataset preset on an image of another size (e.g. a 2x CelebA) is scaled per axis,
    so it keeps selecting the same part of the picture.
    """
    preset = resolve_preset(crop, width, height)
    if preset in _PRESET_BOXES:
        ref_w, ref_h, left, top, side = _PRESET_BOXES[preset]
        sx, sy = width / ref_w, height / ref_h
        return (left * sx, top * sy, (left + side) * sx, (top + side) * sy)
    if preset == "center":
        side = min(width, height)
        left, top = (width - side) / 2, (height - side) / 2
        return (left, top, left + side, top + side)
    if preset == "none":
        return (0.0, 0.0, float(width), float(height))
    raise ValueError(f"unknown crop preset {crop!r}; choose one of {', '.join(CROP_PRESETS)}")


def _centre_square(box: Box) -> Box:
    left, top, right, bottom = box
    side = min(right - left, bottom - top)
    cx, cy = (left + right) / 2, (top + bottom) / 2
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def _pad_to_square(image: Image.Image, box: Box) -> Image.Image:
    """Cut `box` out and centre it on a black square canvas (letterboxing)."""
    left, top, right, bottom = (round(v) for v in box)
    region = image.crop((left, top, right, bottom))
    side = max(region.width, region.height)
    canvas = Image.new(image.mode, (side, side), 0)
    canvas.paste(region, ((side - region.width) // 2, (side - region.height) // 2))
    return canvas


def crop_and_resize(
    image: Image.Image, resolution: int, crop: str = "auto", fit: str = "crop"
) -> Image.Image:
    """Select the preset region, make it square (`fit`), resize to resolution x resolution."""
    box = preset_box(crop, image.width, image.height)
    box_w, box_h = box[2] - box[0], box[3] - box[1]
    if abs(box_w - box_h) > 1e-6:
        if fit == "crop":
            box = _centre_square(box)
        elif fit == "pad":
            image = _pad_to_square(image, box)
            box = (0.0, 0.0, float(image.width), float(image.height))
        else:
            raise ValueError(f"unknown fit {fit!r}; choose one of {', '.join(FIT_MODES)}")
    # Crop first (whole pixels), then resize: resizing with `box=` would let the Lanczos kernel
    # and the box reduction pull in pixels from outside the region, blurring context into the edge.
    left, top, right, bottom = (round(v) for v in box)
    side = max(1, min(right - left, bottom - top))  # a sliver of a tiny image still gives one pixel
    left, top = min(left, image.width - side), min(top, image.height - side)
    region = image.crop((left, top, left + side, top + side))
    if side == resolution:
        return region
    gap = _REDUCING_GAP if side > resolution else None
    return region.resize((resolution, resolution), Image.Resampling.LANCZOS, reducing_gap=gap)


def to_chw_array(image: Image.Image) -> np.ndarray:
    """uint8 [C, H, W] array of an RGB or L image (C = 3 or 1)."""
    array = np.asarray(image, dtype=np.uint8)
    if array.ndim == 2:
        return array[None, :, :].copy()
    return np.ascontiguousarray(array.transpose(2, 0, 1))
