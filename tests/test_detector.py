"""The detector: toy training beats chance, calibration, spectral features, splits, save/load, evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from detectors.augment import CONDITIONS, AugmentConfig, apply_condition, augment
from detectors.calibration import PlattCalibrator, fit_platt, reliability_bins
from detectors.model import SynthDetector, load_detector
from detectors.spectral import feature_length, spectral_features
from detectors.splits import assign_splits
from detectors.training import TrainDetectorConfig, train_detector
from synthface.errors import SynthfaceError

TINY = {"widths": [8, 16, 16], "strides": [1, 2, 1]}


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
    """Real LFW photos at 64 px vs the same photos with a periodic upsampling artefact,
    one folder per person, so the split keeps people apart."""
    root = tmp_path_factory.mktemp("toy")
    files = sorted((faces_dir / "lfw").rglob("*.jpg"))[:480:4]
    for path in files:
        person = path.parent.name
        with Image.open(path) as image:
            face = np.asarray(image.convert("RGB").crop((50, 58, 200, 208)).resize((64, 64),
                                                                                  Image.Resampling.LANCZOS))
        for kind, pixels in (("real", face), ("fake", _with_upsampling_artefact(face))):
            (root / kind / person).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pixels).save(root / kind / person / f"{path.stem}.png")
    return root / "fake", root / "real"


@pytest.fixture(scope="module")
def toy_run(toy_pair, tmp_path_factory: pytest.TempPathFactory):
    fake, real = toy_pair
    out = tmp_path_factory.mktemp("run")
    config = TrainDetectorConfig(fake=[str(fake)], real=str(real), out=str(out), steps=40, batch=16, crop=32,
                                 lr=3e-3, checkpoint_every=20, progress=False, num_workers=1,
                                 calibration_views=1, native_resolution=None, **TINY)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNTHFACE_CACHE", str(tmp_path_factory.mktemp("cache")))
        return config, train_detector(config)


def test_toy_detector_beats_chance_on_held_out_people(toy_run, toy_pair, tmp_path, monkeypatch) -> None:
    from detectors.data import load_split_source
    from detectors.evaluation import evaluate_detector, write_report

    config, folder = toy_run
    model = load_detector(folder.parent)  # a run folder works too
    fake, real = toy_pair
    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "cache"))
    reals = load_split_source(real, 64, progress=False, num_workers=1)
    fakes = [load_split_source(fake, 64, progress=False, num_workers=1)]
    assert len(reals.splits["test"]) >= 10
    report = evaluate_detector(model, reals, fakes, conditions=("clean", "jpeg75"), progress=False)
    clean = report["conditions"]["clean"]["fake"]
    assert clean["combined"]["roc_auc"] > 0.8, clean
    assert clean["combined"]["accuracy"] > 0.6
    assert clean["cnn"]["roc_auc"] > 0.6 and clean["spectral"]["roc_auc"] > 0.6
    written = write_report(report, tmp_path / "report")
    saved = json.loads((tmp_path / "report" / "report.json").read_text())
    assert set(saved["conditions"]) == {"clean", "jpeg75"} and "_curves" not in saved
    for name in ("roc_fake.png", "reliability.png"):
        assert (tmp_path / "report" / name) in written
        with Image.open(tmp_path / "report" / name) as image:
            assert image.size[0] > 200
    summary = json.loads((Path(config.out) / "training_summary.json").read_text())
    assert summary["steps"] == 40 and summary["data"]["real"]["test"] == len(reals.splits["test"])


def test_numpy_scorer_gives_the_torch_models_scores(toy_run) -> None:
    """`detect` scores with numpy (no torch import); it must be the same detector, number for number."""
    from detectors.scoring import TILE, load_numpy_detector

    _, folder = toy_run
    torch_model, numpy_model = load_detector(folder), load_numpy_detector(folder)
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, size=shape, dtype=np.uint8)
              for shape in [(64, 64, 3)] * 3 + [(37, 53, 3), (TILE + 40, TILE + 9, 3)]]
    expected, got = torch_model.score_images(images), numpy_model.score_images(images)
    np.testing.assert_allclose(got.cnn_logit, expected.cnn_logit, atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(got.probability, expected.probability, atol=1e-5)
    np.testing.assert_array_equal(got.scored_side, expected.scored_side)
    assert numpy_model.threshold == torch_model.threshold


def test_working_view_scales_only_larger_images_to_the_working_side() -> None:
    from detectors.scoring import working_view

    assert working_view(np.zeros((128, 200, 3), np.uint8), 128) is None
    view = working_view(np.zeros((512, 1024, 3), np.uint8), 128)
    assert view is not None and view.shape == (128, 256, 3) and view.dtype == np.uint8


def test_large_images_keep_the_more_confident_of_native_and_working_scale() -> None:
    """A scorer that trusts small views: large images take the working view's score, small ones their own."""
    from detectors.scoring import DetectorScores, score_with_working_views

    def by_size(images: list[np.ndarray]) -> DetectorScores:
        sides = np.array([min(image.shape[:2]) for image in images])
        probability = np.where(sides <= 64, 0.9, 0.2)  # native large images look real to it
        logit = np.log(probability / (1 - probability))
        return DetectorScores(logit, logit, probability, probability, probability.copy(), sides)

    images = [np.zeros((48, 48, 3), np.uint8), np.zeros((300, 256, 3), np.uint8), np.zeros((96, 96, 3), np.uint8)]
    scores = score_with_working_views(by_size, images, working_side=64)
    np.testing.assert_allclose(scores.probability, [0.9, 0.9, 0.9])
    np.testing.assert_array_equal(scores.scored_side, [48, 64, 64])
    native = score_with_working_views(by_size, images, working_side=None)
    np.testing.assert_allclose(native.probability, [0.9, 0.2, 0.2])
    np.testing.assert_array_equal(native.scored_side, [48, 256, 96])

    def trusts_large(images: list[np.ndarray]) -> DetectorScores:
        flipped = by_size(images)
        flipped.probability = 1.0 - flipped.probability
        return flipped

    kept = score_with_working_views(trusts_large, images, working_side=64)
    np.testing.assert_allclose(kept.probability, [0.1, 0.8, 0.8])  # the native score was higher: kept
    np.testing.assert_array_equal(kept.scored_side, [48, 256, 96])


def test_training_resumes_from_its_checkpoint(toy_pair, tmp_path, monkeypatch) -> None:
    from detectors.data import load_split_source
    from detectors.training import TrainingData

    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "cache"))
    fake, real = toy_pair
    options = {"max_images": 60, "progress": False, "num_workers": 1}
    data = TrainingData(load_split_source(real, 64, **options), [load_split_source(fake, 64, **options)],
                        native_reals=load_split_source(real, 96, **options))
    config = TrainDetectorConfig(fake=[str(fake)], real=str(real), out=str(tmp_path / "run"), steps=4,
                                 batch=8, checkpoint_every=2, progress=False, calibration_views=0, **TINY)
    train_detector(config, data=data)
    with pytest.raises(SynthfaceError, match="--resume"):
        train_detector(config, data=data)
    config.steps = 6
    train_detector(config, resume=True, data=data)
    checkpoints = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert checkpoints == ["checkpoint-000000004.safetensors", "checkpoint-000000006.safetensors"]
    assert json.loads((tmp_path / "run" / "training_summary.json").read_text())["steps"] == 6


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
    # The diagram weighs the classes equally: three copies of every fake change nothing.
    tripled = np.concatenate([scores, np.repeat(scores[labels == 1], 2)])
    tripled_labels = np.concatenate([labels, np.ones(2 * int(labels.sum()), dtype=labels.dtype)])
    again = reliability_bins(calibrator(tripled), tripled_labels)
    fractions = [round(r["fraction_synthetic"], 9) for r in rows]
    assert [round(r["fraction_synthetic"], 9) for r in again] == fractions


def test_spectral_features_have_one_length_at_every_size() -> None:
    rng = np.random.default_rng(1)
    lengths = {spectral_features(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), 16).shape
               for h, w in ((16, 16), (32, 32), (64, 64), (80, 100), (600, 400))}
    assert lengths == {(feature_length(16),)}
    flat = np.full((64, 64, 3), 128, np.uint8)
    assert np.isfinite(spectral_features(flat, 16)).all()
    with pytest.raises(ValueError, match="too small"):
        spectral_features(flat[:8, :8], 16)


def test_the_cnn_scores_any_size_and_saves_and_loads_itself(tmp_path) -> None:
    torch.manual_seed(0)
    model = SynthDetector(spectral_bins=8, **TINY)
    rng = np.random.default_rng(2)
    images = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((64, 64, 3), (256, 256, 3),
                                                                         (40, 70, 3), (64, 64, 3))]
    assert model.patch_logits(torch.zeros(1, 3, 64, 64)).shape == (1, 32, 32)
    head = {"mean": np.zeros(16), "scale": np.ones(16), "coef": rng.normal(size=16), "intercept": np.zeros(1)}
    model.set_heads(head, PlattCalibrator(2.0, 0.5), PlattCalibrator(1.0, 0.0), (1.0, 0.5, 0.0))
    scores = model.score_images(images)
    assert scores.probability.shape == (4,) and np.all((scores.probability >= 0) & (scores.probability <= 1))
    with pytest.raises(SynthfaceError, match="too small"):
        model.score_images([np.zeros((8, 8, 3), np.uint8)])
    # A large photo is scored in tiles; the result stays close to one full-image pass.
    large = rng.integers(0, 256, (600, 530, 3), dtype=np.uint8)
    with torch.no_grad():
        full = float(model.eval()(torch.from_numpy(large).permute(2, 0, 1)[None].float() / 127.5 - 1.0))
    assert model.cnn_logits_uint8([large])[0] == pytest.approx(full, abs=0.05 * (1 + abs(full)))

    model.save_pretrained(str(tmp_path / "det"))
    config = json.loads((tmp_path / "det" / "config.json").read_text())
    assert config["widths"] == TINY["widths"] and config["spectral_bins"] == 8
    loaded = load_detector(tmp_path / "det")
    np.testing.assert_allclose(loaded.score_images(images).probability, scores.probability, rtol=1e-5)

    SynthDetector(spectral_bins=8, **TINY).save_pretrained(str(tmp_path / "raw"))
    with pytest.raises(SynthfaceError, match="never calibrated"):
        load_detector(tmp_path / "raw")
    with pytest.raises(SynthfaceError, match="not a detector folder"):
        load_detector(tmp_path)


def test_splits_keep_people_apart_and_respect_declared_folders() -> None:
    names = [f"lfw/person_{p}/person_{p}_{i:04d}.jpg" for p in range(300) for i in range(3)]
    names += [f"celeba/test/celeb_{c}/{i}.jpg" for c in range(10) for i in range(2)]
    names += [f"celeba/train/celeb_{c}/{i}.jpg" for c in range(40) for i in range(2)]
    splits = assign_splits(names)
    by_person: dict[str, set[str]] = {}
    for name, split in zip(names, splits, strict=True):
        by_person.setdefault(name.split("/")[1], set()).add(split)
    assert all(len(s) == 1 for person, s in by_person.items() if person.startswith("person_"))
    lfw = [s for n, s in zip(names, splits, strict=True) if n.startswith("lfw")]
    assert {"train", "val", "test"} <= set(lfw) and 0.6 < lfw.count("train") / len(lfw) < 0.8
    assert all(s == "test" for n, s in zip(names, splits, strict=True) if n.startswith("celeba/test"))
    assert {s for n, s in zip(names, splits, strict=True) if n.startswith("celeba/train")} == {"train", "val"}
    flat = assign_splits([f"seed{i:07d}.png" for i in range(500)])
    assert {"train", "val", "test"} == set(flat)
    assert assign_splits(names) == splits  # stable


def test_augmentation_and_conditions_keep_images_usable() -> None:
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    views = [augment(pixels, 32, rng, AugmentConfig()) for _ in range(30)]
    assert {v.shape for v in views} == {(32, 32, 3)} and all(v.dtype == np.uint8 for v in views)
    sizes = {name: apply_condition(pixels, name).shape for name in CONDITIONS}
    assert sizes["clean"] == sizes["jpeg50"] == sizes["blur1"] == (64, 64, 3)
    assert sizes["resize0.5"] == (32, 32, 3) and sizes["crop10"] == (58, 58, 3)
    assert not np.array_equal(apply_condition(pixels, "jpeg50"), pixels)


def test_rescaling_halves_as_often_as_it_doubles() -> None:
    """Rescale factors are log-uniform over [0.5, 2]: profile pictures are mostly downscaled,
    and uniform draws left 0.5x views so rare that halved images fooled the detector."""
    from detectors.augment import degrade

    rng = np.random.default_rng(4)
    config = AugmentConfig(blur_p=0.0, jpeg_p=0.0, resize_p=1.0)
    sides = np.array([degrade(np.zeros((100, 100, 3), np.uint8), rng, config).shape[0] for _ in range(2000)])
    assert sides.min() >= 50 and sides.max() <= 200
    assert 0.45 < np.mean(sides < 100) < 0.55  # log-uniform: as many downscales as upscales
    assert 0.10 < np.mean(sides <= 60) < 0.16  # ln(1.2) / ln(4) = 13% near 0.5x (uniform gave 3%)


def test_fake_weights_set_each_generators_share_of_a_batch(tmp_path) -> None:
    from detectors.data import SplitImages
    from detectors.training import TrainingData, _BatchSampler, _check_config

    def source(label: str, value: int) -> SplitImages:
        return SplitImages(label, label, {"train": np.full((4, 32, 32, 3), value, np.uint8)}, 0)

    data = TrainingData(source("real", 0), [source("a", 255), source("b", 0)])
    config = TrainDetectorConfig(fake=["a", "b"], real="real", out=str(tmp_path), batch=400, crop=32,
                                 fake_weights=[3.0, 1.0], native_resolution=None,
                                 augment=AugmentConfig(blur_p=0.0, jpeg_p=0.0, resize_p=0.0))
    images, labels = _BatchSampler(data, config, np.random.default_rng(0)).next()
    from_a = (images[labels == 1].mean(dim=(1, 2, 3)) > 0).float().mean().item()
    assert 0.68 < from_a < 0.82  # 3 of 4 generated images come from "a"
    for bad in ([1.0], [1.0, -1.0], [0.0, 0.0]):
        config.fake_weights = bad
        with pytest.raises(SynthfaceError, match="--fake-weights"):
            _check_config(config)


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
    result = _cli(["eval-detector", "--model", str(folder), "--fake", str(fake), "--real", str(real),
                   "--out", str(tmp_path / "report"), "--limit", "12", "--workers", "1", "--save-metrics"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    assert set(report["conditions"]) == set(CONDITIONS)
    assert report["real"]["images"] == 12 and report["fake"][0]["images"] == 12
    for entry in report["conditions"].values():
        for metric in entry["fake"]["combined"].values():
            assert 0.0 <= metric <= 1.0
    assert "| fake | jpeg75 |" in (tmp_path / "report" / "report.md").read_text()
    headline = json.loads((folder / "metrics.json").read_text())
    assert headline["ap/clean"] == round(report["conditions"]["clean"]["fake"]["combined"]["ap"], 4)
    unseen = _cli(["eval-detector", "--model", str(folder), "--fake", str(fake), "--real", str(real),
                   "--out", str(tmp_path / "unseen"), "--limit", "12", "--workers", "1", "--fake-split", "all",
                   "--save-metrics"])
    assert unseen.exit_code == 0, unseen.output
    merged = json.loads((folder / "metrics.json").read_text())
    assert {k: v for k, v in merged.items() if not k.startswith("unseen/")} == headline
    assert set(merged) - set(headline) == {f"unseen/fake/{m}/{c}" for m in ("ap", "roc_auc") for c in CONDITIONS}

    again = _cli(["train-detector", "--fake", str(fake), "--real", str(real), "--out", config.out])
    assert again.exit_code == 2 and "--resume" in again.output and "Traceback" not in again.output
    bad = _cli(["eval-detector", "--model", str(folder), "--fake", str(fake), "--real", str(real),
                "--out", str(tmp_path / "r2"), "--real-split", "holdout"])
    assert bad.exit_code == 2 and "--real-split" in bad.output


def test_saved_metrics_keep_cross_generator_rows_whatever_the_order() -> None:
    from detectors.evaluation import merge_card_metrics

    held_out = {"ap/clean": 0.99, "ap/clean/ours": 0.98}
    other = {"unseen/other/ap/clean": 0.7}
    both = merge_card_metrics(merge_card_metrics({}, other, unseen=True), held_out, unseen=False)
    assert both == merge_card_metrics(merge_card_metrics({}, held_out, unseen=False), other, unseen=True)
    assert both == {**held_out, **other}
    rerun = merge_card_metrics(both, {"unseen/other/ap/clean": 0.8}, unseen=True)
    assert rerun["unseen/other/ap/clean"] == 0.8 and rerun["ap/clean"] == 0.99
    assert merge_card_metrics(both, {"ap/clean": 0.95}, unseen=False) == {"ap/clean": 0.95, **other}


def test_make_fakes_writes_one_png_per_seed(tmp_path) -> None:
    from synthface.generator import Generator

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
    assert _cli(["make-fakes", "--generator", str(tmp_path / "gen"), "--out", str(tmp_path / "x"),
                 "--psi", "fast"]).exit_code == 2


def test_a_new_run_can_start_from_a_trained_detector(toy_run, toy_pair, tmp_path) -> None:
    """--init-from: one more leg on a new generator's faces starts from the detector's CNN, not from
    random weights; settings that change the CNN's shape are refused with the option named."""
    from detectors.model import load_detector
    from detectors.training import _start_model

    config, folder = toy_run
    fake, real = toy_pair
    trained = load_detector(folder)
    leg = TrainDetectorConfig(fake=[str(fake)], real=str(real), out=str(tmp_path / "leg"), init_from=str(folder),
                              **TINY)
    started = _start_model(leg)
    for name, tensor in trained.state_dict().items():
        assert torch.equal(started.state_dict()[name], tensor), name
    fresh = _start_model(TrainDetectorConfig(fake=[str(fake)], real=str(real), out="x", **TINY))
    assert not torch.equal(fresh.state_dict()["features.0.0.weight"], trained.state_dict()["features.0.0.weight"])
    wider = TrainDetectorConfig(fake=[str(fake)], real=str(real), out="y", init_from=str(folder),
                                **{**TINY, "crop": 48})
    with pytest.raises(SynthfaceError, match="--crop 48 differs from the --init-from detector's 32"):
        _start_model(wider)
