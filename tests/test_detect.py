"""`synthface detect`: provenance verdicts, the classifier fallback, JSON schema, bad inputs."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from detectors.commands import register
from detectors.detect import (
    NO_EVIDENCE,
    NO_FACE,
    SIGNED,
    TAMPERED,
    UNCERTAIN,
    WATERMARK,
    DetectPipeline,
)
from synthface.provenance import (
    Payload,
    generation_assertion,
    image_id_from,
    load_signing_identity,
    mark_and_sign,
)
from synthface.provenance.inputs import expand_inputs

DETECTION_KEYS = {"path", "verdict", "synthetic", "reasons", "c2pa", "watermark", "classifier", "error"}


# Every test runs with a temporary SYNTHFACE_HOME (fixtures in conftest.py).
pytestmark = pytest.mark.usefixtures("isolated_home")


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    """Ten faces of the bundled generator, enlarged to 128 px (no photo needed; dlib finds each)."""
    import torch

    from synthface.generator.images import to_uint8
    from synthface.generator.sampling import load_generator
    from synthface.generator.seeds import z_from_seeds
    from synthface.pretrained import default_generator_spec

    generator = load_generator(default_generator_spec())
    with torch.no_grad():
        small = to_uint8(generator(z_from_seeds(list(range(10)), generator.z_dim), psi=0.5))
    return np.stack([np.asarray(Image.fromarray(face).resize((128, 128), Image.Resampling.LANCZOS))
                     for face in small])


@pytest.fixture(scope="module")
def signed(key_dir: Path, faces: np.ndarray):
    identity = load_signing_identity(key_dir=key_dir)
    assertion = generation_assertion(generator_id="synthface/test-gen", checkpoint_sha256="cd" * 32, seed=11,
                                     psi=0.7, persona_id="persona-11")
    return mark_and_sign(faces[1], identity, assertion, Payload(image_id_from("persona-11"), identity.key_id))


@pytest.fixture(scope="module")
def constant_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny fitted detector whose probability is sigmoid(2) = 0.88 for every face, with thresholds
    0.5 and 0.8 (so: likely synthetic) and every image familiar.

    The learning itself is tested in test_detector.py; here only the plumbing matters, so the
    output must be known in advance.
    """
    from detectors.calibration import PlattCalibrator
    from detectors.model import SynthDetector
    from detectors.scoring import DetectorHeads

    model = SynthDetector(widths=[4, 4], strides=[1, 2])
    model.set_heads(DetectorHeads(PlattCalibrator(0.0, 2.0), 0.5, 0.8, 0.01, np.zeros(4), np.zeros((4, 4)),
                                  float("inf")))
    folder = tmp_path_factory.mktemp("model")
    model.save_pretrained(str(folder))
    return folder


def _png_with_new_pixels(png: bytes, pixels: np.ndarray) -> bytes:
    """Replace a PNG's image data (IDAT) and keep all other chunks, the C2PA one included."""
    scanlines = b"".join(b"\x00" + row.tobytes() for row in pixels)
    chunks, pos, replaced = [png[:8]], 8, False
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        pos += length + 12
        if kind == b"IDAT":
            if replaced:
                continue
            data, replaced = zlib.compress(scanlines), True
        chunks.append(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data)))
    return b"".join(chunks)


def _cli(args: list[str]):
    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, ["detect", *args])


def _json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_signed_image_is_synthetic_signed_and_the_classifier_never_loads(signed, key_dir, tmp_path,
                                                                         constant_model) -> None:
    path = signed.write(tmp_path / "face.png")
    pipeline = DetectPipeline(model=str(constant_model), trust_anchors=_anchors(key_dir))
    (detection,) = [pipeline.detect(item) for item in expand_inputs([str(path)])]
    assert detection.verdict == SIGNED and detection.synthetic is True
    assert detection.c2pa["status"] == "trusted" and detection.c2pa["persona"] == "persona-11"
    assert detection.watermark == {"found": True, "payload": signed.payload.hex, "matches": "manifest"}
    assert detection.classifier is None and not pipeline.classifier_loaded


def _anchors(key_dir: Path) -> str:
    from synthface.provenance import trust_anchors_pem

    return trust_anchors_pem(key_dir=key_dir)


def test_pixel_tampered_signed_image_is_tampered(signed, key_dir, tmp_path) -> None:
    pixels = np.asarray(Image.open(io.BytesIO(signed.data)).convert("RGB")).copy()
    pixels[40:50, 40:50] = 255 - pixels[40:50, 40:50]
    path = tmp_path / "edited.png"
    path.write_bytes(_png_with_new_pixels(signed.data, pixels))
    result = _cli([str(path), "--json", "--key-dir", str(key_dir), "--no-classifier"])
    (line,) = _json_lines(result.stdout)
    assert result.exit_code == 0, result.output
    assert line["verdict"] == TAMPERED and line["c2pa"]["status"] == "tampered"
    assert line["c2pa"]["data_hash"] == "mismatch"


def test_a_text_chunk_added_to_a_signed_png_is_a_changed_file_not_changed_pixels(signed, key_dir, tmp_path) -> None:
    data = signed.data
    end = data.rindex(b"IEND") - 4  # before IEND's length field
    text = b"Comment\x00harmless"
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text))
    path = tmp_path / "commented.png"
    path.write_bytes(data[:end] + chunk + data[end:])
    (line,) = _json_lines(_cli([str(path), "--json", "--key-dir", str(key_dir), "--no-classifier"]).stdout)
    assert line["c2pa"]["status"] == "tampered" and line["verdict"] == TAMPERED
    assert "file changed since signing" in line["reasons"][0] and "pixels changed" not in line["reasons"][0]


def test_reencoded_signed_image_is_found_through_the_watermark(signed, key_dir, tmp_path) -> None:
    store = tmp_path / "dataset"
    signed.write(store / "0011.png", sidecar=True)
    jpeg = tmp_path / "reposted.jpg"
    Image.open(io.BytesIO(signed.data)).convert("RGB").save(jpeg, "JPEG", quality=80)

    with_store = _json_lines(_cli([str(jpeg), "--json", "--store", str(store), "--key-dir", str(key_dir),
                                   "--fail-on", "synthetic"]).stdout)[0]
    assert with_store["verdict"] == WATERMARK
    assert with_store["c2pa"]["manifest"] == "store"
    assert with_store["c2pa"]["manifest_file"].endswith("0011.c2pa")
    assert with_store["c2pa"]["persona"] == "persona-11" and with_store["watermark"]["matches"] == "store"

    alone = _json_lines(_cli([str(jpeg), "--json", "--no-classifier"]).stdout)[0]
    assert alone["verdict"] == WATERMARK and alone["watermark"]["payload"] == signed.payload.hex
    assert alone["c2pa"]["status"] == "absent"


def test_a_valid_signature_from_an_untrusted_signer_says_untrusted(signed, tmp_path) -> None:
    """As `synthface verify` does: a valid signature proves nothing about who signed it."""
    path = signed.write(tmp_path / "face.png")
    (line,) = _json_lines(_cli([str(path), "--json", "--no-classifier"]).stdout)
    assert line["c2pa"]["status"] == "untrusted" and line["c2pa"]["signature_valid"] is True
    assert line["verdict"] == SIGNED and "(NOT trusted)" in line["reasons"][0]
    assert "untrusted" in _cli([str(path), "--no-classifier"]).stdout


def test_fail_on_synthetic_sets_exit_status_1(signed, key_dir, tmp_path) -> None:
    path = signed.write(tmp_path / "face.png")
    assert _cli([str(path), "--key-dir", str(key_dir)]).exit_code == 0
    assert _cli([str(path), "--key-dir", str(key_dir), "--fail-on", "synthetic"]).exit_code == 1
    bad = _cli([str(path), "--fail-on", "everything"])
    assert bad.exit_code == 2 and "--fail-on" in bad.output


def test_unsigned_image_goes_to_the_classifier_with_its_threshold(tmp_path, constant_model, faces) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(faces[2]).save(photo)
    (line,) = _json_lines(_cli([str(photo), "--json", "--model", str(constant_model)]).stdout)
    assert line["verdict"] == "likely synthetic (classifier p=0.88)" and line["synthetic"] is True
    assert line["classifier"]["probability"] == pytest.approx(0.8808, abs=1e-3)
    assert line["classifier"]["model"] == str(constant_model)
    assert line["classifier"]["threshold_synthetic"] == 0.8 and line["classifier"]["threshold_real"] == 0.5
    assert line["classifier"]["faces"] == 1 and 40 < line["classifier"]["face_side"] < 128
    (strict,) = _json_lines(_cli([str(photo), "--json", "--model", str(constant_model),
                                  "--threshold", "0.95"]).stdout)
    assert strict["verdict"] == UNCERTAIN and strict["synthetic"] is None
    assert strict["classifier"]["threshold_synthetic"] == 0.95
    assert "between 0.50 and 0.95" in strict["reasons"][-1]


def test_an_image_without_a_face_gets_no_probability(tmp_path, constant_model) -> None:
    landscape = tmp_path / "landscape.png"
    Image.new("RGB", (300, 200), (90, 140, 200)).save(landscape)
    result = _cli([str(landscape), "--json", "--model", str(constant_model)])
    (line,) = _json_lines(result.stdout)
    assert result.exit_code == 0 and line["verdict"] == NO_FACE and line["synthetic"] is None
    assert line["classifier"]["faces"] == 0 and "probability" not in line["classifier"]


def test_json_schema_of_every_line(signed, key_dir, tmp_path, constant_model, faces) -> None:
    signed.write(tmp_path / "in" / "a_signed.png")
    Image.fromarray(faces[3]).save(tmp_path / "in" / "b_plain.png")
    Image.fromarray(faces[4]).save(tmp_path / "in" / "c_plain.webp")
    result = _cli([str(tmp_path / "in"), "--json", "--model", str(constant_model), "--key-dir", str(key_dir)])
    lines = _json_lines(result.stdout)
    assert [Path(line["path"]).name for line in lines] == ["a_signed.png", "b_plain.png", "c_plain.webp"]
    for line in lines:
        assert set(line) == DETECTION_KEYS
        assert isinstance(line["verdict"], str) and isinstance(line["reasons"], list) and line["reasons"]
        assert isinstance(line["synthetic"], bool) and line["error"] is None
        assert line["c2pa"]["status"] in {"absent", "untrusted", "trusted", "tampered", "unsupported format"}
        assert set(line["watermark"]) <= {"found", "payload", "matches"}
        if line["classifier"] is not None:
            assert set(line["classifier"]) == {"outcome", "reason", "faces", "probability", "distance", "face_box",
                                               "face_side", "threshold_real", "threshold_synthetic", "target_fpr",
                                               "ood_limit", "model"}
            assert 0.0 <= line["classifier"]["probability"] <= 1.0
    assert lines[0]["classifier"] is None and lines[1]["classifier"] is not None
    assert lines[2]["c2pa"]["status"] == "unsupported format" and lines[2]["classifier"] is not None
    assert "3 inputs" in result.stderr


def test_corrupt_and_missing_files_are_reported_and_the_batch_goes_on(tmp_path, constant_model, faces) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(faces[5]).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:200])
    garbage = tmp_path / "garbage.jpg"
    garbage.write_bytes(b"\xff\xd8\xff" + bytes(range(256)) * 4)
    args = [str(truncated), str(garbage), str(tmp_path / "missing.png"), str(tmp_path / "*.nothing"),
            str(good)]
    result = _cli([*args, "--model", str(constant_model)])
    assert result.exit_code == 2
    rows = result.stdout.splitlines()
    assert rows[0].startswith("verdict") and "5 inputs" in rows[-1]
    assert any(row.endswith(str(good)) and row.startswith("likely synthetic") for row in rows)
    errors = [row for row in rows if row.startswith("error")]
    assert len(errors) == 4
    assert any("truncated.png: " in row and "corrupt" in row for row in errors)
    assert any("no such file" in row for row in errors) and any("no file matches" in row for row in errors)

    as_json = _cli([*args, "--json", "--model", str(constant_model)])
    lines = _json_lines(as_json.stdout)
    assert len(lines) == 5 and sum(line["error"] is not None for line in lines) == 4
    assert all(line["synthetic"] is None for line in lines if line["error"])
    assert f"error: {truncated}:" in as_json.stderr


def test_without_a_model_the_bundled_detector_classifies(tmp_path, faces) -> None:
    from synthface.pretrained import DEFAULT_DETECTOR_DIR

    photo = tmp_path / "photo.png"
    Image.fromarray(faces[6]).save(photo)
    result = _cli([str(photo), "--json"])
    (line,) = _json_lines(result.stdout)
    assert result.exit_code == 0 and line["classifier"]["model"] == str(DEFAULT_DETECTOR_DIR)
    assert 0.0 <= line["classifier"]["probability"] <= 1.0


def test_with_no_detector_at_all_images_without_provenance_are_not_classified(tmp_path, monkeypatch, faces) -> None:
    import synthface.pretrained

    monkeypatch.setattr(synthface.pretrained, "DEFAULT_DETECTOR_DIR", tmp_path / "no-bundled-detector")
    photo = tmp_path / "photo.png"
    Image.fromarray(faces[6]).save(photo)
    result = _cli([str(photo), "--json"])
    (line,) = _json_lines(result.stdout)
    assert result.exit_code == 0
    assert line["verdict"] == NO_EVIDENCE and line["classifier"] is None
    assert "no detector model" in result.stderr


def test_bad_model_and_threshold_give_one_line_errors(tmp_path, faces) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(faces[7]).save(photo)
    missing = _cli([str(photo), "--model", str(tmp_path / "no-model")])
    assert missing.exit_code == 2 and "no-model" in missing.stderr and "Traceback" not in missing.output
    assert _cli([str(photo), "--threshold", "1.5"]).exit_code == 2


def test_a_model_that_cannot_load_stops_the_run_with_one_line(tmp_path, faces) -> None:
    photo = tmp_path / "photo.png"
    Image.fromarray(faces[8]).save(photo)
    not_a_model = tmp_path / "empty-model"
    not_a_model.mkdir()
    result = _cli([str(photo), "--model", str(not_a_model)])
    assert result.exit_code == 2
    assert "is not a detector folder" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_model_from_the_hub_by_repo_id(hub_server, tmp_path, constant_model, faces) -> None:
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo("user/detector", exist_ok=True)
    api.upload_folder(folder_path=constant_model, repo_id="user/detector", commit_message="detector")
    photo = tmp_path / "photo.png"
    Image.fromarray(faces[9]).save(photo)
    (line,) = _json_lines(_cli([str(photo), "--json", "--model", "user/detector"]).stdout)
    assert line["verdict"] == "likely synthetic (classifier p=0.88)"
    assert line["classifier"]["model"] == "user/detector"
    missing = _cli([str(photo), "--model", "user/no-such-detector"])
    assert missing.exit_code == 2 and "user/no-such-detector" in missing.stderr
