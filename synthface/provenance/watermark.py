"""Invisible watermark: quantisation of local, smooth block-DCT carriers, convolutionally coded.

Why this design (measurements in docs/watermark-log.md and benchmarks/watermark.py): profile-picture
pipelines resize, crop, rotate and retone every upload. Quantisation index modulation (QIM) keeps
the face from interfering with the mark, which at 64 px and an invisible strength nothing else does;
but a QIM carrier must be measured on exactly the pixels it was written on. So every carrier is local
(one block of an 8x8 grid) and smooth (a low block-DCT frequency of the luma after a [1, 2, 1]
blur, so resampling barely changes it), and the decoder, when the image as it is does not read,
undoes the common shrinks and searches the crops and rotations an upload could have made, ranking
them by how close the carriers sit to their lattices. Carriers a crop or rotation lost count as erasures, and a rate-1/4
convolutional code (`synthface.provenance.convolutional`) recovers the payload from those left.

How it works: an image of any size is seen through its "frame", the luma resampled to 64x64 px.
Each of the frame's 8x8 blocks holds five carriers, its block-DCT frequencies (0,1), (1,0),
(1,1), (0,2) and (2,0), so 320 in all. The 80 payload bits (48 + CRC-32) are coded into 344 bits,
24 are punctured, and the rest are dealt to the carriers by a fixed public permutation. Each
carrier is quantised to its bit's lattice (offset by a per-carrier dither) with a step set for the
target PSNR, and the change is added along the carrier's direction at the image's own resolution,
equally to R, G and B so that chroma is untouched. Brightness and contrast edits scale the
carriers by an unknown gain, so the decoder also scans gains.

A colour image also gets a second layer (`synthface.provenance.thumbnail_layer`): the same coded
payload in the chroma of 4x4 px patches, which is what a persona shrunk to a quarter still holds;
it changes chroma only, so the two layers do not disturb each other, and the embedding passes settle
both. Images under 32 px a side are read from it alone.

The mark is public by design: anyone can read it, and the signed C2PA manifest it points to is
what proves who made the image.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from synthface.errors import SynthfaceError
from synthface.provenance import convolutional, thumbnail_layer
from synthface.provenance.payload import CODED_BITS, Payload
from synthface.provenance.separable import RESAMPLERS, area_matrix, sandwich, unshrinking_matrix

ALGORITHM = "org.synthface.watermark.block-qim-cc.3"
# Marks this reader reads: version 2 was the luma layer alone, which version 3 keeps unchanged.
READABLE_ALGORITHMS = (ALGORITHM, "org.synthface.watermark.block-qim-cc.2")
DEFAULT_PSNR_DB = 38.0
MIN_SIDE = 64  # smallest side that is marked: one frame pixel per image pixel
MIN_READ_SIDE = 32  # a persona shrunk to half its size still reads the luma layer
MIN_THUMBNAIL_SIDE = 16  # a persona shrunk to a quarter still reads the colour layer
FRAME = 64
BLOCKS = 8
_BLOCK = FRAME // BLOCKS
_FREQUENCIES = ((0, 1), (1, 0), (1, 1), (0, 2), (2, 0))
_ORDERS = 3  # block-DCT orders 0..2 along each axis cover the frequencies above
_SMOOTHING = (0.25, 0.5, 0.25)
CARRIERS = BLOCKS * BLOCKS * len(_FREQUENCIES)
_SEED = 0x5F17_FACE
_LUMA = np.array([0.299, 0.587, 0.114])
_EMBED_PASSES = 4  # carriers overlap by the blur's one pixel: a few passes settle them
# The colour layer's carriers average 16 px, so rounding barely moves them: after two passes what
# is left is what clipping at 0/255 keeps, which more passes do not reduce.
_COLOUR_PASSES = 2
_GROUP = 12  # images embedded together at 64 px

# Gains (brightness, contrast, resampling): the decoder tries gain 1, then each frequency's own best
# gain (resampling filters damp the higher ones more), then the `_GAIN_PEAKS` best common gains.
_GAIN_COARSE = np.arange(0.5, 1.35, 0.004)
_GAIN_REFINE = np.arange(-0.004, 0.00401, 0.0005)
_GAIN_PEAKS = 3
# Crops: up to 15% of the frame's side, from any edge, possibly rescaled afterwards.
_CROP_SIDES = range(FRAME - FRAME * 15 // 100 - 1, FRAME + 1)  # 54..64 frame px kept
# Rotations about the centre, in degrees, both ways; 0.1 degree apart keeps corners within 0.08 px.
_ANGLES = np.round(np.concatenate([-np.arange(3.5, 0.05, -0.1), np.arange(0.1, 3.55, 0.1)]), 1)
_SEARCH_TRIES = 3  # best-ranked geometric hypotheses that are decoded
# CRC checks per read: (2 + 3) gains for the image as it is and for each searched hypothesis (20),
# 2 for each undone shrink (8) and 6 in the colour layer: 34 in all, so the false-positive bound
# is 34 * 2**-32, about 8e-9 per image.


@dataclass(frozen=True)
class WatermarkReading:
    """What the decoder saw: the payload when the CRC holds, else None ("no watermark").

    `confidence` is how close the carriers sat to their lattices (1 = exactly, about 0.64 = chance)
    in the hypothesis that was read; `geometry` names it ("as is", "shrunk by bilinear, undone",
    "crop 58x58 frame px at (2, 3)", "rotated -1.5 deg", "thumbnail, read as a lanczos shrink").
    """

    payload: Payload | None
    bits: np.ndarray
    confidence: float
    geometry: str = "as is"

    @property
    def found(self) -> bool:
        return self.payload is not None


@dataclass(frozen=True)
class _Code:
    """Which coded bit each carrier holds, its dither, and its frequency class."""

    coded_index: np.ndarray  # [CARRIERS] index into the 344 coded bits
    dither: np.ndarray  # [CARRIERS] in [0, 1), fraction of the step
    frequency: np.ndarray  # [CARRIERS] index into _FREQUENCIES
    coded_length: int


@lru_cache(maxsize=1)
def _code() -> _Code:
    rng = np.random.default_rng(_SEED)
    length = convolutional.coded_length(CODED_BITS)
    punctured = np.round(np.linspace(0, length - 1, length - CARRIERS + 2)[1:-1]).astype(int)
    kept = np.setdiff1d(np.arange(length), punctured)
    coded_index = kept[rng.permutation(CARRIERS)]
    dither = rng.random(CARRIERS)
    frequency = np.tile(np.arange(len(_FREQUENCIES)), BLOCKS * BLOCKS)
    return _Code(coded_index, dither, frequency, length)


def _block_dct_rows() -> np.ndarray:
    """[BLOCKS * _ORDERS, FRAME]: orders 0..2 of the orthonormal 8-point DCT, block by block."""
    n = np.arange(_BLOCK)[None, :]
    k = np.arange(_ORDERS)[:, None]
    basis = np.cos(np.pi * (2 * n + 1) * k / (2 * _BLOCK)) * np.sqrt(2.0 / _BLOCK)
    basis[0] /= np.sqrt(2.0)
    rows = np.zeros((BLOCKS * _ORDERS, FRAME))
    for block in range(BLOCKS):
        rows[block * _ORDERS : (block + 1) * _ORDERS, block * _BLOCK : (block + 1) * _BLOCK] = basis
    return rows


def _smoothing_matrix() -> np.ndarray:
    """The [1, 2, 1] / 4 blur along one axis of the frame, mirrored at its edges."""
    matrix = np.zeros((FRAME, FRAME))
    for i in range(FRAME):
        for offset, weight in zip((-1, 0, 1), _SMOOTHING, strict=True):
            j = min(max(i + offset, 0), FRAME - 1)
            matrix[i, j] += weight
    return matrix


@lru_cache(maxsize=16)
def _axis_operator(side: int) -> np.ndarray:
    """[24, side]: block-DCT orders of the blurred frame, as a linear map of one image axis."""
    return _block_dct_rows() @ _smoothing_matrix() @ area_matrix(side, FRAME)


def _values_from(rows_by_axes: np.ndarray) -> np.ndarray:
    """[N, 24, 24] block-DCT orders (block row, order) x (block column, order) -> [N, CARRIERS]."""
    count = len(rows_by_axes)
    grid = rows_by_axes.reshape(count, BLOCKS, _ORDERS, BLOCKS, _ORDERS).transpose(0, 1, 3, 2, 4)
    vertical, horizontal = zip(*_FREQUENCIES, strict=True)
    return grid[..., list(vertical), list(horizontal)].reshape(count, CARRIERS)


def _carrier_values(luma: np.ndarray) -> np.ndarray:
    """Carrier values of luma images [N, H, W] at their own resolution -> [N, CARRIERS]."""
    rows, cols = _axis_operator(luma.shape[1]), _axis_operator(luma.shape[2])
    return _values_from(sandwich(rows, luma, cols.T))


@lru_cache(maxsize=16)
def _carrier_norms(height: int, width: int) -> np.ndarray:
    """Squared norms of the carriers' pixel directions at this image size."""
    rows, cols = _axis_operator(height), _axis_operator(width)
    outer = np.einsum("i,j->ij", np.sum(rows**2, axis=1), np.sum(cols**2, axis=1))
    return _values_from(outer[None])[0]


def _step(psnr_db: float) -> float:
    """Quantiser step whose expected distortion (step**2 / 12 per carrier) meets `psnr_db` at 64 px.

    Any other size sees the same step in its frame and, since its carriers spread over
    proportionally more pixels, the same PSNR."""
    mse = 255.0**2 / 10 ** (psnr_db / 10)
    return float(np.sqrt(12.0 * mse * FRAME * FRAME / CARRIERS * np.mean(_carrier_norms(FRAME, FRAME))))


def _check_image(pixels: np.ndarray) -> None:
    """One image: uint8 HxW or HxWx{1,3,4}."""
    if pixels.dtype != np.uint8:
        raise SynthfaceError(f"watermarking needs uint8 pixels, got {pixels.dtype}")
    if not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (1, 3, 4))):
        raise SynthfaceError(f"watermarking needs an HxW or HxWx{{1,3,4}} image, got shape {pixels.shape}")


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] if rgb.shape[-1] == 1 else rgb @ _LUMA


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

    Groups of images share each matrix product (the persona writer's case); each image stops
    its passes when it has converged, exactly as it would alone, so results equal per-image calls.
    """
    if pixels.dtype != np.uint8:
        raise SynthfaceError(f"watermarking needs uint8 pixels, got {pixels.dtype}")
    if pixels.ndim not in (3, 4) or (pixels.ndim == 4 and pixels.shape[3] not in (1, 3, 4)):
        raise SynthfaceError(f"watermarking a batch needs NxHxW or NxHxWx{{1,3,4}} pixels, got {pixels.shape}")
    if len(payloads) != len(pixels):
        raise SynthfaceError(f"{len(pixels)} images but {len(payloads)} watermark payloads")
    height, width = pixels.shape[1:3]
    if min(height, width) < MIN_SIDE:
        raise SynthfaceError(
            f"image is {width}x{height} px; the watermark needs at least {MIN_SIDE} px on each side"
        )
    if len(pixels) > _GROUP:
        return np.concatenate([embed_watermarks(pixels[i : i + _GROUP], payloads[i : i + _GROUP], psnr_db)
                               for i in range(0, len(pixels), _GROUP)])
    rgb = pixels.astype(np.float64)[..., None] if pixels.ndim == 3 else pixels[..., :3].astype(np.float64)
    rows, cols = _axis_operator(height), _axis_operator(width)
    norms = _carrier_norms(height, width)
    step = _step(psnr_db)
    code = _code()
    coded = np.stack([convolutional.encode(payload.to_bits()) for payload in payloads]).astype(np.float64)
    offset = (code.dither + coded[:, code.coded_index] / 2.0) * step
    vertical, horizontal = zip(*_FREQUENCIES, strict=True)
    current = rgb  # our own copy: updated in place
    colour = current.shape[3] == 3  # grey images carry the luma layer only
    active = np.ones(len(pixels), dtype=bool)
    for embed_pass in range(_EMBED_PASSES):
        colour_now = colour and embed_pass < _COLOUR_PASSES
        index = np.flatnonzero(active)
        part = current if index.size == len(current) else current[index]
        values = _carrier_values(_luma(part))
        shift = np.round((values - offset[index]) / step) * step + offset[index] - values
        moving = ~np.all(np.abs(shift) < 0.02 * step, axis=1)
        if colour_now:
            colour_change, colour_moving = thumbnail_layer.changes(part, coded[index])
            moving |= colour_moving
        active[index[~moving]] = False
        if not moving.any():
            break
        if not moving.all():
            part, index, shift = part[moving], index[moving], shift[moving]
            if colour_now:
                colour_change = colour_change[moving]
        grid = np.zeros((index.size, BLOCKS, BLOCKS, _ORDERS, _ORDERS))
        grid[..., list(vertical), list(horizontal)] = (shift / norms).reshape(index.size, BLOCKS, BLOCKS, -1)
        orders = grid.transpose(0, 1, 3, 2, 4).reshape(index.size, BLOCKS * _ORDERS, BLOCKS * _ORDERS)
        luma_change = sandwich(rows.T, orders, cols)  # minimal-norm change along each carrier
        np.add(part, luma_change[..., None], out=part)
        if colour_now:
            np.add(part, colour_change, out=part)
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


# --- reading -------------------------------------------------------------------------------------


def _soft(values: np.ndarray, gain: float | np.ndarray, step: float) -> np.ndarray:
    """+1 on a carrier's bit-0 lattice, -1 on its bit-1 lattice."""
    return np.cos((values / (gain * step) - _code().dither) * 2.0 * np.pi)


def _lattice_fit(values: np.ndarray, valid: np.ndarray, step: float) -> np.ndarray:
    """Mean |soft| over valid carriers for each hypothesis [M, CARRIERS] at gain 1."""
    fit = np.abs(_soft(values, 1.0, step)) * valid
    return fit.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)


def _lattice_scan(scaled: np.ndarray, dither: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """[gains, carriers]: |soft| of each carrier (value / step) under each gain."""
    return np.abs(np.cos((scaled[None] / gains[:, None] - dither[None]) * 2.0 * np.pi))


def _refined(scaled: np.ndarray, dither: np.ndarray, gain: float) -> float:
    """The best gain within one coarse grid spacing of `gain`."""
    fine = gain + _GAIN_REFINE
    return float(fine[np.argmax(_lattice_scan(scaled, dither, fine).mean(axis=1))])


def _other_gains(values: np.ndarray, valid: np.ndarray, step: float,
                 common: int = _GAIN_PEAKS) -> list[float | np.ndarray]:
    """Gain hypotheses besides 1 for one set of carrier values: each frequency's own best gain,
    then the `common` best common gains. A coarse scan finds the peaks and a fine one sharpens
    them (a carrier sits up to ~20 steps from zero, so a 1% gain error is a fifth of a step)."""
    code = _code()
    scaled, dither, frequency = values[valid] / step, code.dither[valid], code.frequency[valid]
    scan = _lattice_scan(scaled, dither, _GAIN_COARSE)
    per_frequency = np.ones(CARRIERS)
    for kind in range(len(_FREQUENCIES)):
        own = frequency == kind
        if own.sum() >= 16:
            coarse = _GAIN_COARSE[np.argmax(scan[:, own].mean(axis=1))]
            per_frequency[code.frequency == kind] = _refined(scaled[own], dither[own], coarse)
    fit = scan.mean(axis=1)
    peaks = np.flatnonzero((fit >= np.roll(fit, 1)) & (fit >= np.roll(fit, -1)))
    best = peaks[np.argsort(-fit[peaks])][:common]
    return [per_frequency] + [_refined(scaled, dither, float(_GAIN_COARSE[index])) for index in best]


def _decode(values: np.ndarray, valid: np.ndarray, step: float, geometry: str) -> WatermarkReading:
    """Viterbi-decode one hypothesis at gain 1 and, failing that, under the other gains at once;
    the first payload whose CRC holds wins, else the gain-1 reading is returned."""
    first = _decode_gains(values, valid, step, geometry, [1.0])
    if first.found:
        return first
    other = _decode_gains(values, valid, step, geometry, _other_gains(values, valid, step))
    return other if other.found else first


def _decode_gains(values: np.ndarray, valid: np.ndarray, step: float, geometry: str,
                  gains: list[float | np.ndarray]) -> WatermarkReading:
    """The first of `gains` (in order) whose decoded payload passes the CRC, else the first's reading."""
    code = _code()
    soft = np.stack([_soft(values, gain, step) * valid for gain in gains])
    received = np.zeros((len(gains), code.coded_length))
    received[:, code.coded_index] = soft
    readings = [WatermarkReading(Payload.from_bits(bits), bits, float(np.abs(carriers).sum() / max(valid.sum(), 1)),
                                 geometry)
                for bits, carriers in zip(convolutional.viterbi(received, CODED_BITS), soft, strict=True)]
    return next((reading for reading in readings if reading.found), readings[0])


def _reduced_luma(pixels: np.ndarray) -> np.ndarray:
    """The image's luma as float, reduced so its longer side is at most 4 frames (a large photo
    costs one PIL reduction, not a float copy of every pixel)."""
    from PIL import Image

    rgb = pixels[..., :3] if pixels.ndim == 3 and pixels.shape[2] == 4 else pixels
    rgb = rgb[..., 0] if rgb.ndim == 3 and rgb.shape[2] == 1 else rgb
    height, width = rgb.shape[:2]
    if max(height, width) > 4 * FRAME:
        scale = 4 * FRAME / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.LANCZOS, reducing_gap=2.0))
    return rgb.astype(np.float64) if rgb.ndim == 2 else rgb.astype(np.float64) @ _LUMA


def _resized(luma: np.ndarray, height: int, width: int) -> np.ndarray:
    """Float luma resampled with Lanczos (reducing) or bicubic (enlarging), as uploads are."""
    from PIL import Image

    if luma.shape == (height, width):
        return luma
    method = Image.Resampling.LANCZOS if height < luma.shape[0] else Image.Resampling.BICUBIC
    return np.asarray(Image.fromarray(luma.astype(np.float32), mode="F").resize((width, height), method),
                      dtype=np.float64)


def _block_spans(start: int, length: int) -> np.ndarray:
    """Blocks of one frame axis whose carriers (block plus the blur's pixel) lie in [start, start+length)."""
    low = np.arange(BLOCKS) * _BLOCK - 1
    high = low + _BLOCK + 2
    end = start + length
    return ((low >= start) | ((low < 0) & (start == 0))) & ((high <= end) | ((high > FRAME) & (end == FRAME)))


def _carrier_mask(block_valid: np.ndarray) -> np.ndarray:
    """[..., BLOCKS, BLOCKS] block validity -> [..., CARRIERS]."""
    return np.repeat(block_valid.reshape(*block_valid.shape[:-2], BLOCKS * BLOCKS), len(_FREQUENCIES), axis=-1)


def _crop_hypotheses(luma: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray, list[str]]]:
    """The image as a crop of the frame: for each scale (the crop's longer side in frame px) and
    every offset, the carriers it holds, which of them lie wholly inside, and their names."""
    height, width = luma.shape
    operator = _axis_operator(FRAME)
    seen = set()
    for longer in _CROP_SIDES:
        scale = longer / max(height, width)
        kept_h, kept_w = round(height * scale), round(width * scale)
        if min(kept_h, kept_w) < _CROP_SIDES[0] or (kept_h, kept_w) == (FRAME, FRAME) or (kept_h, kept_w) in seen:
            continue
        seen.add((kept_h, kept_w))
        crop = _resized(luma, kept_h, kept_w)
        tops, lefts = range(FRAME - kept_h + 1), range(FRAME - kept_w + 1)
        rows = np.stack([operator[:, top : top + kept_h] for top in tops])  # [T, 24, kept_h]
        cols = np.stack([operator[:, left : left + kept_w] for left in lefts])  # [L, 24, kept_w]
        orders = np.einsum("tih,hw,ljw->tlij", rows, crop, cols, optimize=True)
        values = _values_from(orders.reshape(-1, BLOCKS * _ORDERS, BLOCKS * _ORDERS))
        row_ok = np.stack([_block_spans(top, kept_h) for top in tops])
        col_ok = np.stack([_block_spans(left, kept_w) for left in lefts])
        valid = _carrier_mask(row_ok[:, None, :, None] & col_ok[None, :, None, :]).reshape(len(values), CARRIERS)
        names = [f"crop {kept_w}x{kept_h} frame px at ({left}, {top})" for top in tops for left in lefts]
        yield values, valid, names


def _rotation_hypotheses(frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The frame rotated back by each angle, with the blocks that stayed inside the image."""
    from PIL import Image

    image = Image.fromarray(frame.astype(np.float32), mode="F")
    turned = np.stack([np.asarray(image.rotate(-angle, Image.Resampling.BICUBIC), dtype=np.float64)
                       for angle in _ANGLES])
    values = _carrier_values(turned)
    margin = 2  # the blur's pixel and bicubic's reach
    corners = np.array([[y, x] for y in (-margin, _BLOCK + margin) for x in (-margin, _BLOCK + margin)],
                       np.float64)
    origins = np.stack(np.meshgrid(np.arange(BLOCKS), np.arange(BLOCKS), indexing="ij"), axis=-1) * _BLOCK
    points = origins[:, :, None, :] + corners[None, None] - FRAME / 2  # [8, 8, 4, 2] about the centre
    radians = np.deg2rad(_ANGLES)[:, None, None, None]
    y = points[..., 0] * np.cos(radians) - points[..., 1] * np.sin(radians) + FRAME / 2
    x = points[..., 0] * np.sin(radians) + points[..., 1] * np.cos(radians) + FRAME / 2
    inside = ((y >= 0) & (y <= FRAME) & (x >= 0) & (x <= FRAME)).all(axis=-1)  # [A, 8, 8]
    return values, _carrier_mask(inside), [f"rotated {angle:+.1f} deg" for angle in _ANGLES]


def _search(luma: np.ndarray, frame: np.ndarray, step: float) -> WatermarkReading | None:
    """Decode the `_SEARCH_TRIES` crops and rotations whose carriers sit closest to a lattice."""
    batches = list(_crop_hypotheses(luma))
    if abs(luma.shape[0] / luma.shape[1] - 1.0) <= 0.02:  # rotations of a square image
        batches.append(_rotation_hypotheses(frame))
    if not batches:
        return None
    values = np.concatenate([batch[0] for batch in batches])
    valid = np.concatenate([batch[1] for batch in batches])
    names = [name for batch in batches for name in batch[2]]
    fit = _lattice_fit(values, valid, step)
    for index in np.argsort(-fit)[:_SEARCH_TRIES]:
        reading = _decode(values[index], valid[index], step, names[index])
        if reading.found:
            return reading
    return None


def _read_as_is(luma: np.ndarray, step: float) -> tuple[WatermarkReading, np.ndarray]:
    """The reading of the whole image resampled to the frame, and that frame."""
    frame = _resized(luma, FRAME, FRAME)
    return _decode(_carrier_values(frame[None])[0], np.ones(CARRIERS, bool), step, "as is"), frame


def _read_unshrunk(luma: np.ndarray, step: float) -> WatermarkReading | None:
    """An image smaller than the frame, read as the frame shrunk by each common resampler and
    recovered by that shrink's least-squares inverse. Blurring shrinks (bilinear, box) and JPEG
    after them leave the bicubic enlargement of `_read_as_is` too far off its lattices; undoing the
    right filter brings it back. Gain 1 and each frequency's own gain: 8 CRC checks at most."""
    height, width = luma.shape
    valid = np.ones(CARRIERS, bool)
    for resampler in RESAMPLERS:
        rows, cols = unshrinking_matrix(FRAME, height, resampler), unshrinking_matrix(FRAME, width, resampler)
        values = _carrier_values((rows @ luma @ cols.T)[None])[0]
        gains = [1.0, *_other_gains(values, valid, step, common=0)]
        reading = _decode_gains(values, valid, step, f"shrunk by {resampler.lower()}, undone", gains)
        if reading.found:
            return reading
    return None


def read_bits(pixels: np.ndarray, psnr_db: float = DEFAULT_PSNR_DB) -> np.ndarray:
    """The 80 coded bits read from the image as it is (no crop or rotation search)."""
    _check_image(pixels)
    return _read_as_is(_reduced_luma(pixels), _step(psnr_db))[0].bits


def _read_colour_layer(pixels: np.ndarray) -> WatermarkReading:
    """The colour layer's reading. It models the image as its frame shrunk by a common resampler,
    so an axis longer than the frame is first brought to it by area resampling."""
    from PIL import Image

    rgb = pixels[..., :3]
    height, width = rgb.shape[:2]
    if max(height, width) > FRAME:
        rgb = np.asarray(Image.fromarray(rgb).resize((min(width, FRAME), min(height, FRAME)), Image.Resampling.BOX))
    payload, bits, fit, geometry = thumbnail_layer.read(rgb.astype(np.float64))
    return WatermarkReading(payload, bits, fit, geometry)


def decode_watermark(pixels: np.ndarray, psnr_db: float = DEFAULT_PSNR_DB) -> WatermarkReading:
    """Read the watermark; `payload` is None ("no watermark") unless the CRC-32 holds.

    Reads the luma layer from the image as it is first (resampled to the frame); if no payload
    comes out, undoes each common shrink (for an image smaller than the frame), then searches crops
    of up to 15% (rescaled or not) and rotations of up to 3.5 degrees; then, for a colour image,
    reads the colour layer. A colour thumbnail under 32 px a side (down to 16) is read from the
    colour layer alone. At most 34 payloads are CRC-checked (5 as is, 8 undoing shrinks, 15 in the
    search, 6 in colour), so the false-positive bound is 34 * 2**-32, about 8e-9 per image.
    `psnr_db` must be the strength the image was marked with: it sets the luma layer's step.
    """
    _check_image(pixels)
    height, width = pixels.shape[:2]
    colour = pixels.ndim == 3 and pixels.shape[2] in (3, 4)
    if min(height, width) < MIN_READ_SIDE:
        if colour and min(height, width) >= MIN_THUMBNAIL_SIDE:
            return _read_colour_layer(pixels)
        raise SynthfaceError(
            f"image is {width}x{height} px, too small to read a watermark from: that takes {MIN_READ_SIDE} px "
            f"a side, or {MIN_THUMBNAIL_SIDE} px for a colour thumbnail (marks are written at {MIN_SIDE} px or more)"
        )
    step = _step(psnr_db)
    luma = _reduced_luma(pixels)
    reading, frame = _read_as_is(luma, step)
    if reading.found:
        return reading
    if max(luma.shape) < FRAME:
        unshrunk = _read_unshrunk(luma, step)
        if unshrunk is not None:
            return unshrunk
    searched = _search(luma, frame, step)
    if searched is not None:
        return searched
    if colour:
        from_colour = _read_colour_layer(pixels)
        if from_colour.found:
            return from_colour
    return reading
