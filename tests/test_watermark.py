"""The invisible watermark: payload coding, invisibility, robustness, and "no watermark"."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthface.errors import SynthfaceError
from synthface.provenance import Payload, decode_watermark, embed_watermark, embed_watermarks
from synthface.provenance.payload import CODED_BITS


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def _jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def _face(path: Path, size: int) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    box = (19, 40, 159, 180) if image.size == (178, 218) else (50, 58, 200, 208)
    return np.asarray(image.crop(box).resize((size, size), Image.BICUBIC))


def test_payload_bits_round_trip_and_crc_rejects_flips() -> None:
    payload = Payload(0xDEADBEEF, 0x1234)
    bits = payload.to_bits()
    assert bits.shape == (CODED_BITS,)
    assert Payload.from_bits(bits) == payload
    assert Payload.from_hex(payload.hex) == payload
    for index in (0, 20, 47, 60, 79):
        flipped = bits.copy()
        flipped[index] ^= 1
        assert Payload.from_bits(flipped) is None
    with pytest.raises(SynthfaceError):
        Payload(2**32, 0)


def test_unmarked_synthetic_images_decode_to_no_watermark() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        noise = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
        assert decode_watermark(noise).payload is None
    assert decode_watermark(np.full((64, 64, 3), 128, np.uint8)).payload is None


def test_too_small_and_bad_arrays_are_refused() -> None:
    with pytest.raises(SynthfaceError, match="at least 64 px"):
        embed_watermark(np.zeros((32, 32, 3), np.uint8), Payload(1, 1))
    with pytest.raises(SynthfaceError, match="uint8"):
        decode_watermark(np.zeros((64, 64, 3), np.float32))


def test_a_stack_is_marked_exactly_as_one_image_at_a_time() -> None:
    """The persona writer marks batches; each image must come out as it would alone, including
    images whose passes stop early and ones clipped at 0/255."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:64, 0:64]
    smooth = np.stack([xx * 3, yy * 3, (xx + yy) * 2], axis=-1).clip(0, 255).astype(np.uint8)
    images = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(20)]
    images += [np.full((64, 64, 3), 252, np.uint8), smooth, np.zeros((64, 64, 3), np.uint8)]
    stack = np.stack(images)
    payloads = [Payload(9000 + i, 31) for i in range(len(images))]
    marked = embed_watermarks(stack, payloads)
    assert marked.shape == stack.shape
    for image, payload, together in zip(images, payloads, marked, strict=True):
        assert np.array_equal(together, embed_watermark(image, payload))
    assert decode_watermark(marked[21]).payload == payloads[21]
    with pytest.raises(SynthfaceError, match="2 images but 1"):
        embed_watermarks(stack[:2], payloads[:1])


@pytest.mark.parametrize("size", [64, 128])
def test_marks_real_faces_invisibly_and_survives_jpeg(few_face_files: list[Path], size: int) -> None:
    for index, path in enumerate(few_face_files[:6]):
        face = _face(path, size)
        payload = Payload(1000 + index, 77)
        marked = embed_watermark(face, payload)
        assert _psnr(face, marked) >= 36.0
        assert decode_watermark(marked).payload == payload
        assert decode_watermark(_jpeg(marked, 75)).payload == payload


def test_grayscale_and_rgba_keep_their_shape(few_face_files: list[Path]) -> None:
    face = _face(few_face_files[0], 64)
    gray = np.asarray(Image.fromarray(face).convert("L"))
    marked_gray = embed_watermark(gray, Payload(5, 6))
    assert marked_gray.shape == gray.shape and decode_watermark(marked_gray).payload == Payload(5, 6)
    rgba = np.dstack([face, np.full(face.shape[:2], 200, np.uint8)])
    marked_rgba = embed_watermark(rgba, Payload(7, 8))
    assert marked_rgba.shape == rgba.shape and np.all(marked_rgba[..., 3] == 200)
    assert decode_watermark(marked_rgba[..., :3]).payload == Payload(7, 8)


def test_real_photos_decode_to_no_watermark(few_face_files: list[Path]) -> None:
    for path in few_face_files:
        image = np.asarray(Image.open(path).convert("RGB"))
        assert decode_watermark(image).payload is None, path
        assert decode_watermark(_face(path, 64)).payload is None, path
        assert decode_watermark(_face(path, 16)).payload is None, path  # read as a thumbnail


def _bundled_faces(count: int) -> np.ndarray:
    """`count` 64 px faces from the bundled generator, as personas are drawn (psi 0.7)."""
    import torch

    from synthface.generator.images import to_uint8
    from synthface.generator.sampling import load_generator
    from synthface.generator.seeds import z_from_seeds
    from synthface.pretrained import default_generator_spec

    generator = load_generator(default_generator_spec())
    with torch.no_grad():
        return to_uint8(generator(z_from_seeds(list(range(count)), generator.z_dim), psi=0.7))


def _cropped(share: float, centred: bool = True):
    def apply(image: Image.Image) -> Image.Image:
        cut = round(image.width * share)
        left = cut // 2 if centred else 0
        return image.crop((left, left, left + image.width - cut, left + image.height - cut))

    return apply


def test_a_persona_shrunk_cropped_rotated_or_toned_keeps_its_mark() -> None:
    """Upload pipelines shrink, crop, straighten and retone: a persona kept at 0.5x (by Lanczos, or by
    a blurrier filter, whose shrink the decoder undoes) or 0.75x its size,
    cropped by 5-15% from the middle or a corner (also then enlarged), rotated by up to 3 degrees,
    brightened or darkened by 15%, or with contrast changed by 15% is still read (the decoder searches
    crops and rotations and scans the gain), and no other payload is ever read."""
    from PIL import ImageEnhance

    edits = {
        "shrunk 0.5x": lambda image: image.resize((32, 32), Image.Resampling.LANCZOS),
        "shrunk 0.75x": lambda image: image.resize((48, 48), Image.Resampling.LANCZOS),
        "shrunk 0.5x by a bilinear filter": lambda image: image.resize((32, 32), Image.Resampling.BILINEAR),
        "shrunk 0.5x by a bicubic filter, JPEG q85": lambda image: Image.fromarray(
            _jpeg(np.asarray(image.resize((32, 32), Image.Resampling.BICUBIC)), 85)),
        "cropped 5%": _cropped(0.05),
        "cropped 15%": _cropped(0.15),
        "cropped 10% at a corner": _cropped(0.10, centred=False),
        "cropped 10%, enlarged 2x": lambda image: _cropped(0.10)(image).resize((116, 116), Image.Resampling.BICUBIC),
        "rotated 1 deg": lambda image: image.rotate(1, Image.Resampling.BICUBIC, fillcolor=(128, 128, 128)),
        "rotated -3 deg": lambda image: image.rotate(-3, Image.Resampling.BICUBIC, fillcolor=(128, 128, 128)),
        "brightness +15%": lambda image: ImageEnhance.Brightness(image).enhance(1.15),
        "brightness -15%": lambda image: ImageEnhance.Brightness(image).enhance(0.85),
        "contrast +15%": lambda image: ImageEnhance.Contrast(image).enhance(1.15),
        "contrast -15%": lambda image: ImageEnhance.Contrast(image).enhance(0.85),
    }
    for index, face in enumerate(_bundled_faces(8)):
        payload = Payload(7000 + index, 43)
        marked = Image.fromarray(embed_watermark(face, payload))
        for name, edit in edits.items():
            reading = decode_watermark(np.asarray(edit(marked)))
            assert reading.payload == payload, (index, name)
            if name == "rotated -3 deg":
                angle = float(reading.geometry.removeprefix("rotated ").removesuffix(" deg"))
                assert abs(angle + 3.0) <= 0.15  # found by the search, at (nearly) the right angle
    for index, face in enumerate(_bundled_faces(8)):  # the same edits of unmarked faces: nothing found
        for name, edit in edits.items():
            assert not decode_watermark(np.asarray(edit(Image.fromarray(face)))).found, (index, name)


def test_a_persona_shrunk_to_a_thumbnail_is_read_from_its_colour_layer() -> None:
    """A persona shrunk to a quarter (16 px) or to 24 px by any common resampler is read from the
    colour layer, and nothing else is ever read; unmarked faces shrunk alike read nothing; images
    under 16 px, and grey thumbnails (which carry no colour layer), are refused as too small."""
    resampling = Image.Resampling
    shrinks = [(16, resampling.LANCZOS), (16, resampling.BICUBIC), (16, resampling.BILINEAR), (16, resampling.BOX),
               (24, resampling.LANCZOS), (24, resampling.BILINEAR)]
    faces = _bundled_faces(8)
    for index, face in enumerate(faces):
        payload = Payload(6000 + index, 44)
        marked = Image.fromarray(embed_watermark(face, payload))
        for side, method in shrinks:
            reading = decode_watermark(np.asarray(marked.resize((side, side), method)))
            assert reading.payload == payload, (index, side, method)
            assert reading.geometry.startswith("thumbnail")
            assert not decode_watermark(np.asarray(Image.fromarray(face).resize((side, side), method))).found
    with pytest.raises(SynthfaceError, match="too small to read"):
        decode_watermark(np.asarray(marked.resize((12, 12), resampling.LANCZOS)))
    with pytest.raises(SynthfaceError, match="too small to read"):
        decode_watermark(np.asarray(marked.convert("L").resize((16, 16), resampling.LANCZOS)))


def test_the_colour_layer_moves_chroma_only() -> None:
    """The two layers must not disturb each other: the colour layer's change has no luma, and it puts
    its carriers exactly on their lattices (the luma layer's change has no chroma by construction)."""
    from synthface.provenance import convolutional, thumbnail_layer

    rng = np.random.default_rng(8)
    rgb = rng.uniform(40, 215, (3, 64, 64, 3))
    coded = np.stack([convolutional.encode(Payload(i, 1).to_bits()) for i in range(3)]).astype(np.float64)
    change, moving = thumbnail_layer.changes(rgb, coded)
    assert moving.all()
    assert np.abs(change @ np.array([0.299, 0.587, 0.114])).max() < 1e-3 * np.abs(change).max()
    _, moving_after = thumbnail_layer.changes(rgb + change, coded)  # unrounded: exactly on the lattice
    assert not moving_after.any()


def test_the_code_corrects_errors_and_erasures() -> None:
    """The convolutional code returns the message through noisy soft values and lost carriers."""
    from synthface.provenance import convolutional

    rng = np.random.default_rng(11)
    message = rng.integers(0, 2, CODED_BITS)
    coded = convolutional.encode(message)
    assert coded.shape == (convolutional.coded_length(CODED_BITS),)
    soft = (1.0 - 2.0 * coded) + rng.normal(0, 0.8, coded.shape)
    soft[rng.random(coded.shape) < 0.4] = 0.0  # 40% of carriers lost
    assert np.array_equal(convolutional.viterbi(soft, CODED_BITS), message)
    batch = np.stack([soft, -soft])
    assert np.array_equal(convolutional.viterbi(batch, CODED_BITS)[0], message)


def test_a_persona_enlarged_and_recompressed_keeps_its_mark() -> None:
    """Profile pictures get enlarged: a 64 px persona shown at 96, 128, 192 or 1024 px (and then
    saved as JPEG q75) is read back at 64 px, where it was marked; a different payload is never read."""
    faces = _bundled_faces(8)
    for index, face in enumerate(faces):
        payload = Payload(5000 + index, 42)
        marked = Image.fromarray(embed_watermark(face, payload))
        for side in (96, 128, 192, 1024):
            enlarged = np.asarray(marked.resize((side, side), Image.Resampling.BICUBIC))
            for version in (enlarged, _jpeg(enlarged, 75)):
                reading = decode_watermark(version)
                assert reading.payload == payload, (index, side)
    unmarked = np.asarray(Image.fromarray(faces[0]).resize((1024, 1024), Image.Resampling.BICUBIC))
    assert not decode_watermark(unmarked).found
    assert not decode_watermark(np.zeros((3000, 2000, 3), np.uint8)).found  # large, not square: no read, no error
