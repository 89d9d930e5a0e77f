"""Image bytes in and out: format sniffing, safe decoding, one-shot encoding.

Decoding is where bad input shows up (random bytes, truncation, absurd sizes, odd modes), so
every failure here becomes one SynthfaceError line that names the input.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image

from synthface.errors import SynthfaceError

MIME_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}
MAX_PIXELS = 64_000_000


def sniff_format(data: bytes) -> str | None:
    """'png', 'jpeg', or None, from the magic bytes (never from a file name)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def decode_pixels(data: bytes, name: str) -> np.ndarray:
    """Decode to uint8 RGB (HxWx3); raises SynthfaceError for corrupt/truncated/huge images."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise SynthfaceError(f"{name} is {image.width}x{image.height} px, too large to check")
            image.load()
    except SynthfaceError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise SynthfaceError(f"{name} is corrupt or truncated: the image data cannot be decoded") from None
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if image.mode == "RGBA":
        image = image.convert("RGB")
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


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
