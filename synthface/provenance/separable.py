"""Separable linear maps of image stacks, shared by the watermark's two layers.

The watermark measures and writes its carriers as `rows @ image @ cols.T`, with one matrix per
axis: area resampling between an image's size and a fixed grid, PIL's own resamplers written as
matrices and their least-squares inverses (to undo the filter of a shrink), and the product itself
for a whole stack of images.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=32)
def area_matrix(side: int, cells: int) -> np.ndarray:
    """[cells, side]: each cell is the mean of the pixels it covers (exact identity when equal)."""
    if side == cells:
        return np.eye(cells)
    edges = np.arange(cells + 1) * side / cells
    pixel = np.arange(side)
    overlap = np.clip(np.minimum(edges[1:, None], pixel[None, :] + 1) - np.maximum(edges[:-1, None], pixel[None, :]),
                      0, None)
    return overlap / (side / cells)


@lru_cache(maxsize=64)
def pil_matrix(side: int, size: int, method: int) -> np.ndarray:
    """[size, side]: PIL's resize of one axis from `side` to `size` px with `method`, as a matrix
    (each column is the response to one pixel; PIL's float mode resamples linearly)."""
    from PIL import Image

    columns = []
    for pixel in range(side):
        impulse = np.zeros((1, side), np.float32)
        impulse[0, pixel] = 1.0
        columns.append(np.asarray(Image.fromarray(impulse, mode="F").resize((size, 1), method), np.float64)[0])
    return np.stack(columns, axis=1)


RESAMPLERS = ("BOX", "BILINEAR", "BICUBIC", "LANCZOS")  # the shrinks uploads use, by PIL's names


@lru_cache(maxsize=64)
def unshrinking_matrix(frame: int, side: int, resampler: str) -> np.ndarray:
    """[frame, side]: the least-squares inverse of shrinking one axis from `frame` to `side` px with
    PIL's `resampler`: what of the original that shrink kept, with none of what it lost made up."""
    from PIL import Image

    return np.linalg.pinv(pil_matrix(frame, side, getattr(Image.Resampling, resampler)))


def sandwich(left: np.ndarray, stack: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left @ stack[i] @ right for every i, as two plain 2-D products (numpy's stacked matmul
    loops over small matrices and is several times slower at these sizes)."""
    count, rows, cols = stack.shape
    lefted = left @ stack.transpose(1, 0, 2).reshape(rows, count * cols)  # [m, N * cols]
    lefted = lefted.reshape(len(left), count, cols).transpose(1, 0, 2).reshape(count * len(left), cols)
    return (lefted @ right).reshape(count, len(left), right.shape[1])
