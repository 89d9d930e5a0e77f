"""The watermark's colour layer: the payload again, in the chroma of coarse patches, for thumbnails.

Why a second layer: a 64 px persona shrunk to a quarter (16 px) keeps 256 pixels, and the luma
layer's carriers (block-DCT frequencies of 8x8 px blocks) lie at or past that thumbnail's Nyquist
limit. What a thumbnail keeps is the mean of each 4x4 px patch. In luma those means are the face's
own, and a resampler's kernel leaks neighbouring patches into each one: after a quarter-size shrink
the error is 10-19 against a quantiser step of 44, so no payload survives. A face's colour is
smooth, and the same leak in Cb and Cr is 1-2.4 (docs/watermark-log.md).

So this layer quantises, in Cb and in Cr, the three Haar differences (left-right, top-bottom,
diagonal) of the four 4x4-patch means in every 8x8 block of the image's 64 px frame: 2 x 3 x 64 =
384 carriers, each holding one of the 344 convolutionally coded payload bits (40 of them twice).
The change moves pixels along the Cb or Cr direction of RGB, which leaves luma, the other layer,
as it was. Its step costs 44 dB PSNR on its own.

An image of 16-64 px a side is read as a shrunk frame: for each common resampler (box, bilinear,
bicubic, Lanczos) its pseudo-inverse recovers the patch means, and the (resampler, gain) pairs
whose carriers sit closest to a lattice are decoded, at most `_TRIES` CRC checks in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from synthface.provenance import convolutional
from synthface.provenance.payload import CODED_BITS, Payload
from synthface.provenance.separable import RESAMPLERS, area_matrix, sandwich, unshrinking_matrix

PSNR_DB = 44.0
FRAME = 64  # the frame the layer is defined on, as the luma layer's
GRID = 16  # 4x4 px patches of the frame: what a quarter-size thumbnail keeps
_BLOCKS = GRID // 2  # 8x8 px blocks, each four patches
_DIFFERENCES = 3  # left-right, top-bottom, diagonal
CARRIERS = 2 * _DIFFERENCES * _BLOCKS * _BLOCKS
_SEED = 0x7AB1E
# Full-range BT.601 chroma, and the RGB direction that moves one of Cb, Cr by 1 and nothing else.
_CHROMA = np.array([[-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_DIRECTIONS = np.array([[0.0, -0.344136, 1.772], [1.402, -0.714136, 0.0]])
_GAINS = np.arange(0.7, 1.3001, 0.005)  # resamplers damp the patch differences (bilinear ~0.87)
_PEAKS = 2  # best gains kept per resampler
_TRIES = 6  # (resampler, gain) pairs decoded: the false-positive bound is 6 * 2**-32 per read


@dataclass(frozen=True)
class _Code:
    coded_index: np.ndarray  # [CARRIERS] which coded bit each carrier holds
    dither: np.ndarray  # [CARRIERS] lattice offset, a fraction of the step
    coded_length: int


@lru_cache(maxsize=1)
def _code() -> _Code:
    rng = np.random.default_rng(_SEED)
    length = convolutional.coded_length(CODED_BITS)
    return _Code(rng.permutation(np.resize(np.arange(length), CARRIERS)), rng.random(CARRIERS), length)


@lru_cache(maxsize=1)
def step() -> float:
    """Quantiser step whose expected distortion (step**2 / 12 per carrier, spread over RGB along
    each carrier's chroma direction) costs `PSNR_DB` at 64 px; the same at any size."""
    mse = 255.0**2 / 10 ** (PSNR_DB / 10)
    energy_per_carrier = np.sum(_DIRECTIONS**2) / 2  # half the carriers are Cb's, half Cr's
    return float(np.sqrt(12.0 * mse * FRAME * FRAME * 3 / (CARRIERS * energy_per_carrier)))


def _differences(means: np.ndarray) -> np.ndarray:
    """[N, 16, 16] patch means -> [N, 192]: each block's three Haar differences, scaled as the
    orthonormal directions they are at 64 px (+-1/8 on each of the block's 64 pixels)."""
    quads = means.reshape(-1, _BLOCKS, 2, _BLOCKS, 2)
    a, b, c, d = quads[:, :, 0, :, 0], quads[:, :, 0, :, 1], quads[:, :, 1, :, 0], quads[:, :, 1, :, 1]
    return 2.0 * np.stack([a + c - b - d, a + b - c - d, a - b - c + d], axis=-1).reshape(len(means), -1)


def _patch_changes(carriers: np.ndarray) -> np.ndarray:
    """[N, 192] carrier changes -> [N, 16, 16] patch-mean changes that make exactly them."""
    lr, tb, dg = np.moveaxis(carriers.reshape(-1, _BLOCKS, _BLOCKS, _DIFFERENCES) / 8.0, -1, 0)
    quads = np.stack([np.stack([lr + tb + dg, -lr + tb - dg], axis=-1),
                      np.stack([lr - tb - dg, -lr - tb + dg], axis=-1)], axis=2)  # [N, 8, 2, 8, 2]
    return quads.reshape(-1, GRID, GRID)


def _carriers(rows: np.ndarray, rgb: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """[N, H, W, 3] -> [N, CARRIERS] (Cb's then Cr's), with `rows` / `cols` mapping each axis
    onto the patch grid."""
    chroma = np.moveaxis(rgb @ _CHROMA.T, -1, 1).reshape(-1, *rgb.shape[1:3])  # [N * 2, H, W]
    return _differences(sandwich(rows, chroma, cols.T)).reshape(len(rgb), CARRIERS)


@lru_cache(maxsize=16)
def _lift(side: int) -> np.ndarray:
    """[side, 16]: the smallest pixel change along one axis that moves the patch means as asked."""
    area = area_matrix(side, GRID)
    return area.T @ np.linalg.inv(area @ area.T)


def changes(rgb: np.ndarray, coded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One embedding pass for RGB images [N, H, W, 3] (float) and their coded bits [N, 344]:
    the RGB change that puts every carrier on its bit's lattice, and which images still moved."""
    code, size = _code(), step()
    height, width = rgb.shape[1:3]
    offset = (code.dither + coded[:, code.coded_index] / 2.0) * size
    values = _carriers(area_matrix(height, GRID), rgb, area_matrix(width, GRID))
    shift = np.round((values - offset) / size) * size + offset - values
    moving = ~np.all(np.abs(shift) < 0.02 * size, axis=1)
    patches = _patch_changes(shift.reshape(len(rgb) * 2, CARRIERS // 2))  # [N * 2, 16, 16]
    chroma = sandwich(_lift(height), patches, _lift(width).T).reshape(len(rgb), 2, height, width)
    return chroma.transpose(0, 2, 3, 1) @ _DIRECTIONS, moving


@lru_cache(maxsize=64)
def _unmixing(side: int, resampler: str) -> np.ndarray:
    """[16, side]: the frame's patch means from one axis of a thumbnail that `resampler` made of it."""
    return area_matrix(FRAME, GRID) @ unshrinking_matrix(FRAME, side, resampler)


def read(rgb: np.ndarray) -> tuple[Payload | None, np.ndarray, float, str]:
    """Read a thumbnail [H, W, 3] (float RGB, 16-64 px a side): (payload, the 80 bits, lattice fit,
    which resampler it was read as). The payload is None unless the CRC holds."""
    code, size = _code(), step()
    height, width = rgb.shape[:2]
    values = np.concatenate([_carriers(_unmixing(height, name), rgb[None], _unmixing(width, name))
                             for name in RESAMPLERS])  # [resamplers, CARRIERS]
    fit = np.abs(np.cos((values[:, None] / (_GAINS[None, :, None] * size) - code.dither) * 2.0 * np.pi)).mean(axis=2)
    candidates = []
    for index, scan in enumerate(fit):
        peaks = np.flatnonzero((scan >= np.roll(scan, 1)) & (scan >= np.roll(scan, -1)))
        candidates += [(scan[peak], index, _GAINS[peak]) for peak in peaks[np.argsort(-scan[peaks])][:_PEAKS]]
    candidates = sorted(candidates, key=lambda candidate: -candidate[0])[:_TRIES]
    soft = np.stack([np.cos((values[index] / (gain * size) - code.dither) * 2.0 * np.pi)
                     for _, index, gain in candidates])
    received = np.zeros((len(candidates), code.coded_length))
    for row, carriers in zip(received, soft, strict=True):
        np.add.at(row, code.coded_index, carriers)
    decoded = convolutional.viterbi(received, CODED_BITS)
    readings = [(Payload.from_bits(bits), bits, float(candidate[0]),
                 f"thumbnail, read as a {RESAMPLERS[candidate[1]].lower()} shrink")
                for bits, candidate in zip(decoded, candidates, strict=True)]
    return next((reading for reading in readings if reading[0] is not None), readings[0])
