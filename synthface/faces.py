"""One canonical view of a face: find it, place its five landmarks, crop it upright at a fixed size.

Why: a detector that scores whole images learns whatever separates its training sets, and
for photos against generator outputs that is size, framing, background and codec long before
it is synthesis. Scoring the same aligned face crop, at the same working size, whatever the
photo's size and framing, takes those shortcuts away.

How: dlib's HOG frontal-face detector finds faces on a copy scaled to about
`DETECTION_SIDE` px (it needs faces of at least ~80 px and gets slow on large images); the
5-point landmark model of the `face-recognition-models` wheel (CC0; the 68-point model is
not used, its training data is non-commercial) places the eye corners and the base of the
nose at full resolution. A least-squares similarity transform maps those five points onto
`TEMPLATE`, so the canonical square spans 3 eye distances with the eyes 40% from its top:
the inner face, hairline and chin, which every source frames (our 64 px generator included).
`canonical_crop` then resamples that square to the working size, anti-aliased.

dlib is imported only here and only when a face is looked for; the model files are found
with `importlib.util.find_spec`, without running the wheel's `__init__` (which needs the
long-removed `pkg_resources`).
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from synthface.errors import SynthfaceError

LANDMARK_MODEL = "shape_predictor_5_face_landmarks.dat"
# Faces are looked for on a copy whose shorter side is about this many px (upsampled when smaller:
# a 64 px avatar's face is too small for the HOG window), unless the longer side would pass MAX.
DETECTION_SIDE = 256
DETECTION_MAX_SIDE = 640
# For portraits, where the face fills the frame (a generator's output): the face is ~70% of the side,
# so at this side it is ~90 px, already above the HOG window, and the search costs a quarter as much.
PORTRAIT_DETECTION_SIDE = 128
# A face whose eyes are closer than this (in the image's own px) carries too little to score.
MIN_EYE_DISTANCE = 8.0
# Five landmarks in the canonical unit square (x right, y down), in dlib's order: the image-right
# eye's outer and inner corner, the image-left eye's outer and inner corner, the base of the nose.
# Measured on our generator's faces and on CelebA/LFW crops (eye distance 1/3 of the square),
# made left-right symmetric.
TEMPLATE = np.array([[0.732, 0.400], [0.601, 0.400], [0.268, 0.400], [0.399, 0.400], [0.500, 0.660]])
# Out-of-frame parts of the square (a face at the photo's edge) are filled with mid grey.
FILL = (128, 128, 128)


@dataclass(frozen=True)
class Face:
    """A face found in an image: its landmarks (image px) and the detector's box and score."""

    landmarks: np.ndarray  # [5, 2] float64 (x, y)
    box: tuple[int, int, int, int]  # left, top, right, bottom in image px
    score: float

    @property
    def eye_distance(self) -> float:
        right, left = self.landmarks[0:2].mean(axis=0), self.landmarks[2:4].mean(axis=0)
        return float(np.linalg.norm(right - left))

    def to_canonical(self) -> np.ndarray:
        """The 2x3 similarity transform from image coordinates (pixel i spans [i, i + 1]) to the
        canonical unit square; dlib's landmarks are pixel indices, so their centres are at +0.5."""
        return similarity_transform(self.landmarks + 0.5, TEMPLATE)

    def crop_side(self) -> float:
        """Side of the canonical square in image px (how much detail the photo has of this face)."""
        matrix = self.to_canonical()
        return 1.0 / math.hypot(matrix[0, 0], matrix[1, 0])


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + shift taking `source` points onto `target` (2x3).

    Umeyama's closed form, restricted to proper rotations (a mirror image is not a face pose).
    """
    source, target = np.asarray(source, np.float64), np.asarray(target, np.float64)
    mean_s, mean_t = source.mean(axis=0), target.mean(axis=0)
    centred_s, centred_t = source - mean_s, target - mean_t
    covariance = centred_t.T @ centred_s / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, 1.0 if np.linalg.det(u) * np.linalg.det(vt) > 0 else -1.0])
    rotation = u @ sign @ vt
    variance = (centred_s ** 2).sum() / len(source)
    scale = float((singular * np.diag(sign)).sum() / variance) if variance > 0 else 1.0
    shift = mean_t - scale * rotation @ mean_s
    return np.hstack([scale * rotation, shift[:, None]])


def _model_file(name: str) -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    for folder in list(spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "models" / name
        if path.is_file():
            return path
    raise SynthfaceError(f"the face landmark model {name} is missing; run `pip install face-recognition-models`")


@lru_cache(maxsize=1)
def _dlib_models():
    try:
        import dlib
    except ImportError:
        raise SynthfaceError("finding faces needs dlib; run `pip install dlib-bin`") from None
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(_model_file(LANDMARK_MODEL)))


def _detection_scale(width: int, height: int, side: int) -> float:
    scale = side / min(width, height)
    return min(scale, DETECTION_MAX_SIDE * side / DETECTION_SIDE / max(width, height))


def _faces_at(image: Image.Image, pixels: np.ndarray, side: int) -> list[Face]:
    """Faces found on a copy of `image` scaled for `side`, landmarks placed on `pixels` (full size)."""
    import dlib

    detector, predictor = _dlib_models()
    scale = _detection_scale(image.width, image.height, side)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    small = np.asarray(image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
                       if size != image.size else image)
    boxes, scores, _ = detector.run(np.ascontiguousarray(small), 0, 0.0)
    faces = []
    for rect, score in zip(boxes, scores, strict=True):
        left, top = int(rect.left() / scale), int(rect.top() / scale)
        right, bottom = int(rect.right() / scale), int(rect.bottom() / scale)
        shape = predictor(pixels, dlib.rectangle(left, top, right, bottom))
        points = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
        faces.append(Face(points, (left, top, right, bottom), float(score)))
    return faces


def find_faces(image: Image.Image | np.ndarray, detection_side: int = DETECTION_SIDE) -> list[Face]:
    """Every frontal face dlib finds, largest first (faces too small to score are left out).

    A large photo whose faces are small (a group, a street) gets a second, finer look.
    `detection_side`: PORTRAIT_DETECTION_SIDE for images known to be framed portraits.
    """
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    pixels = np.ascontiguousarray(np.asarray(image))
    faces = _faces_at(image, pixels, detection_side)
    if not faces and min(image.size) > 2 * detection_side:
        faces = _faces_at(image, pixels, 2 * DETECTION_SIDE)
    faces = [face for face in faces if face.eye_distance >= MIN_EYE_DISTANCE]
    return sorted(faces, key=lambda face: face.eye_distance, reverse=True)


def canonical_crop(
    image: Image.Image | np.ndarray,
    to_canonical: np.ndarray,
    size: int,
    resample: Image.Resampling = Image.Resampling.BICUBIC,
    extent: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """The canonical square (or a wider `extent` of the canonical frame) as uint8 [size, size, 3].

    A large face is first shrunk with `resample` (Pillow's resize filters are anti-aliased) so
    that the square comes out near `size` px, then rotated into place; a small one is rotated
    and enlarged in one step. `to_canonical` maps image px to the canonical unit square.
    """
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    low, high = extent
    matrix = np.vstack([np.asarray(to_canonical, np.float64), [0.0, 0.0, 1.0]])
    # Output -> canonical frame -> image, in Pillow's continuous coordinates (pixel i spans [i, i + 1]).
    out_to_canon = np.array([[(high - low) / size, 0.0, low], [0.0, (high - low) / size, low], [0.0, 0.0, 1.0]])
    out_to_image = np.linalg.inv(matrix) @ out_to_canon
    shrink = math.hypot(out_to_image[0, 0], out_to_image[1, 0])  # image px per output px
    if shrink > 1.25:
        # Cut the region the square covers (plus a margin), shrink it, then warp at about 1:1.
        corners = out_to_image @ np.array([[0, size, 0, size], [0, 0, size, size], [1, 1, 1, 1]], np.float64)
        margin = 2 * shrink
        left = max(0, int(math.floor(corners[0].min() - margin)))
        top = max(0, int(math.floor(corners[1].min() - margin)))
        right = min(image.width, int(math.ceil(corners[0].max() + margin)))
        bottom = min(image.height, int(math.ceil(corners[1].max() + margin)))
        if right - left >= 2 and bottom - top >= 2:
            factor = 1.0 / shrink
            region = image.crop((left, top, right, bottom))
            scaled = (max(1, round(region.width * factor)), max(1, round(region.height * factor)))
            region = region.resize(scaled, resample)
            sx, sy = region.width / (right - left), region.height / (bottom - top)
            image_to_region = np.array([[sx, 0.0, -left * sx], [0.0, sy, -top * sy], [0.0, 0.0, 1.0]])
            out_to_image = image_to_region @ out_to_image
            image = region
    coefficients = tuple(out_to_image[:2].reshape(-1))
    warp_filter = resample if resample in (Image.Resampling.NEAREST, Image.Resampling.BILINEAR,
                                           Image.Resampling.BICUBIC) else Image.Resampling.BICUBIC
    warped = image.transform((size, size), Image.Transform.AFFINE, coefficients, resample=warp_filter,
                             fillcolor=FILL)
    return np.asarray(warped)
