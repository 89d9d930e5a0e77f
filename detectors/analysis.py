"""One image -> its largest face's canonical view -> calibrated score -> outcome.

This is the classifier's part of `synthface detect`, and exactly what `eval-detector` and the
tests measure, so what is reported is what users get. A photo with several faces is judged by
its largest (a profile picture's subject); one with no usable face gets "no face found" and
no probability at all: a probability computed on a background would be a guess.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from PIL import Image

from detectors.outcomes import NO_FACE
from detectors.scoring import DetectorHeads, FaceScores


class FaceScorer(Protocol):
    """`NumpyDetector` or `SynthDetector`: scores canonical views of its working size."""

    working_size: int

    def score_views(self, views: np.ndarray) -> FaceScores: ...


@dataclass
class FaceAnalysis:
    """What the classifier found in one image (the `classifier` object of `detect --json`)."""

    outcome: str
    reason: str
    faces: int
    probability: float | None = None
    distance: float | None = None
    face_box: list[int] | None = None  # left, top, right, bottom of the judged face, image px
    face_side: float | None = None  # side of its canonical square in the image, px

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def face_view(image: Image.Image, working_size: int) -> tuple[np.ndarray | None, int, Any]:
    """(canonical view of the largest face or None, number of faces, that face)."""
    from synthface.faces import canonical_crop, find_faces

    faces = find_faces(image)
    if not faces:
        return None, 0, None
    return canonical_crop(image, faces[0].to_canonical(), working_size), len(faces), faces[0]


def analyse_images(images: list[Image.Image], scorer: FaceScorer, heads: DetectorHeads) -> list[FaceAnalysis]:
    """The classifier's answer for each image (faces found one by one, views scored together)."""
    views, found = [], []
    for image in images:
        view, count, face = face_view(image, scorer.working_size)
        found.append((view is not None, count, face))
        if view is not None:
            views.append(view)
    scores = scorer.score_views(np.stack(views)) if views else None
    results, row = [], 0
    for has_face, count, face in found:
        if not has_face:
            results.append(FaceAnalysis(NO_FACE, "no frontal face of at least 8 px between the eyes", 0))
            continue
        probability, distance = float(scores.probability[row]), float(scores.distance[row])
        row += 1
        outcome, reason = heads.outcome(probability, distance)
        results.append(FaceAnalysis(outcome, reason, count, round(probability, 4), round(distance, 3),
                                    list(face.box), round(face.crop_side(), 1)))
    return results
