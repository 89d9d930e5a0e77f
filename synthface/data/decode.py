"""Decode one image file (or bytes) into a plain RGB or L `PIL.Image`.

Real photo collections contain every oddity: palette GIFs, 16-bit PNGs, CMYK JPEGs,
transparent logos, phone photos stored sideways with an EXIF orientation tag,
truncated downloads and the occasional decompression bomb. This module turns all of
them into one predictable mode (or one clear, one-line error), so the geometry code
and the trainer never see anything but 8-bit RGB/L pixels.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from synthface.errors import SynthfaceError
from synthface.limits import MAX_DECODED_PIXELS, MAX_IMAGE_PIXELS

_WHITE = (255, 255, 255)


class ImageReadError(SynthfaceError):
    """An image that cannot be used; `reason` is the short why, without the file name."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"cannot read image '{name}': {reason}")
        self.name = name
        self.reason = reason


def _name_of(source: str | Path | bytes, name: str | None) -> str:
    if name is not None:
        return name
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    return str(source)


def _open(source: str | Path | bytes, name: str) -> Image.Image:
    """Open lazily (header only), refusing bombs before any pixel is decoded."""
    if not isinstance(source, (bytes, bytearray, memoryview)):
        path = Path(source)
        if path.exists() and not path.is_dir() and not path.is_file():
            # A FIFO, socket or device would block or never end; only regular files are images.
            raise ImageReadError(name, "not a regular file (a pipe, socket or device); pass an image file")
    try:
        with warnings.catch_warnings():
            # The size check below refuses (with a clear reason) what Pillow would only warn about.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            if isinstance(source, (bytes, bytearray, memoryview)):
                image = Image.open(io.BytesIO(bytes(source)))
            else:
                image = Image.open(Path(source))
    except FileNotFoundError:
        raise ImageReadError(name, "file not found") from None
    except IsADirectoryError:
        raise ImageReadError(name, "is a directory, not an image") from None
    except PermissionError:
        raise ImageReadError(name, "permission denied") from None
    except Image.DecompressionBombError as exc:
        raise ImageReadError(name, _too_large(exc)) from None
    except UnidentifiedImageError:
        raise ImageReadError(name, "not a recognised image format (corrupt or not an image)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(name, _corrupt_reason(exc)) from None
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise ImageReadError(
            name,
            f"too large ({width}x{height} = {width * height / 1e6:.1f} Mpx > "
            f"{MAX_IMAGE_PIXELS / 1e6:.1f} Mpx limit); refused as a possible decompression bomb: shrink it "
            "below the limit first",
        )
    if width < 1 or height < 1:
        raise ImageReadError(name, f"empty image ({width}x{height})")
    return image


def _too_large(exc: Image.DecompressionBombError) -> str:
    """Pillow's bomb error, said as the size limit it is (Pillow refuses twice our limit itself)."""
    import re

    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)) / 1e6:.0f} Mpx" if found else f"over {2 * MAX_IMAGE_PIXELS / 1e6:.0f} Mpx"
    return (f"too large ({size} > {MAX_IMAGE_PIXELS / 1e6:.1f} Mpx limit); refused as a possible decompression "
            "bomb: shrink it below the limit first")


def _short(exc: BaseException) -> str:
    """One line, bounded length: exception text may contain newlines or whole byte dumps."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _corrupt_reason(exc: BaseException) -> str:
    text = _short(exc)
    return f"truncated or corrupt ({text})" if "truncat" in text.lower() else f"corrupt ({text})"


def _high_bit_depth_to_8bit(image: Image.Image) -> Image.Image:
    """Scale I;16 / I / F images to 8-bit L; `convert("L")` would just clip them to 255."""
    array = np.asarray(image)
    if array.dtype.kind == "f":
        finite = np.nan_to_num(array.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        # Float images are conventionally in [0, 1]; anything beyond looks like 0..255 data.
        scaled = finite * 255.0 if finite.max(initial=0.0) <= 1.0 else finite
    else:
        values = array.astype(np.int64)
        peak = int(values.max(initial=0))
        # 16-bit data (the usual case) maps 0..65535 -> 0..255; 8-bit data stored in a wider type stays.
        scaled = values / 257.0 if peak > 255 else values.astype(np.float64)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def _flatten_alpha(image: Image.Image) -> Image.Image:
    """Composite any transparency onto white, so transparent pixels do not become black."""
    rgba = image.convert("RGBA")
    background = Image.new("RGBA", rgba.size, _WHITE + (255,))
    return Image.alpha_composite(background, rgba).convert("RGB")


def normalize_mode(image: Image.Image, channels: int = 3) -> Image.Image:
    """Return `image` as 8-bit "RGB" (channels=3) or "L" (channels=1).

    Alpha (RGBA, LA, PA, palette transparency) is composited on white; 16-bit and
    float images are rescaled rather than clipped; CMYK/YCbCr/LAB/HSV go through
    Pillow's conversion to RGB; 1-bit images become 0/255.
    """
    mode = image.mode
    if mode == "P":
        has_alpha = "transparency" in image.info or image.palette is not None and image.palette.mode == "RGBA"
        image = image.convert("RGBA" if has_alpha else "RGB")
        mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        image = _high_bit_depth_to_8bit(image)
        mode = "L"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode in ("RGB", "L") and "transparency" in image.info):
        image = _flatten_alpha(image)
        mode = "RGB"
    target = "RGB" if channels == 3 else "L"
    if mode == target:
        return image
    if target == "L" and mode not in ("RGB", "1"):
        image = image.convert("RGB")
    return image.convert(target)


def decode_image(source: str | Path | bytes, channels: int = 3, name: str | None = None) -> Image.Image:
    """Fully decode `source` into an upright 8-bit RGB/L image, or raise `ImageReadError`."""
    label = _name_of(source, name)
    image = _open(source, label)
    try:
        with warnings.catch_warnings():
            # Pillow warns about odd-but-harmless files (bad EXIF, palette transparency); the batch
            # report is the place for problems, not a stream of library warnings.
            warnings.simplefilter("ignore")
            if getattr(image, "n_frames", 1) > 1:
                image.seek(0)  # animated GIF/WebP/TIFF: the first frame is the picture
            if image.format == "JPEG" and image.width * image.height > MAX_DECODED_PIXELS:
                scale = next((s for s in (2, 4, 8) if image.width * image.height <= MAX_DECODED_PIXELS * s * s), 8)
                image.draft("RGB", (-(-image.width // scale), -(-image.height // scale)))
            image.load()
            try:
                upright = ImageOps.exif_transpose(image)
            except Exception:  # noqa: BLE001 - a broken EXIF block must not cost us the pixels
                upright = image
            result = normalize_mode(upright if upright is not None else image, channels)
            # `close()` below invalidates `image`; never hand it out itself.
            return result.copy() if result is image else result
    except ImageReadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageReadError(label, _too_large(exc)) from None
    except OSError as exc:
        raise ImageReadError(label, _corrupt_reason(exc)) from None
    except (ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, MemoryError) as exc:
        raise ImageReadError(label, f"corrupt ({type(exc).__name__}: {_short(exc)})") from None
    finally:
        image.close()


def load_image(path_or_bytes: str | Path | bytes, name: str | None = None) -> Image.Image:
    """Load one image as upright 8-bit RGB.

    Raises `SynthfaceError` (an `ImageReadError`) with a one-line message naming the
    file when it is missing, corrupt, truncated, not an image, or bomb-sized.
    """
    return decode_image(path_or_bytes, channels=3, name=name)
