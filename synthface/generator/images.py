"""Conversions between generator outputs and ordinary images."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """Float NCHW in [-1, 1] -> uint8 NHWC numpy (grayscale keeps a channel axis of 1)."""
    scaled = (images.detach().float() * 127.5 + 128.0).clamp(0, 255).to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).cpu().numpy()


def to_pil(image_hwc: np.ndarray) -> Image.Image:
    """One uint8 HWC array -> a PIL image (mode L for one channel, RGB for three)."""
    if image_hwc.shape[2] == 1:
        return Image.fromarray(image_hwc[:, :, 0], mode="L")
    return Image.fromarray(image_hwc, mode="RGB")


def uint8_to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 NCHW -> float32 in [-1, 1], the range the networks work in."""
    return images.to(torch.float32) / 127.5 - 1.0


def make_grid(images_nhwc: np.ndarray, columns: int, padding: int = 2) -> Image.Image:
    """Tile uint8 NHWC images into one PIL image, row-major."""
    count, height, width, channels = images_nhwc.shape
    rows = (count + columns - 1) // columns
    canvas = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels), 255, np.uint8
    )
    for index in range(count):
        r, c = divmod(index, columns)
        y = padding + r * (height + padding)
        x = padding + c * (width + padding)
        canvas[y : y + height, x : x + width] = images_nhwc[index]
    return to_pil(canvas)
