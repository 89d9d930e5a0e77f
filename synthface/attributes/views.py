"""The face view the attribute model scores, and the random views it is trained on.

The view is the canonical face frame (`synthface.faces`) widened by `MARGIN` on every side, so it
holds the hairline, hair and jaw as well as the inner face: a viewer reads presentation from all
of them. It is `VIEW_SIZE` px square, whatever the photo's size.

Training views start from a face bank's region (the same frame, cut once per photo) and vary
what differs between our personas and the photos the labels come from: how much detail the face
has (a 64 px persona's face spans about 60 px, a photo's several hundred), small framing errors
of the landmarks, mirror images, colour and tone, and JPEG.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageEnhance

from synthface.facebank import MARGIN

VIEW_SIZE = 64
EXTENT = (-MARGIN, 1.0 + MARGIN)


def face_view(image: Image.Image | np.ndarray, to_canonical: np.ndarray) -> np.ndarray:
    """The model's uint8 [VIEW_SIZE, VIEW_SIZE, 3] view of the face that `to_canonical` places."""
    from synthface.faces import canonical_crop

    return canonical_crop(image, to_canonical, VIEW_SIZE, resample=Image.Resampling.LANCZOS, extent=EXTENT)


def region_view(region: np.ndarray, detail: int | None = None) -> np.ndarray:
    """The view of a face bank region (which spans exactly EXTENT), optionally at `detail` px first."""
    image = Image.fromarray(region)
    if detail is not None and detail < image.width:
        image = image.resize((detail, detail), Image.Resampling.LANCZOS)
    return np.asarray(image.resize((VIEW_SIZE, VIEW_SIZE), Image.Resampling.LANCZOS))


def training_view(region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One random view of a face bank region (see the module docstring for what varies)."""
    image = Image.fromarray(region)
    detail = int(rng.integers(28, 129))  # px across the view before it is brought to VIEW_SIZE
    if detail < image.width:
        image = image.resize((detail, detail), Image.Resampling.LANCZOS)
    side = image.width
    angle = math.radians(rng.uniform(-6.0, 6.0))
    scale = rng.uniform(0.93, 1.07)
    shift = rng.uniform(-0.04, 0.04, size=2) * side
    # Output pixel -> input pixel: rotate and scale about the centre, then shift.
    cos, sin = math.cos(angle) / scale, math.sin(angle) / scale
    centre = side / 2.0
    coefficients = (cos, -sin, centre - cos * centre + sin * centre + shift[0],
                    sin, cos, centre - sin * centre - cos * centre + shift[1])
    image = image.transform((side, side), Image.Transform.AFFINE, coefficients, Image.Resampling.BICUBIC,
                            fillcolor=(128, 128, 128))
    image = image.resize((VIEW_SIZE, VIEW_SIZE), Image.Resampling.BICUBIC)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.75, 1.25))
    image = ImageEnhance.Contrast(image).enhance(rng.uniform(0.75, 1.25))
    image = ImageEnhance.Color(image).enhance(0.0 if rng.random() < 0.05 else rng.uniform(0.6, 1.4))
    if rng.random() < 0.3:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(rng.integers(40, 96)))
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    return np.asarray(image)
