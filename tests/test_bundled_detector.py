"""The bundled detector on everyday versions of real photos and generated faces.

A profile picture reaches an analyst resized, recompressed or converted: a real photo must not
become "likely synthetic" because it was enlarged to 1024 px or saved as a palette PNG or a GIF,
and a generated face must not lose its flag because it was enlarged and saved as a JPEG. Each
image is scored as `synthface detect` scores it (`detectors.analysis`, numpy backend, the
model's own thresholds), after an encode-decode round trip through the real file format.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from detectors.analysis import analyse_images
from detectors.outcomes import LIKELY_SYNTHETIC, NO_EVIDENCE
from detectors.scoring import load_numpy_detector
from synthface.data import load_image
from synthface.pretrained import DEFAULT_DETECTOR_DIR

SIZES = (64, 256, 1024)


def _encoded(image: Image.Image, kind: str) -> Image.Image:
    """`image` written as `kind` and read back the way `detect` reads files."""
    buffer = io.BytesIO()
    if kind == "png":
        image.save(buffer, "PNG")
    elif kind.startswith("jpeg"):
        image.save(buffer, "JPEG", quality=int(kind[4:]))
    elif kind == "palette-png":
        image.quantize(256).save(buffer, "PNG")
    elif kind == "gif":
        image.save(buffer, "GIF")
    return load_image(buffer.getvalue(), name=kind)


def _versions(image: Image.Image, sizes: tuple[int, ...]) -> dict[str, Image.Image]:
    versions = {}
    for size in sizes:
        resized = image if image.size == (size, size) else image.resize((size, size), Image.Resampling.LANCZOS)
        for kind in ("png", "jpeg95", "jpeg75", "palette-png", "gif"):
            versions[f"{size}px {kind}"] = _encoded(resized, kind)
    return versions


@pytest.fixture(scope="module")
def detector():
    return load_numpy_detector(DEFAULT_DETECTOR_DIR)


def _flagged(detector, images: list[Image.Image]) -> list[bool]:
    return [a.outcome == LIKELY_SYNTHETIC for a in analyse_images(images, detector, detector.heads)]


def test_no_version_of_a_real_photo_is_called_synthetic(faces_dir: Path, detector) -> None:
    """20 real photos (10 LFW, 10 CelebA test) at 64, 256 and 1024 px, as PNG, JPEG q95/q75,
    palette PNG and GIF: none is called synthetic where the original is not."""
    files = sorted((faces_dir / "lfw").rglob("*.jpg"))[5::1200][:10]
    files += sorted((faces_dir / "celeba" / "test").rglob("*.jpg"))[3::120][:10]
    assert len(files) == 20
    wrong = []
    for path in files:
        original = load_image(path)
        if _flagged(detector, [original])[0]:
            continue  # the test is about versions; a flagged original is the evaluation's business
        versions = _versions(original, SIZES)
        for name, flagged in zip(versions, _flagged(detector, list(versions.values())), strict=True):
            if flagged:
                wrong.append(f"{path.name} {name}")
    assert not wrong, f"real photos called synthetic: {wrong}"


def test_generated_faces_stay_flagged_when_enlarged_and_recompressed(detector) -> None:
    """Faces of the bundled generator (seeds the detector never trained on) that the detector flags,
    at 64, 128 (a 2x upscale), 256 and 1024 px as PNG, JPEG q95 and q75: none is cleared as "no
    evidence of synthesis", and at most 5% of the versions fall back to "uncertain"."""
    from synthface.generator.images import to_uint8
    from synthface.generator.sampling import load_generator
    from synthface.generator.seeds import z_from_seeds
    from synthface.pretrained import default_generator_spec

    generator = load_generator(default_generator_spec())
    with torch.no_grad():
        faces = to_uint8(generator(z_from_seeds(list(range(900_000, 900_029)), generator.z_dim), psi=0.7))
    originals = [Image.fromarray(pixels) for pixels in faces]
    flagged = _flagged(detector, originals)
    assert np.mean(flagged) >= 0.8, f"only {np.mean(flagged):.0%} of the originals flagged"
    outcomes = []
    for index, original in enumerate(originals):
        if not flagged[index]:
            continue
        versions = {name: image for name, image in _versions(original, (64, 128, 256, 1024)).items()
                    if name.split()[1] in ("png", "jpeg95", "jpeg75")}
        analyses = analyse_images(list(versions.values()), detector, detector.heads)
        outcomes += [(f"seed {900_000 + index} {name}", a.outcome) for name, a in zip(versions, analyses, strict=True)]
    cleared = [name for name, outcome in outcomes if outcome == NO_EVIDENCE]
    assert not cleared, f"generated faces cleared: {cleared}"
    doubtful = [name for name, outcome in outcomes if outcome != LIKELY_SYNTHETIC]
    assert len(doubtful) <= 0.05 * len(outcomes), f"flag lost on {len(doubtful)} of {len(outcomes)}: {doubtful}"
