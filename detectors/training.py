"""Train a detector: the patch CNN by SGD, then the spectral head, calibrators and combiner.

The loop draws balanced batches (half real, half generated; generated images evenly
from every --fake source), degrades each view with the Wang et al. chain and takes a
random crop, so every step sees new variants. It checkpoints (model, optimiser, RNG
states, step) as safetensors and resumes from the newest checkpoint. When the steps are
done, the spectral head is fitted on the training split, and the calibrators and the
combiner on the held-out `val` split (degraded copies included, because that is where
the detector will be used).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from detectors.augment import AugmentConfig, augment, degrade
from detectors.calibration import fit_platt
from detectors.data import SplitImages, load_split_source
from detectors.model import SynthDetector
from detectors.spectral import batch_features, fit_linear_head, linear_logits
from synthface.errors import SynthfaceError
from synthface.io_utils import write_text_atomic

log = logging.getLogger("detectors.training")

DETECTOR_DIR = "detector"


@dataclass
class TrainDetectorConfig:
    """Everything a detector run depends on (saved to the run folder as training_config.json)."""

    fake: list[str]
    real: str
    out: str
    # Relative share of each --fake source in the generated half of a batch (None: equal shares).
    # Weighting the generator the detector guards keeps its hardest cases (e.g. halved images)
    # from being crowded out by other generators' easier ones.
    fake_weights: list[float] | None = None
    resolution: int = 64
    crop: int = 32
    batch: int = 64
    steps: int = 2000
    lr: float = 1e-3
    # The last `lr_ramp_down` of the steps decay the learning rate linearly to zero: the noisy,
    # heavily augmented batches keep a constant-rate model jittering around a good solution.
    lr_ramp_down: float = 0.3
    weight_decay: float = 1e-4
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    seed: int = 0
    max_images: int | None = None
    widths: list[int] = field(default_factory=lambda: [24, 32, 48, 64, 96, 96])
    strides: list[int] = field(default_factory=lambda: [1, 1, 2, 1, 2, 1])
    spectral_bins: int = 32
    calibration_views: int = 1
    # Real photos are also shown near their native scale (the face box prepared at this size instead
    # of being shrunk to `resolution`), so photos met at full size are not mistaken for generated ones.
    native_resolution: int | None = 144
    native_p: float = 0.3
    head_max_per_class: int = 6000
    # A trained detector (folder, run folder or Hub id) whose CNN weights the run starts from: one more
    # leg on a new generator's faces keeps what it learnt of the others (its heads are refitted anyway).
    init_from: str | None = None
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    progress: bool = True
    num_workers: int | None = None


@dataclass
class TrainingData:
    reals: SplitImages
    fakes: list[SplitImages]
    native_reals: SplitImages | None = None


def load_training_data(config: TrainDetectorConfig) -> TrainingData:
    """Prepare reals and each fake source at the training resolution, split."""
    reals = load_split_source(config.real, config.resolution, max_images=config.max_images,
                              progress=config.progress, num_workers=config.num_workers)
    fakes = [
        load_split_source(source, config.resolution, max_images=config.max_images,
                          progress=config.progress, num_workers=config.num_workers)
        for source in config.fake
    ]
    native = None
    if config.native_resolution and config.native_p > 0:
        native = load_split_source(config.real, config.native_resolution, max_images=config.max_images,
                                   progress=config.progress, num_workers=config.num_workers)
    labels = [f.label for f in fakes]
    if len(set(labels)) != len(labels):
        raise SynthfaceError(f"--fake sources need distinct folder names (they label the reports): {labels}")
    for images in (reals, *fakes):
        for split in ("train", "val"):
            if len(images.splits[split]) == 0:
                raise SynthfaceError(
                    f"{images.source} has no images in its {split} split; it needs more images (or more "
                    "identity folders) to be split person-disjoint"
                )
    return TrainingData(reals, fakes, native)


class _BatchSampler:
    """Balanced, augmented training batches from a seeded numpy generator (resumable)."""

    def __init__(self, data: TrainingData, config: TrainDetectorConfig, rng: np.random.Generator) -> None:
        self.reals = data.reals.splits["train"]
        self.native = data.native_reals.splits["train"] if data.native_reals is not None else None
        self.fakes = [f.splits["train"] for f in data.fakes]
        self.config = config
        self.rng = rng

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        config, rng = self.config, self.rng
        half = config.batch // 2
        views = []
        for _ in range(half):
            native = self.native is not None and len(self.native) > 0 and rng.random() < self.config.native_p
            pool = self.native if native else self.reals
            views.append(augment(pool[rng.integers(0, len(pool))], self.config.crop, rng, config.augment))
        if config.fake_weights is None:
            sources = rng.integers(0, len(self.fakes), config.batch - half)
        else:
            shares = np.asarray(config.fake_weights, dtype=np.float64)
            sources = rng.choice(len(self.fakes), config.batch - half, p=shares / shares.sum())
        for s in sources:
            pool = self.fakes[s]
            views.append(augment(pool[rng.integers(0, len(pool))], self.config.crop, rng, config.augment))
        images = torch.from_numpy(np.stack(views)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        labels = torch.cat([torch.zeros(half), torch.ones(self.config.batch - half)])
        return images, labels


def _views(images: list[np.ndarray], rng: np.random.Generator, config: TrainDetectorConfig,
           copies: int) -> list[np.ndarray]:
    """The clean images followed by `copies` degraded versions of each (for the heads and calibration)."""
    out = list(images)
    for _ in range(copies):
        out.extend(degrade(image, rng, config.augment, min_side=16) for image in images)
    return out


def _sample(images: np.ndarray, limit: int, rng: np.random.Generator) -> list[np.ndarray]:
    if len(images) <= limit:
        return list(images)
    return list(images[np.sort(rng.choice(len(images), limit, replace=False))])


def _labelled(data: TrainingData, split: str, limit: int, rng: np.random.Generator,
              ) -> tuple[list[np.ndarray], np.ndarray]:
    """Reals (both scales) and fakes of one split, at most `limit` per class and scale."""
    reals = _sample(data.reals.splits[split], limit, rng)
    if data.native_reals is not None:
        reals += _sample(data.native_reals.splits[split], limit // 2, rng)
    fakes = _sample(np.concatenate([source.splits[split] for source in data.fakes]), limit, rng)
    return reals + fakes, np.concatenate([np.zeros(len(reals)), np.ones(len(fakes))])


def _fit_combiner(cnn: np.ndarray, spectral: np.ndarray, labels: np.ndarray) -> tuple[float, float, float]:
    """Logistic stack of the two logits, weights >= 0 (so the combined score is monotone in each)."""
    from sklearn.linear_model import LogisticRegression

    features = np.stack([cnn, spectral], axis=1)
    keep = [0, 1]
    while keep:
        model = LogisticRegression(C=100.0, max_iter=1000, class_weight="balanced")
        model.fit(features[:, keep], labels)
        weights = model.coef_[0]
        if (weights > 0).all():
            full = [0.0, 0.0]
            for slot, weight in zip(keep, weights, strict=True):
                full[slot] = float(weight)
            return full[0], full[1], float(model.intercept_[0])
        keep = [slot for slot, weight in zip(keep, weights, strict=True) if weight > 0]
    return 0.0, 0.0, 0.0


def fit_heads(model: SynthDetector, data: TrainingData, config: TrainDetectorConfig) -> dict[str, Any]:
    """Spectral head on train, calibrators and combiner on val; returns val metrics of each score."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(config.seed + 1)
    train_images, train_labels = _labelled(data, "train", config.head_max_per_class, rng)
    # Degraded copies teach the linear head which bands survive compression and blur.
    train_views = _views(train_images, rng, config, 1)
    train_view_labels = np.tile(train_labels, 2)
    features = batch_features(train_views, config.spectral_bins)
    spectral = fit_linear_head(features, train_view_labels)

    val_images, val_labels = _labelled(data, "val", config.head_max_per_class // 3, rng)
    val_views = _views(val_images, rng, config, config.calibration_views)
    val_view_labels = np.tile(val_labels, 1 + config.calibration_views)
    cnn_logits = model.cnn_logits_uint8(val_views)
    spectral_logits = linear_logits(batch_features(val_views, config.spectral_bins), spectral)
    cnn_cal = fit_platt(cnn_logits, val_view_labels)
    spectral_cal = fit_platt(spectral_logits, val_view_labels)
    combiner = _fit_combiner(cnn_logits, spectral_logits, val_view_labels)
    model.set_heads(spectral, cnn_cal, spectral_cal, combiner)
    combined = model.combine(cnn_logits, spectral_logits)
    return {
        "val_images": len(val_images),
        "val_views": len(val_views),
        "val_auc_cnn": float(roc_auc_score(val_view_labels, cnn_logits)),
        "val_auc_spectral": float(roc_auc_score(val_view_labels, spectral_logits)),
        "val_auc_combined": float(roc_auc_score(val_view_labels, combined)),
        "calibration_cnn": cnn_cal.to_dict(),
        "calibration_spectral": spectral_cal.to_dict(),
        "combiner": {"w_cnn": combiner[0], "w_spectral": combiner[1], "bias": combiner[2]},
    }


def save_detector(model: SynthDetector, target: Path) -> None:
    """save_pretrained into a staging folder swapped into place (never a half-written model)."""
    from synthface.io_utils import atomic_folder

    with atomic_folder(target) as staging:
        model.save_pretrained(str(staging))


def _model_from(config: TrainDetectorConfig) -> SynthDetector:
    return SynthDetector(widths=list(config.widths), strides=list(config.strides),
                         spectral_bins=config.spectral_bins, train_resolution=config.resolution,
                         crop_size=config.crop)


def _start_model(config: TrainDetectorConfig) -> SynthDetector:
    """A new run's model: random weights, or the --init-from detector's, whose architecture must match."""
    model = _model_from(config)
    if not config.init_from:
        return model
    from detectors.model import load_detector
    from synthface.pretrained import DEFAULT_DETECTOR_DIR

    start = load_detector(DEFAULT_DETECTOR_DIR if config.init_from == "bundled" else config.init_from)
    for option, ours, theirs in (("--resolution", config.resolution, start.train_resolution),
                                 ("--crop", config.crop, start.crop_size),
                                 ("widths", list(config.widths), start.widths),
                                 ("strides", list(config.strides), start.strides),
                                 ("spectral bins", config.spectral_bins, start.spectral_bins)):
        if ours != theirs:
            raise SynthfaceError(f"{option} {ours} differs from the --init-from detector's {theirs}; "
                                 "train with the same settings to start from it")
    model.load_state_dict(start.state_dict())
    return model


def learning_rate(config: TrainDetectorConfig, step: int) -> float:
    """The rate for optimiser step `step` (0-based): constant, then a linear ramp to zero.

    A function of the step alone, so a resumed run (even one given more --steps) follows
    the schedule its final step count implies.
    """
    ramp_steps = config.lr_ramp_down * config.steps
    if ramp_steps <= 0:
        return config.lr
    return config.lr * min(1.0, (config.steps - step) / ramp_steps)


def _check_config(config: TrainDetectorConfig) -> None:
    if not config.fake:
        raise SynthfaceError("pass at least one --fake source of generated images")
    if config.crop < 16 or config.crop > config.resolution:
        raise SynthfaceError(f"--crop must be from 16 to the resolution ({config.resolution}), "
                             f"got {config.crop}")
    if config.fake_weights is not None and (len(config.fake_weights) != len(config.fake)
                                            or min(config.fake_weights) < 0 or sum(config.fake_weights) <= 0):
        raise SynthfaceError(f"--fake-weights needs one non-negative number per --fake ({len(config.fake)}), "
                             f"not all zero; got {config.fake_weights}")
    if not 0.0 <= config.lr_ramp_down <= 1.0:
        raise SynthfaceError(f"--lr-ramp-down must be from 0 to 1, got {config.lr_ramp_down}")
    if config.batch < 2 or config.steps < 1:
        raise SynthfaceError("--batch must be at least 2 and --steps at least 1")


def train_detector(config: TrainDetectorConfig, resume: bool = False,
                   data: TrainingData | None = None) -> Path:
    """Run (or resume) training into `config.out`; returns the saved detector folder."""
    from tqdm.auto import tqdm

    from synthface.training.checkpoint import (
        checkpoint_path,
        latest_checkpoint,
        load_state,
        prune_checkpoints,
        rng_state,
        save_state,
        set_rng_state,
    )

    _check_config(config)
    out = Path(config.out)
    newest = latest_checkpoint(out)
    if newest is not None and not resume:
        raise SynthfaceError(f"{out} already holds a detector run; pass --resume to continue it or choose "
                             "a new --out")
    data = data or load_training_data(config)
    torch.manual_seed(config.seed)
    model = _model_from(config) if newest is not None else _start_model(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)
    step = 0
    if newest is not None:
        state = load_state(newest)
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError):
            raise SynthfaceError(f"checkpoint {newest} does not fit this model; resume with the options "
                                 f"the run was started with (see {out / 'training_config.json'})") from None
        rng.bit_generator.state = json.loads(state["numpy_rng"])
        set_rng_state(state["rng"])
        step = int(state["step"])
        log.info("resumed from %s (step %d)", newest, step)
    write_text_atomic(out / "training_config.json", json.dumps(asdict(config), indent=2, default=str))
    sampler = _BatchSampler(data, config, rng)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    began = time.perf_counter()
    model.train()
    with tqdm(total=config.steps, initial=step, unit="step", desc="train detector",
              disable=not config.progress, dynamic_ncols=True) as bar:
        while step < config.steps:
            images, labels = sampler.next()
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step)
            logits = model(images)
            loss = loss_fn(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            accuracy = float(((logits > 0).float() == labels).float().mean())
            bar.set_postfix(loss=f"{loss.item():.3f}", acc=f"{accuracy:.2f}", refresh=False)
            bar.update(1)
            if step % config.checkpoint_every == 0 or step == config.steps:
                state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                         "rng": rng_state(), "numpy_rng": json.dumps(rng.bit_generator.state)}
                save_state(state, checkpoint_path(out, step))
                prune_checkpoints(out, config.keep_checkpoints)
    model.eval()
    summary = fit_heads(model, data, config)
    summary.update({
        "steps": step,
        "train_seconds_this_session": round(time.perf_counter() - began, 1),
        "data": {
            "real": {"source": data.reals.source, **{s: len(v) for s, v in data.reals.splits.items()}},
            "native_real_resolution": config.native_resolution if data.native_reals is not None else None,
            "fake": [{"source": f.source, "label": f.label, **{s: len(v) for s, v in f.splits.items()}}
                     for f in data.fakes],
        },
    })
    target = out / DETECTOR_DIR
    save_detector(model, target)
    write_text_atomic(out / "training_summary.json", json.dumps(summary, indent=2))
    return target

