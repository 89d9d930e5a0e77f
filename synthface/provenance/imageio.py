"""Image bytes in and out: format sniffing, safe decoding, one-shot encoding.

Decoding is where bad input shows up (random bytes, truncation, absurd sizes, odd modes); it
goes through the data pipeline's one decoder (`synthface.data.decode`), whose limits apply to
every image synthface reads, and every failure becomes one SynthfaceError line naming the input.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from synthface.errors import SynthfaceError

MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}


def sniff_format(data: bytes) -> str | None:
    """'png', 'jpeg', or None, from the magic bytes (never from a file name)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def decode_pixels(data: bytes, name: str) -> np.ndarray:
    """Decode to uint8 RGB (HxWx3) with the data pipeline's limits and modes
    (`synthface.data.decode`); raises SynthfaceError naming `name` for corrupt, truncated or
    oversized images."""
    from synthface.data.decode import decode_image

    return np.asarray(decode_image(data, channels=3, name=name), dtype=np.uint8)


def encode_pixels(pixels: np.ndarray, fmt: str, *, jpeg_quality: int = 95) -> bytes:
    """Encode uint8 pixels as PNG or JPEG (4:4:4 chroma, so the face keeps its colour detail)."""
    fmt = fmt.lower().replace("jpg", "jpeg")
    if fmt not in MIME_TYPES:
        raise SynthfaceError(f"cannot write format {fmt!r}; use png or jpeg")
    buffer = io.BytesIO()
    image = Image.fromarray(pixels)
    if fmt == "png":
        image.save(buffer, "PNG", compress_level=6)
    else:
        image.save(buffer, "JPEG", quality=jpeg_quality, subsampling=0)
    return buffer.getvalue()
