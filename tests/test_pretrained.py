"""The models bundled in the package: present, small, self-describing, and doing their jobs."""

from __future__ import annotations

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from synthface.pretrained import DEFAULT_DETECTOR_DIR, DEFAULT_GENERATOR_DIR, default_detector_spec


def _app() -> typer.Typer:
    from synthface.cli import app

    return app


def test_bundled_generator_is_small_documented_and_guarded() -> None:
    from huggingface_hub import ModelCard

    from synthface.generator.sampling import load_generator
    from synthface.guard import load_guard

    G = load_generator()  # no spec: the bundled model
    assert G.img_resolution == 64 and G.img_channels == 3
    assert (DEFAULT_GENERATOR_DIR / "model.safetensors").stat().st_size < 30e6
    guard = load_guard(DEFAULT_GENERATOR_DIR)
    assert guard is not None and guard.info["num_images"] >= 18000, "the guard must cover all training photos"
    card = ModelCard.load(DEFAULT_GENERATOR_DIR / "README.md")
    assert "fid_10k" in card.text and "ai-generated" in card.data.tags


def test_environment_variable_replaces_the_bundled_generator(tmp_path, monkeypatch) -> None:
    from synthface.generator import Generator
    from synthface.generator.sampling import load_generator

    Generator(resolution=32, channel_base=256, channel_max=32, z_dim=16, w_dim=16,
              mapping_layers=1).save_pretrained(tmp_path / "mine")
    monkeypatch.setenv("SYNTHFACE_GENERATOR", str(tmp_path / "mine"))
    assert load_generator().img_resolution == 32


def test_first_command_on_a_fresh_machine_gives_signed_personas(isolated_home, tmp_path) -> None:
    """`synthface generate-personas --count N --out DIR` with no model, no keys, no set-up: all verify."""
    import datasets

    from synthface.provenance import trust_anchors_pem, verify_image

    out = tmp_path / "personas"
    result = CliRunner().invoke(_app(), ["generate-personas", "--count", "3", "--out", str(out), "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert (isolated_home / "keys").is_dir()
    rows = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(rows) == 3 and rows[0]["generator_id"] == DEFAULT_GENERATOR_DIR.name
    anchors = trust_anchors_pem()
    for index, row in enumerate(rows.cast_column("image", datasets.Image(decode=False))):
        path = tmp_path / f"{index}.png"
        path.write_bytes(row["image"]["bytes"])
        report = verify_image(path, anchors)
        assert report.signature_valid and report.signer_trusted and report.ai_generated


@pytest.mark.skipif(default_detector_spec() is None, reason="no bundled detector")
def test_bundled_detector_tells_bundled_faces_from_real_photos(few_face_files) -> None:
    from detectors.analysis import analyse_images
    from detectors.scoring import load_numpy_detector
    from synthface.generator.images import to_uint8
    from synthface.generator.sampling import load_generator
    from synthface.generator.seeds import z_from_seeds

    detector = load_numpy_detector(DEFAULT_DETECTOR_DIR)
    G = load_generator()
    fakes = [Image.fromarray(face) for face in to_uint8(G(z_from_seeds(range(16), G.z_dim), psi=0.7,
                                                          noise_mode="const"))]
    reals = [Image.open(path).convert("RGB") for path in few_face_files[::2][:16]]
    fake_p = [a.probability for a in analyse_images(fakes, detector, detector.heads) if a.probability is not None]
    real_p = [a.probability for a in analyse_images(reals, detector, detector.heads) if a.probability is not None]
    assert len(fake_p) >= 14 and len(real_p) >= 14  # dlib finds (nearly) every face
    assert np.mean(fake_p) > 0.5 > np.mean(real_p), (fake_p, real_p)


def test_bundled_generator_carries_its_discriminator() -> None:
    """`train --init-from bundled` goes on with the D that G was trained against, not a fresh one."""
    import copy

    from synthface.generator import Generator
    from synthface.generator.discriminator import Discriminator
    from synthface.training.warm_start import find_init_model, load_init_weights

    model = find_init_model("bundled")
    assert model.has_discriminator and model.kimg is not None
    G = Generator.from_pretrained(DEFAULT_GENERATOR_DIR)
    G_ema = copy.deepcopy(G)
    D = Discriminator.from_pretrained(DEFAULT_GENERATOR_DIR / "discriminator")
    for parameter in D.parameters():
        parameter.data.zero_()
    assert load_init_weights(model, G, G_ema, D)  # strict load of the exported weights
    assert any(parameter.abs().sum() > 0 for parameter in D.parameters())


def test_one_resolver_names_every_kind_of_model(tmp_path, monkeypatch, isolated_home) -> None:
    """"bundled", None, a run folder, a model folder and a missing path mean the same for every kind of
    model, through the command line and `from_pretrained` alike."""
    import shutil

    from typer.testing import CliRunner

    from detectors.model import SynthDetector
    from synthface.attributes.model import AttributeModel
    from synthface.cli import app
    from synthface.errors import SynthfaceError
    from synthface.generator import Generator
    from synthface.pretrained import DEFAULT_ATTRIBUTE_DIR, resolve_model_folder

    monkeypatch.delenv("SYNTHFACE_GENERATOR", raising=False)
    monkeypatch.delenv("SYNTHFACE_DETECTOR", raising=False)
    assert resolve_model_folder("bundled", "generator") == resolve_model_folder(None, "generator") == \
        DEFAULT_GENERATOR_DIR
    assert resolve_model_folder("bundled", "detector") == DEFAULT_DETECTOR_DIR
    assert resolve_model_folder(None, "attributes") == DEFAULT_ATTRIBUTE_DIR
    run = tmp_path / "run"
    shutil.copytree(DEFAULT_ATTRIBUTE_DIR, run / "attributes")
    assert resolve_model_folder(run, "attributes") == run / "attributes"
    assert resolve_model_folder(run / "attributes", "attributes") == run / "attributes"
    with pytest.raises(SynthfaceError, match="is not a detector folder"):
        resolve_model_folder(run, "detector")
    with pytest.raises(SynthfaceError, match="does not exist"):
        resolve_model_folder(tmp_path / "missing", "generator")
    assert isinstance(Generator.from_pretrained("bundled"), Generator)
    assert isinstance(SynthDetector.from_pretrained("bundled"), SynthDetector)
    assert isinstance(AttributeModel.from_pretrained("bundled"), AttributeModel)
    runner = CliRunner()
    result = runner.invoke(app, ["sample", "--model", "bundled", "--seeds", "0-1", "--out", str(tmp_path / "g.png")])
    assert result.exit_code == 0, result.output
    from synthface.provenance import trust_anchors_pem, verify_image

    grid = verify_image(tmp_path / "g.png", trust_anchors_pem())  # a grid says what it is, like every image
    assert grid.signature_valid and grid.signer_trusted and grid.ai_generated and grid.data_hash == "match"
    assert grid.synthface["grid"] == "seed grid" and grid.synthface["seeds"] == "0-1"
    result = runner.invoke(app, ["detect", str(tmp_path / "g.png"), "--model", "bundled", "--json"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["detect", str(tmp_path / "g.png"), "--model", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "does not exist" in result.output
    version = runner.invoke(app, ["--version"])
    assert version.exit_code == 0 and version.output.startswith("synthface ")
