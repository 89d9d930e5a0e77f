"""Invisible watermark: spread-transform dither modulation (STDM) in the image's global DCT.

Why this scheme (see benchmarks/watermark.py for the measurements): at 64x64 px the
library watermarks (invisible-watermark's dwtDctSvd, blind-watermark) have too few blocks
to hold 80 bits, and additive spread spectrum drowns in the face's own texture. STDM
quantises a *projection* of many DCT coefficients, so the host image does not interfere,
and its distortion is set by the quantiser step alone: we choose the step from a target
PSNR, which makes the mark equally faint at every resolution.

How it works: the luma channel Y is transformed with an orthonormal 2-D DCT. The
coefficients in a mid-low frequency band (normalised radius `BAND`) are shuffled with a
fixed public seed and dealt out to the 80 coded bits; each bit owns a disjoint set of
coefficients and a random +-1 direction over them. The projection of the coefficients onto
that direction is quantised to the bit's lattice (offset by a per-bit dither), and the
difference is added back along the direction, equally to R, G and B so that chroma is
untouched. The mark is public by design: anyone can read it, and the signed C2PA
manifest it points to (through a sidecar store) is what proves who made the image.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from synthface.errors import SynthfaceError
from synthface.provenance.payload import CODED_BITS, Payload

ALGORITHM = "org.synthface.watermark.stdm-dct.1"
BAND = (0.04, 0.20)
DEFAULT_PSNR_DB = 38.0
MIN_SIDE = 64
# Resizing, re-encoding and contrast or brightness edits scale the projections by an unknown
# gain. The decoder scans this fine grid of gains (cheap: 80 projections each) and CRC-checks
# only the `_GAIN_TRIES` gains whose soft bits sit closest to a lattice (gain 1.0 always first),
# so the false-positive bound per read is _GAIN_TRIES * 2**-32 however fine the grid.
# The grid must be fine: a projection sits tens of steps from zero, so a 1% gain error moves
# it by a large part of a step.
_GAIN_GRID = np.arange(0.5, 1.25, 0.001)
_GAIN_TRIES = 8
# Generators write squares of these sides. A square image of another size (a persona enlarged or
# shrunk since it was marked) is also read back at each of them: the mark lives in a band of
# normalised frequencies, which resizing keeps. Images larger than the biggest side are read only
# that way, so an 8000 px photo costs a 1024 px read, not a 64 Mpx transform.
MARKED_SIDES = (64, 128, 256, 512, 1024)
_SQUARE_TOLERANCE = 0.02  # aspect ratios this close to 1 count as square
_SEED = 0x5F17_FACE
_LUMA = np.array([0.299, 0.587, 0.114])
_EMBED_PASSES = 3
_GROUP = 12  # images embedded together (benchmarks: 8-16 is fastest at 64 px)


@dataclass(frozen=True)
class WatermarkReading:
    """What the decoder saw: the payload when the CRC holds, else None ("no watermark")."""

    payload: Payload | None
    bits: np.ndarray
    confidence: float

    @property
    def found(self) -> bool:
        return self.payload is not None


@dataclass(frozen=True)
class _Layout:
    """Which DCT coefficients carry which bit, for one image size."""

    rows: np.ndarray  # [bits, per_bit] coefficient row indices
    cols: np.ndarray
    direction: np.ndarray  # [bits, per_bit] unit-norm spreading vectors
    dither: np.ndarray  # [bits] in [0, 1), fraction of the step
    basis_rows: np.ndarray  # [k_h, height]: the DCT rows the band uses
    basis_cols: np.ndarray  # [k_w, width]: the DCT columns the band uses


@lru_cache(maxsize=32)
def _dct_basis(size: int, count: int) -> np.ndarray:
    """The first `count` rows of the orthonormal DCT-II matrix (scipy's ``dct(norm="ortho")``).

    The band lives in the lowest ~20% of frequencies, so the transforms only ever need
    these rows: C[:k] @ luma @ C[:k].T instead of a full 2-D DCT (and no scipy import,
    which `synthface detect` would pay at every cold start).
    """
    n = np.arange(size)[None, :]
    k = np.arange(count)[:, None]
    basis = np.cos(np.pi * (2 * n + 1) * k / (2 * size)) * np.sqrt(2.0 / size)
    basis[0] /= np.sqrt(2.0)
    return basis


@lru_cache(maxsize=16)
def _layout(height: int, width: int) -> _Layout:
    if min(height, width) < MIN_SIDE:
        raise SynthfaceError(
            f"image is {width}x{height} px; the watermark needs at least {MIN_SIDE} px on each side"
        )
    fy = np.arange(height)[:, None] / height
    fx = np.arange(width)[None, :] / width
    radius = np.sqrt(fy**2 + fx**2)
    rows, cols = np.nonzero((radius >= BAND[0]) & (radius < BAND[1]))
    rng = np.random.default_rng(_SEED)
    order = rng.permutation(rows.size)
    per_bit = rows.size // CODED_BITS
    if per_bit < 1:
        raise SynthfaceError(f"image is {width}x{height} px: too small to carry a {CODED_BITS}-bit watermark")
    chosen = order[: per_bit * CODED_BITS].reshape(CODED_BITS, per_bit)
    signs = rng.choice([-1.0, 1.0], size=(CODED_BITS, per_bit))
    direction = signs / np.sqrt(per_bit)
    dither = rng.random(CODED_BITS)
    rows, cols = rows[chosen], cols[chosen]
    return _Layout(rows, cols, direction, dither, _dct_basis(height, int(rows.max()) + 1),
                   _dct_basis(width, int(cols.max()) + 1))


def _step(height: int, width: int, psnr_db: float) -> float:
    """Quantiser step whose expected distortion (step**2 / 12 per bit) meets `psnr_db`."""
    mse = 255.0**2 / 10 ** (psnr_db / 10)
    return float(np.sqrt(12.0 * mse * height * width / CODED_BITS))


def _check_image(pixels: np.ndarray) -> None:
    """One image: uint8 HxW or HxWx{1,3,4}."""
    if pixels.dtype != np.uint8:
        raise SynthfaceError(f"watermarking needs uint8 pixels, got {pixels.dtype}")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (1, 3, 4))):
        raise SynthfaceError(f"watermarking needs an HxW or HxWx{{1,3,4}} image, got shape {pixels.shape}")


def _as_rgb_float(pixels: np.ndarray) -> np.ndarray:
    """uint8 HxW or HxWx{1,3,4} -> float64 HxWx{1,3} (alpha dropped)."""
    _check_image(pixels)
    if pixels.ndim == 2:
        return pixels.astype(np.float64)[..., None]
    return pixels[..., :3].astype(np.float64) if pixels.shape[2] != 1 else pixels.astype(np.float64)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] if rgb.shape[-1] == 1 else rgb @ _LUMA


def _sandwich(left: np.ndarray, stack: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left @ stack[i] @ right for every i, as two plain 2-D products (numpy's stacked matmul
    loops over small matrices and is several times slower at these sizes). The right product
    comes last so the result is C-contiguous whichever side is large."""
    count, rows, cols = stack.shape
    lefted = left @ stack.transpose(1, 0, 2).reshape(rows, count * cols)  # [m, N * cols]
    lefted = lefted.reshape(len(left), count, cols).transpose(1, 0, 2).reshape(count * len(left), cols)
    return (lefted @ right).reshape(count, len(left), right.shape[1])


def _projections(luma: np.ndarray, layout: _Layout) -> np.ndarray:
    """Each bit's spread projection of the band's DCT coefficients; luma [N, H, W] -> [N, bits]."""
    coeffs = _sandwich(layout.basis_rows, luma, layout.basis_cols.T)  # low-frequency corner of dctn(luma)
    return np.sum(coeffs[:, layout.rows, layout.cols] * layout.direction, axis=-1)


def embed_watermark(pixels: np.ndarray, payload: Payload, psnr_db: float = DEFAULT_PSNR_DB) -> np.ndarray:
    """Return a copy of `pixels` (uint8 HxW, HxWx3 or HxWx4) carrying `payload`.

    Alpha is kept as-is. Embedding is repeated a few times on the rounded, clipped result so
    that rounding to uint8 and clipping at 0/255 do not undo the quantisation.
    """
    _check_image(pixels)  # the single-image message, before the batch path sees it
    return embed_watermarks(pixels[None], [payload], psnr_db)[0]


def embed_watermarks(
    pixels: np.ndarray, payloads: Sequence[Payload], psnr_db: float = DEFAULT_PSNR_DB
) -> np.ndarray:
    """`embed_watermark` for a stack of same-sized images [N, H, W(, C)], one payload each.

    Stacked matrix products serve a group of images at once, which at 64 px (the persona
    writer's case) costs 0.1 ms an image against 0.25 ms one by one; groups stay small
    (`_GROUP`) so their float64 copies stay in cache. Each image stops its re-embedding
    passes when it has converged, exactly as it would alone, so results equal per-image calls.
    """
    if pixels.dtype != np.uint8:
        raise SynthfaceError(f"watermarking needs uint8 pixels, got {pixels.dtype}")
    if pixels.ndim not in (3, 4) or (pixels.ndim == 4 and pixels.shape[3] not in (1, 3, 4)):
        raise SynthfaceError(f"watermarking a batch needs NxHxW or NxHxWx{{1,3,4}} pixels, got {pixels.shape}")
    if len(payloads) != len(pixels):
        raise SynthfaceError(f"{len(pixels)} images but {len(payloads)} watermark payloads")
    if len(pixels) > _GROUP:
        return np.concatenate([embed_watermarks(pixels[i : i + _GROUP], payloads[i : i + _GROUP], psnr_db)
                               for i in range(0, len(pixels), _GROUP)])
    rgb = pixels.astype(np.float64)[..., None] if pixels.ndim == 3 else pixels[..., :3].astype(np.float64)
    height, width = rgb.shape[1:3]
    layout = _layout(height, width)
    step = _step(height, width, psnr_db)
    bits = np.stack([payload.to_bits() for payload in payloads]).astype(np.float64)
    offset = (layout.dither + bits / 2.0) * step
    current = rgb  # our own copy: updated in place (fresh large temporaries cost page faults)
    active = np.ones(len(pixels), dtype=bool)
    for _ in range(_EMBED_PASSES):
        index = np.flatnonzero(active)
        part = current if index.size == len(current) else current[index]
        proj = _projections(_luma(part), layout)
        shift = np.round((proj - offset[index]) / step) * step + offset[index] - proj
        moving = ~np.all(np.abs(shift) < 0.02 * step, axis=1)
        active[index[~moving]] = False
        if not moving.any():
            break
        if not moving.all():
            part, index, shift = part[moving], index[moving], shift[moving]
        delta = np.zeros((index.size, len(layout.basis_rows), len(layout.basis_cols)))
        delta[:, layout.rows, layout.cols] = shift[..., None] * layout.direction
        luma_change = _sandwich(layout.basis_rows.T, delta, layout.basis_cols)  # idctn of the corner-only delta
        np.add(part, luma_change[..., None], out=part)
        np.round(part, out=part)
        np.clip(part, 0, 255, out=part)
        if part is not current:
            current[index] = part
    marked = current.astype(np.uint8)
    if pixels.ndim == 3:
        return marked[..., 0]
    out = pixels.copy()
    out[..., : marked.shape[3]] = marked
    return out


def _soft_bits(proj: np.ndarray, layout: _Layout, step: float) -> np.ndarray:
    """Soft bits in [-1, 1]: +1 on bit 0's lattice, -1 on bit 1's."""
    return np.cos((proj / step - layout.dither) * 2.0 * np.pi)


def _candidates(pixels: np.ndarray, psnr_db: float) -> list[np.ndarray]:
    """Soft bits under the gain hypotheses the decoder tries, most plausible first."""
    rgb = _as_rgb_float(pixels)
    height, width = rgb.shape[:2]
    layout = _layout(height, width)
    step = _step(height, width, psnr_db)
    proj = _projections(_luma(rgb)[None], layout)[0]
    confidence = np.mean(np.abs(np.cos((proj / (_GAIN_GRID[:, None] * step) - layout.dither) * 2.0 * np.pi)),
                         axis=1)
    peaks = np.flatnonzero((confidence >= np.roll(confidence, 1)) & (confidence >= np.roll(confidence, -1)))
    best = peaks[np.argsort(-confidence[peaks])][: _GAIN_TRIES - 1]
    gains = [1.0] + [float(_GAIN_GRID[index]) for index in best]
    return [_soft_bits(proj, layout, gain * step) for gain in gains]


def read_bits(pixels: np.ndarray, psnr_db: float = DEFAULT_PSNR_DB) -> tuple[np.ndarray, np.ndarray]:
    """Hard bits and soft values in [-1, 1] (positive = bit 0) for the 80 coded bits.

    Uses the gain hypothesis whose bits pass the CRC, else the most confident one.
    `psnr_db` must be the strength the image was marked with: it sets the quantiser step.
    """
    candidates = _candidates(pixels, psnr_db)
    for soft in candidates:
        bits = (soft < 0).astype(np.uint8)
        if Payload.from_bits(bits) is not None:
            return bits, soft
    soft = max(candidates, key=lambda values: float(np.mean(np.abs(values))))
    return (soft < 0).astype(np.uint8), soft


def _readings(pixels: np.ndarray, psnr_db: float):
    """The image as it is (unless larger than any generator writes, or too small to hold a mark),
    then, when square, rescaled to each marked side no more than twice its own."""
    from PIL import Image

    _check_image(pixels)
    height, width = pixels.shape[:2]
    square = abs(height / width - 1.0) <= _SQUARE_TOLERANCE
    if min(height, width) < MIN_SIDE and not (square and 2 * max(height, width) >= MARKED_SIDES[0]):
        _layout(height, width)  # raises the "too small to carry a watermark" error
    if min(height, width) >= MIN_SIDE and max(height, width) <= MARKED_SIDES[-1]:
        yield read_bits(pixels, psnr_db)
    if not square:
        return
    image = Image.fromarray(pixels[..., :3] if pixels.ndim == 3 and pixels.shape[2] == 4 else
                            (pixels[..., 0] if pixels.ndim == 3 and pixels.shape[2] == 1 else pixels))
    largest = MARKED_SIDES[-1]
    if max(height, width) > largest:  # one box-reduce + Lanczos pass instead of one per side
        image = image.resize((largest, largest), Image.Resampling.LANCZOS, reducing_gap=2.0)
    for side in MARKED_SIDES:
        # An image shrunk to under half its marked size has lost most of the mark's band: not worth a read.
        if (side, side) != (height, width) and side <= 2 * max(height, width):
            method = Image.Resampling.LANCZOS if side <= max(height, width) else Image.Resampling.BICUBIC
            yield read_bits(np.asarray(image.resize((side, side), method)), psnr_db)


def decode_watermark(pixels: np.ndarray, psnr_db: float = DEFAULT_PSNR_DB) -> WatermarkReading:
    """Read the watermark; `payload` is None ("no watermark") unless the CRC-32 holds.

    Tries the image's own size and, for a square image, each of `MARKED_SIDES`; each try is
    `_GAIN_TRIES` gain hypotheses, so the false-positive bound is at most 6 * 8 * 2**-32, about 1e-8.
    A non-square image larger than every marked side is not read at all: no watermark.
    """
    first = None
    for bits, soft in _readings(pixels, psnr_db):
        reading = WatermarkReading(Payload.from_bits(bits), bits, float(np.mean(np.abs(soft))))
        if reading.found:
            return reading
        first = first or reading
    if first is None:  # larger than any generator writes, and not square: synthface never marked it
        return WatermarkReading(None, np.zeros(CODED_BITS, np.uint8), 0.0)
    return first
