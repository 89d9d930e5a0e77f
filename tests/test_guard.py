"""The memorisation guard: a training image planted among generated ones must be caught.

Both feature spaces are tested: pixels (the default) and Inception at its smallest input size
(a few dozen images keep it fast on the CPU).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from synthface.errors import SynthfaceError

TINY = dict(resolution=64, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32)
FAST = 75  # smallest Inception input: fastest guard for tests


@pytest.fixture(scope="module")
def real_faces(faces_dir, tmp_path_factory):
    from synthface.data import prepare_images

    prepared = prepare_images(faces_dir / "celeba" / "test", resolution=64, max_images=48, progress=False,
                              cache_dir=tmp_path_factory.mktemp("prep-cache"), num_workers=1)
    return prepared.images


@pytest.fixture(scope="module")
def tiny_generator():
    from synthface.generator import Generator

    torch.manual_seed(3)
    return Generator(**TINY).eval()


def _generated(G, seeds):
    from synthface.generator.images import to_uint8
    from synthface.generator.seeds import z_from_seeds

    with torch.no_grad():
        return torch.from_numpy(to_uint8(G(z_from_seeds(seeds, G.z_dim), psi=0.7))).permute(0, 3, 1, 2)


def test_planted_training_image_is_caught_and_new_images_pass(real_faces, tiny_generator, tmp_path):
    from synthface.guard import MemorisationGuard, build_guard
    from synthface.provenance import Payload, embed_watermark

    train, unseen = real_faces[:32], real_faces[32:]
    guard = build_guard(train, pca_dim=16, feature="inception", input_size=FAST, progress=False,
                        source="celeba/test")
    assert guard.bank.dtype == torch.float16 and guard.bank.shape == (32, 16)
    assert 0 < guard.threshold < guard.info["nn_distance_median"]
    loaded = MemorisationGuard.load(guard.save(tmp_path / "guard.safetensors"))
    assert loaded.threshold == guard.threshold and torch.equal(loaded.bank, guard.bank)

    planted = train[[3, 17]]
    marked = torch.from_numpy(
        np.stack([embed_watermark(img.permute(1, 2, 0).numpy(), Payload(7, 9)) for img in planted])
    ).permute(0, 3, 1, 2)
    batch = torch.cat([_generated(tiny_generator, range(6)), planted, marked, unseen[:4]])
    check = loaded.check(batch)
    assert check.flagged[6:8].all()
    assert check.nearest[6:10].tolist() == [3, 17, 3, 17]
    # Exact copies sit at ~0. Watermarked ones still name the right training image, but the mark
    # moves 64 px Inception features far enough that one can cross the line (docs/watermark-log.md):
    # personas are checked before they are marked (synthface.personas.pipeline), never after.
    assert check.distances[6:8].max() < 0.01 * loaded.threshold
    # No false-drop assertion here: 32 training images cannot calibrate a 1% quantile (it is
    # their minimum). benchmarks/generate_speed.py measures the false-drop rate on a real bank.


def test_pixel_guard_catches_shifted_mirrored_recompressed_copies(real_faces, tiny_generator, tmp_path):
    from synthface.guard import MemorisationGuard, build_guard, near_copies

    train, unseen = real_faces[:36], real_faces[36:]
    guard = MemorisationGuard.load(build_guard(train, pca_dim=16, progress=False).save(tmp_path / "g.safetensors"))
    assert guard.feature == "pixels" and guard.info["feature"].startswith("pixels/")
    copies = near_copies(train[:10])
    check = guard.check(torch.cat([copies, _generated(tiny_generator, range(4))]))
    assert check.flagged[:10].all() and check.nearest[:10].tolist() == list(range(10))
    assert not check.flagged[10:].any(), "an untrained generator's blobs are nobody's photo"
    # Different photos of other people mostly pass (36 photos calibrate the line only roughly).
    assert guard.check(unseen).flagged.mean() <= 0.25


def test_guard_in_the_pipeline_drops_copies_and_the_card_counts_them(tiny_generator, tmp_path, monkeypatch):
    """Treat seeds 2-4 of a model as its "training images": generating seeds 0-5 must drop exactly those."""
    import datasets
    from huggingface_hub import DatasetCard

    from synthface.guard import build_guard, guard_path
    from synthface.personas.pipeline import GenerateOptions, generate_personas
    from synthface.provenance import init_keys

    monkeypatch.setenv("SYNTHFACE_HOME", str(tmp_path / "home"))
    init_keys()
    model = tmp_path / "gen"
    tiny_generator.save_pretrained(model)
    noise = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (8, 3, 64, 64), dtype=np.uint8))
    training = torch.cat([_generated(tiny_generator, [2, 3, 4]), noise])
    guard = build_guard(training, pca_dim=8, feature="inception", input_size=FAST, progress=False)
    # Untrained outputs all look alike to Inception, so eleven "training images" cannot calibrate the
    # line; set it between exact copies (distance ~0) and other outputs of this model.
    others = guard.check(_generated(tiny_generator, [0, 1, 5])).distances
    guard.threshold = float(others.min()) / 2
    guard.save(guard_path(model))

    out = tmp_path / "ds"
    report = generate_personas(GenerateOptions(model=str(model), out=out, count=6, variants=1, shard_size=4,
                                               workers=0, progress=False))
    assert report.dropped_personas == 3 and report.personas == 3 and report.flagged_images == 3
    rows = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert sorted(rows["seed"]) == [0, 1, 5]
    assert all(d is not None and d > 0 for d in rows["guard_distance"])
    card = DatasetCard.load(out / "README.md").text
    assert "3 image(s) fell under it; their\n3 persona(s) (3 image(s)) were dropped" in card


def test_damaged_guard_file_is_one_clear_error(tmp_path):
    from synthface.guard import MemorisationGuard

    (tmp_path / "guard.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(SynthfaceError, match="build-guard"):
        MemorisationGuard.load(tmp_path / "guard.safetensors")
    with pytest.raises(SynthfaceError, match="at least 3"):
        from synthface.guard import build_guard

        build_guard(torch.zeros(2, 3, 64, 64, dtype=torch.uint8), progress=False)


def test_model_card_command_describes_the_guard_and_metrics(tiny_generator, tmp_path):
    """`synthface card` (what the bundled model's README.md comes from) states the guard and the scores."""
    import json

    import typer
    from huggingface_hub import ModelCard
    from typer.testing import CliRunner

    from synthface.guard import build_guard, guard_path
    from synthface.hub.commands import register

    model = tmp_path / "gen"
    tiny_generator.save_pretrained(model)
    (model / "metrics.json").write_text(json.dumps({"fid_10k": 42.5, "kimg": 126}))
    app = typer.Typer()
    register(app)
    without = CliRunner().invoke(app, ["card", str(model)])
    assert without.exit_code == 0, without.output
    assert "has no such guard" in (model / "README.md").read_text()

    training = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (12, 3, 64, 64), dtype=np.uint8))
    build_guard(training, pca_dim=4, progress=False).save(guard_path(model))
    result = CliRunner().invoke(app, ["card", str(model), "--repo", "me/faces"])
    assert result.exit_code == 0, result.output
    card = ModelCard.load(model / "README.md")
    assert "of 12 training images" in card.text and "has no such guard" not in card.text
    assert "| fid_10k | 42.5 |" in card.text and "me/faces" in card.text
    assert "ai-generated" in card.data.tags
    missing = CliRunner().invoke(app, ["card", str(tmp_path / "nothing")])
    assert missing.exit_code != 0 and "missing" in missing.output
