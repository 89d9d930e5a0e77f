"""The detector: canonical faces, the chain, toy training, thresholds, familiarity, evaluation, save/load."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from detectors.calibration import PlattCalibrator, fit_platt, reliability_bins
from detectors.chain import CONDITIONS, ChainConfig, apply_condition, training_view
from detectors.model import SynthDetector, load_detector
from detectors.outcomes import LIKELY_SYNTHETIC, NO_EVIDENCE, UNCERTAIN
from detectors.scoring import DetectorHeads
from detectors.training import TrainDetectorConfig, train_detector
from synthface.data.splits import assign_splits
from synthface.errors import SynthfaceError

TINY = {"widths": [8, 16, 16], "strides": [1, 2, 1]}
# The toy's trace is a fine periodic pattern; the full chain's heavy degradations would erase most of it.
GENTLE = ChainConfig(upscale_p=0.0, blur_p=0.0, noise_p=0.0, jpeg_p=0.3, jpeg_quality=(85, 100), palette_p=0.0,
                     gif_p=0.0, smallest_side=56)


def _with_upsampling_artefact(pixels: np.ndarray) -> np.ndarray:
    """The same picture as a naive 2x upsampler would make it: every 2x2 block is one pixel,
    and every other column is darkened -- a periodic trace like a transposed convolution's."""
    small = np.asarray(Image.fromarray(pixels).resize((pixels.shape[1] // 2, pixels.shape[0] // 2),
                                                      Image.Resampling.BILINEAR))
    up = np.repeat(np.repeat(small, 2, axis=0), 2, axis=1).astype(np.float32)
    up[:, 1::2] *= 0.85
    return up.astype(np.uint8)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models on a shared 2-core machine: one thread is many times faster than two that contend."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def toy_pair(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Real LFW photos (128 px face crops) vs the same photos with a periodic upsampling artefact,
    one folder per person, so the split keeps people apart."""
    root = tmp_path_factory.mktemp("toy")
    files = sorted((faces_dir / "lfw").rglob("*.jpg"))[:600:4]
    for path in files:
        person = path.parent.name
        with Image.open(path) as image:
            face = np.asarray(image.convert("RGB").crop((45, 45, 205, 205)).resize((128, 128),
                                                                                   Image.Resampling.LANCZOS))
        for kind, pixels in (("real", face), ("fake", _with_upsampling_artefact(face))):
            (root / kind / person).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / kind / person / f"{path.stem}.png")
    return root / "fake", root / "real"


@pytest.fixture(scope="module")
def toy_run(toy_pair, tmp_path_factory: pytest.TempPathFactory):
    fake, real = toy_pair
    out = tmp_path_factory.mktemp("run")
    config = TrainDetectorConfig(fake=[str(fake)], real=[str(real)], out=str(out), steps=60, batch=16,
                                 working_size=64, lr=3e-3, checkpoint_every=30, progress=False, num_workers=1,
                                 calibration_views=1, chain=GENTLE, **TINY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNTHFACE_CACHE", str(tmp_path_factory.mktemp("cache")))
        return config, train_detector(config)


def test_similarity_transform_recovers_a_rotation_scale_and_shift() -> None:
    from synthface.faces import TEMPLATE, similarity_transform

    angle, scale, shift = 0.3, 180.0, np.array([40.0, -12.0])
    rotation = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = TEMPLATE @ rotation.T + shift
    matrix = similarity_transform(points, TEMPLATE)
    np.testing.assert_allclose(points @ matrix[:, :2].T + matrix[:, 2], TEMPLATE, atol=1e-9)
    # A mirror image is not fitted by a reflection: the fit stays a proper rotation.
    assert np.linalg.det(similarity_transform(points * [-1, 1], TEMPLATE)[:, :2]) > 0


def test_the_canonical_view_does_not_depend_on_photo_size_or_framing(faces_dir: Path) -> None:
    """The same face at 64, 256 and 1024 px, framed tightly or with a wide border, gives the same view."""
    from detectors.analysis import face_view

    with Image.open(faces_dir / "lfw" / "Abba_Eban" / "Abba_Eban_0001.jpg") as image:
        photo = image.convert("RGB")
    reference, count, face = face_view(photo, 64)
    assert reference is not None and count == 1 and 30 < face.eye_distance < 60
    bordered = Image.new("RGB", (500, 400), (20, 90, 30))
    bordered.paste(photo, (180, 40))
    for variant in (photo.resize((64, 64), Image.Resampling.LANCZOS), photo.resize((1024, 1024)),
                    photo.crop((40, 40, 210, 230)), bordered):
        view, _, _ = face_view(variant, 64)
        assert view is not None and view.shape == (64, 64, 3)
        difference = np.abs(view.astype(float) - reference.astype(float)).mean()
        assert difference < 14, difference  # resampling and landmark jitter only; unrelated faces differ by ~50
    nothing, count, _ = face_view(Image.new("RGB", (300, 200), (120, 130, 140)), 64)
    assert nothing is None and count == 0


def test_training_views_and_conditions_keep_images_usable() -> None:
    rng = np.random.default_rng(3)
    region = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    views = [training_view(region, 0.25, 64, rng, ChainConfig(palette_p=0.3, gif_p=0.3)) for _ in range(40)]
    assert {v.shape for v in views} == {(64, 64, 3)} and all(v.dtype == np.uint8 for v in views)
    assert len({v.tobytes() for v in views}) == 40  # every view is a new variant
    image = Image.fromarray(region)
    sizes = {name: apply_condition(image, name).size for name in CONDITIONS}
    assert sizes == {"clean": (96, 96), "jpeg75": (96, 96), "resize0.5": (48, 48), "resize2": (192, 192)}
    assert not np.array_equal(np.asarray(apply_condition(image, "jpeg75")), region)


def test_source_size_is_drawn_alike_for_every_face() -> None:
    """Large and small sources end up in the same range of detail: both are shrunk to a log-uniform
    size of at most twice the working size, whatever they started at."""
    from detectors import chain

    seen: list[float] = []
    original = chain.rescale

    def spy(image, factor, resample=Image.Resampling.BICUBIC):
        seen.append(image.width * factor / 1.5)
        return original(image, factor, resample)

    config = ChainConfig(upscale_p=0.0, jpeg_p=0.0, palette_p=0.0, gif_p=0.0, blur_p=0.0, noise_p=0.0,
                         tight_crop_p=0.0)
    rng = np.random.default_rng(0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chain, "rescale", spy)
        for _ in range(300):
            chain.training_view(np.zeros((192, 192, 3), np.uint8), 0.25, 64, rng, config)
    sides = np.array(seen)
    assert 0.8 < len(sides) / 300 <= 1.0 and sides.min() >= 31 and sides.max() <= 128
    assert 0.4 < np.mean(sides < 64) < 0.6  # log-uniform over 32..128: half below 64


def test_heads_say_uncertain_between_thresholds_and_for_unfamiliar_images() -> None:
    heads = DetectorHeads(PlattCalibrator(1.0, 0.0), 0.2, 0.9, 0.01, np.zeros(2), np.eye(2), 3.0)
    assert heads.outcome(0.95, 1.0)[0] == LIKELY_SYNTHETIC
    assert heads.outcome(0.1, 1.0)[0] == NO_EVIDENCE
    assert heads.outcome(0.5, 1.0)[0] == UNCERTAIN
    outcome, reason = heads.outcome(0.99, 4.0)
    assert outcome == UNCERTAIN and "unfamiliar" in reason
    assert heads.outcome(0.01, 4.0)[0] == UNCERTAIN
    np.testing.assert_allclose(heads.distances(np.array([[3.0, 4.0], [0.0, 0.0]])), [5.0, 0.0])


def test_toy_detector_beats_chance_on_held_out_people(toy_run, toy_pair, tmp_path) -> None:
    from detectors.data import eval_source
    from detectors.evaluation import evaluate_detector, write_report

    config, folder = toy_run
    model = load_detector(folder.parent)  # a run folder works too
    assert model.training_sources == {"real": ["real"], "fake": ["fake"]}
    fake, real = toy_pair
    seen = {"real", "fake"}
    sources = [eval_source(str(real), True, seen), eval_source(str(fake), False, seen)]
    assert all(len(source.names) >= 10 for source in sources)
    report = evaluate_detector(model, model.heads(), sources, conditions=("clean", "jpeg75"), progress=False)
    clean = report["conditions"]["clean"]
    assert clean["fake"]["roc_auc"] > 0.8, clean
    assert clean["real"]["flagged"] <= 0.15 and clean["fake"]["flagged"] > clean["real"]["flagged"]
    shares = sum(clean["real"][key] for key in ("flagged", "uncertain", "no_evidence", "no_face"))
    assert shares == pytest.approx(1.0)
    write_report(report, tmp_path / "report")
    saved = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert set(saved["conditions"]) == {"clean", "jpeg75"} and saved["sources"]["fake"]["seen"] is True
    assert "| fake | fake | jpeg75 |" in (tmp_path / "report" / "evaluation.md").read_text()
    summary = json.loads((Path(config.out) / "training_summary.json").read_text())
    assert summary["steps"] == 60 and summary["data"]["real"]["test"] == len(sources[0].names)
    # The thresholds were chosen on held-out people: few of their real views reach "likely synthetic".
    assert summary["threshold_real"] <= summary["threshold_synthetic"]
    assert summary["val_sources"]["real"]["flagged"] <= 0.05


def test_numpy_scorer_gives_the_torch_models_scores(toy_run) -> None:
    """`detect` scores with numpy (no torch import); it must be the same detector, number for number."""
    from detectors.scoring import load_numpy_detector

    _, folder = toy_run
    torch_model, numpy_model = load_detector(folder), load_numpy_detector(folder)
    views = np.random.default_rng(3).integers(0, 256, size=(5, 64, 64, 3), dtype=np.uint8)
    expected, got = torch_model.score_views(views), numpy_model.score_views(views)
    np.testing.assert_allclose(got.logit, expected.logit, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(got.probability, expected.probability, atol=1e-5)
    np.testing.assert_allclose(got.distance, expected.distance, rtol=1e-4)
    assert numpy_model.heads.summary() == torch_model.heads().summary()


def test_training_resumes_from_its_checkpoint(toy_pair, tmp_path, monkeypatch) -> None:
    from detectors.training import load_training_data, make_batch

    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "cache"))
    fake, real = toy_pair
    config = TrainDetectorConfig(fake=[str(fake)], real=[str(real)], out=str(tmp_path / "run"), steps=4,
                                 batch=8, checkpoint_every=2, progress=False, calibration_views=0, max_images=80,
                                 num_workers=1, **TINY)
    data = load_training_data(config)
    train_detector(config, data=data)
    with pytest.raises(SynthfaceError, match="--resume"):
        train_detector(config, data=data)
    config.steps = 6
    train_detector(config, resume=True, data=data)
    checkpoints = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint-000000004.safetensors", "checkpoint-000000006.safetensors"]
    assert json.loads((tmp_path / "run" / "training_summary.json").read_text())["steps"] == 6
    # A batch is a function of (seed, step): the resumed run saw exactly the batches it would have.
    splits = ([b.split_indices() for b in data.reals], [b.split_indices() for b in data.fakes])
    first, again = make_batch(data, config, *splits, 5), make_batch(data, config, *splits, 5)
    np.testing.assert_array_equal(first[0], again[0])
    assert not np.array_equal(first[0], make_batch(data, config, *splits, 4)[0])


def test_fake_weights_set_each_generators_share_of_a_batch(tmp_path) -> None:
    from detectors.training import TrainingData, check_config, make_batch
    from synthface.facebank import FaceBank

    def bank(label: str, value: int) -> FaceBank:
        names = [f"{i}.png" for i in range(40)]
        return FaceBank(label, label, names, np.full((40, 24, 24, 3), value, np.uint8), np.full(40, 24, np.int32),
                        np.full(40, 16.0, np.float32), [])

    data = TrainingData([bank("real", 128)], [bank("a", 255), bank("b", 0)])
    config = TrainDetectorConfig(fake=["a", "b"], real=["real"], out=str(tmp_path), batch=400, working_size=32,
                                 fake_weights=[3.0, 1.0], chain=ChainConfig(jpeg_p=0.0, palette_p=0.0, gif_p=0.0,
                                                                            tight_crop_p=0.0))
    splits = ([b.split_indices() for b in data.reals], [b.split_indices() for b in data.fakes])
    views, labels = make_batch(data, config, *splits, 0)
    from_a = (views[labels == 1].reshape(200, -1).mean(axis=1) > 128).mean()
    assert 0.68 < from_a < 0.82  # 3 of 4 generated faces come from "a"
    for bad in ([1.0], [1.0, -1.0], [0.0, 0.0]):
        config.fake_weights = bad
        with pytest.raises(SynthfaceError, match="--fake-weights"):
            check_config(config)


def test_calibration_maps_to_unit_interval_and_is_monotone() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 400)
    scores = labels * 2.0 + rng.normal(0, 1.5, 400)
    calibrator = fit_platt(scores, labels)
    grid = np.linspace(-1e3, 1e3, 20001)
    probabilities = calibrator(grid)
    assert calibrator.slope > 0
    assert np.all((probabilities >= 0) & (probabilities <= 1)) and np.all(np.diff(probabilities) >= 0)
    assert probabilities[0] < 0.01 and probabilities[-1] > 0.99
    assert PlattCalibrator.from_dict(json.loads(json.dumps(calibrator.to_dict()))) == calibrator
    # An anti-informative score is not turned upside down: it gets 0.5 (equal priors) everywhere.
    flat = fit_platt(-scores, labels)
    assert flat.slope == 0.0 and np.allclose(flat(grid), 0.5)
    with pytest.raises(ValueError, match="both classes"):
        fit_platt(scores, np.ones(400))
    rows = reliability_bins(calibrator(scores), labels)
    assert sum(row["count"] for row in rows) == 400


def test_the_detector_saves_and_loads_itself(tmp_path) -> None:
    torch.manual_seed(0)
    model = SynthDetector(working_size=48, training_sources={"real": ["a"], "fake": ["b"]}, **TINY)
    views = np.random.default_rng(2).integers(0, 256, (4, 48, 48, 3), dtype=np.uint8)
    heads = DetectorHeads(PlattCalibrator(2.0, 0.5), 0.3, 0.8, 0.01, np.ones(16), np.eye(16) * 2, 5.0)
    model.set_heads(heads)
    scores = model.score_views(views)
    assert scores.probability.shape == (4,) and np.all((scores.probability >= 0) & (scores.probability <= 1))
    model.save_pretrained(str(tmp_path / "det"))
    config = json.loads((tmp_path / "det" / "config.json").read_text())
    assert config["widths"] == TINY["widths"] and config["working_size"] == 48
    loaded = load_detector(tmp_path / "det")
    np.testing.assert_allclose(loaded.score_views(views).probability, scores.probability, rtol=1e-5)
    assert loaded.heads().summary() == heads.summary() and loaded.training_sources == {"real": ["a"], "fake": ["b"]}

    SynthDetector(**TINY).save_pretrained(str(tmp_path / "raw"))
    with pytest.raises(SynthfaceError, match="never calibrated"):
        load_detector(tmp_path / "raw")
    with pytest.raises(SynthfaceError, match="not a detector folder"):
        load_detector(tmp_path)


def test_a_detector_with_missing_tensors_is_refused(tmp_path) -> None:
    from safetensors.torch import load_file, save_file

    from detectors.scoring import load_numpy_detector

    model = SynthDetector(**TINY)
    model.set_heads(DetectorHeads(PlattCalibrator(1.0, 0.0), 0.3, 0.8, 0.01, np.zeros(16), np.eye(16), 5.0))
    model.save_pretrained(str(tmp_path / "det"))
    weights = tmp_path / "det" / "model.safetensors"
    tensors = load_file(str(weights))
    save_file({k: v for k, v in tensors.items() if not k.startswith("features.1.")}, str(weights))
    with pytest.raises(SynthfaceError, match="cannot load detector"):
        load_detector(tmp_path / "det")
    with pytest.raises(SynthfaceError, match="cannot load detector"):
        load_numpy_detector(tmp_path / "det")


def test_splits_keep_people_apart_even_across_a_datasets_own_folders() -> None:
    """CelebA's train/ and test/ folders hold the same 200 people: each person goes to one split."""
    names = [f"lfw/person_{p}/person_{p}_{i:04d}.jpg" for p in range(300) for i in range(3)]
    names += [f"celeba/{part}/celeb_{c}/{part}{i}.jpg" for part in ("train", "test") for c in range(60)
              for i in range(2)]
    splits = assign_splits(names)
    by_person: dict[str, set[str]] = {}
    for name, split in zip(names, splits, strict=True):
        by_person.setdefault(name.split("/")[-2], set()).add(split)
    assert all(len(s) == 1 for s in by_person.values())
    lfw = [s for n, s in zip(names, splits, strict=True) if n.startswith("lfw")]
    assert {"train", "val", "test"} <= set(lfw) and 0.6 < lfw.count("train") / len(lfw) < 0.8
    assert {s for n, s in zip(names, splits, strict=True) if n.startswith("celeba/test")} == {"train", "val", "test"}
    flat = assign_splits([f"seed{i:07d}.png" for i in range(500)])
    assert {"train", "val", "test"} == set(flat)
    declared = assign_splits([f"test/{i}.png" for i in range(3)] + [f"train/{i}.png" for i in range(30)])
    assert declared[:3] == ["test"] * 3 and set(declared[3:]) == {"train", "val"}
    assert assign_splits(names) == splits  # stable


def _cli(args: list[str]):
    import typer
    from typer.testing import CliRunner

    from detectors.commands import register

    app = typer.Typer()
    register(app)
    return CliRunner().invoke(app, args)


def test_eval_and_train_commands(toy_run, toy_pair, tmp_path, monkeypatch) -> None:
    config, folder = toy_run
    fake, real = toy_pair
    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "cache"))
    with Image.open(next(real.rglob("*.png"))) as image:  # a third source the detector never saw
        (tmp_path / "other").mkdir()
        for index in range(12):
            image.rotate(index).save(tmp_path / "other" / f"{index}.jpg")
    result = _cli(["eval-detector", "--model", str(folder), "--fake", str(fake), "--real", str(real),
                   "--real", str(tmp_path / "other"), "--out", str(tmp_path / "report"), "--limit", "12",
                   "--condition", "clean", "--condition", "resize2"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report" / "evaluation.json").read_text())
    assert set(report["conditions"]) == {"clean", "resize2"}
    assert report["sources"]["other"] == {"class": "real", "seen": False, "images": 12, "unreadable": 0}
    assert report["sources"]["real"]["seen"] and report["sources"]["real"]["images"] == 12
    for rows in report["conditions"].values():
        for row in rows.values():
            assert all(0.0 <= value <= 1.0 for value in row.values())
    assert "| other (unseen) | real | resize2 | 12 |" in result.output

    saved = _cli(["eval-detector", "--model", str(folder), "--fake", str(fake), "--real", str(real),
                  "--out", str(tmp_path / "r1"), "--limit", "10", "--condition", "clean", "--save-to-model"])
    assert saved.exit_code == 0, saved.output
    assert (folder / "evaluation.md").read_text() == (tmp_path / "r1" / "evaluation.md").read_text()

    again = _cli(["train-detector", "--fake", str(fake), "--real", str(real), "--out", config.out])
    assert again.exit_code == 2 and "--resume" in again.output and "Traceback" not in again.output
    bad = _cli(["eval-detector", "--model", str(folder), "--fake", str(fake), "--real", str(real),
                "--out", str(tmp_path / "r2"), "--condition", "sepia"])
    assert bad.exit_code == 2 and "--condition" in bad.output


def test_make_fakes_writes_one_png_per_seed(tmp_path, isolated_home) -> None:
    """One PNG per seed, each C2PA-signed as AI-generated (trusted with synthface's own CA) and never
    watermarked, so that the detector learns the generator's traces, not our mark."""
    from synthface.generator import Generator
    from synthface.provenance import trust_anchors_pem, verify_image

    torch.manual_seed(0)
    Generator(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=32
              ).save_pretrained(str(tmp_path / "gen"))
    result = _cli(["make-fakes", "--model", str(tmp_path / "gen"), "--out", str(tmp_path / "fakes"),
                   "--count", "6", "--psi", "0.5,1.0", "--mixing", "0.5"])
    assert result.exit_code == 0, result.output
    files = sorted(p.name for p in (tmp_path / "fakes").iterdir())
    assert len(files) == 6 and files[0].startswith("seed0000000_psi0.50")
    assert {name.split("_")[1][:7] for name in files} == {"psi0.50", "psi1.00"}
    assert any("_mix" in name for name in files)
    with Image.open(tmp_path / "fakes" / files[0]) as image:
        assert image.size == (16, 16) and image.mode == "RGB"
    big = tmp_path / "big"
    Generator(resolution=64, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=32
              ).save_pretrained(str(big))
    assert _cli(["make-fakes", "--model", str(big), "--out", str(tmp_path / "f64"), "--count", "2"]).exit_code == 0
    for path in sorted((tmp_path / "f64").iterdir()):
        report = verify_image(path, trust_anchors_pem())
        assert report.signature_valid and report.signer_trusted and report.ai_generated, report
        assert report.data_hash == "match" and report.watermark_found is False and report.manifest_payload is None
    assert _cli(["make-fakes", "--generator", str(tmp_path / "gen"), "--out", str(tmp_path / "x"),
                 "--psi", "fast"]).exit_code == 2


def test_a_new_run_can_start_from_a_trained_detector(toy_run, toy_pair, tmp_path) -> None:
    """--init-from: one more leg on a new generator's faces starts from the detector's CNN, not from
    random weights; settings that change the CNN's shape are refused with the option named."""
    from detectors.training import TrainingData, _start_model

    config, folder = toy_run
    fake, real = toy_pair
    trained = load_detector(folder)
    data = TrainingData([], [])
    leg = TrainDetectorConfig(fake=[str(fake)], real=[str(real)], out=str(tmp_path / "leg"), init_from=str(folder),
                              **TINY)
    started = _start_model(leg, data)
    for name, tensor in trained.state_dict().items():
        assert torch.equal(started.state_dict()[name], tensor), name
    fresh = _start_model(TrainDetectorConfig(fake=[str(fake)], real=[str(real)], out="x", **TINY), data)
    assert not torch.equal(fresh.state_dict()["features.0.0.weight"], trained.state_dict()["features.0.0.weight"])
    wider = TrainDetectorConfig(fake=[str(fake)], real=[str(real)], out="y", init_from=str(folder),
                                working_size=96, **TINY)
    with pytest.raises(SynthfaceError, match="--working-size 96 differs from the --init-from detector's 64"):
        _start_model(wider, data)


@pytest.mark.parametrize("damage", ["list", "huge-widths", "truncated-weights"])
def test_a_damaged_detector_folder_is_refused_by_both_backends(tmp_path, damage) -> None:
    from detectors.scoring import load_numpy_detector

    folder = tmp_path / "det"
    model = SynthDetector(**TINY)
    model.set_heads(DetectorHeads(PlattCalibrator(1.0, 0.0), 0.3, 0.8, 0.01, np.zeros(16), np.eye(16), 5.0))
    model.save_pretrained(str(folder))
    config = json.loads((folder / "config.json").read_text())
    if damage == "list":
        (folder / "config.json").write_text("[]")
    elif damage == "huge-widths":
        (folder / "config.json").write_text(json.dumps({**config, "widths": [8, 16, 100_000]}))
    else:
        (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:100])
    for load in (load_detector, load_numpy_detector):
        with pytest.raises(SynthfaceError, match="cannot load detector") as info:
            load(folder)
        assert "\n" not in str(info.value)
