"""Train a detector on canonical face views: the CNN by SGD, then calibration, thresholds and
familiarity statistics on held-out people.

Each source (a folder or dataset of real photos or of one generator's faces) is read once
into a face bank (`synthface.facebank`). Every step draws a balanced batch -- half real,
with each real source equally likely, half generated, each generator by its share -- and
sends every face through the same random chain (`detectors.chain`), so nothing but synthesis
separates the classes. Batch k is a pure function of (seed, k), made one step ahead in a
worker process; so a resumed run sees exactly the batches it would have seen, and a
checkpoint holds only the model, the optimiser and the step.

When the steps are done, the held-out `val` split of every source (people never trained on)
gives the calibration and the two thresholds (`detectors.scoring`): at most `target_fpr` of the
real views of each real source reach "likely synthetic", and at most `fake_miss_rate` of each
generator's views fall to "no evidence". Familiarity is the Mahalanobis distance from the
training views' features; its limit is a high quantile of the held-out views' distances.
"""

from __future__ import annotations

import json
import logging
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from detectors.calibration import fit_platt
from detectors.chain import ChainConfig, training_view
from detectors.model import SynthDetector
from detectors.scoring import DetectorHeads
from synthface.errors import SynthfaceError
from synthface.facebank import MARGIN, FaceBank, build_face_bank
from synthface.io_utils import write_text_atomic

log = logging.getLogger("detectors.training")

DETECTOR_DIR = "detector"
PREFETCH = 3  # batches made ahead by the worker process


@dataclass
class TrainDetectorConfig:
    """Everything a detector run depends on (saved to the run folder as training_config.json)."""

    real: list[str]
    fake: list[str]
    out: str
    # Relative share of each --fake source in the generated half of a batch (None: equal shares).
    fake_weights: list[float] | None = None
    working_size: int = 64
    batch: int = 64
    steps: int = 4000
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
    # Held-out views per image for calibration and thresholds (plus one undegraded view).
    calibration_views: int = 3
    target_fpr: float = 0.01
    fake_miss_rate: float = 0.05
    ood_quantile: float = 0.995
    # A trained detector (folder, run folder, Hub id or "bundled") whose weights the run starts from.
    init_from: str | None = None
    chain: ChainConfig = field(default_factory=ChainConfig)
    progress: bool = True
    num_workers: int | None = None


@dataclass
class TrainingData:
    reals: list[FaceBank]
    fakes: list[FaceBank]

    def sources(self) -> dict[str, list[str]]:
        return {"real": [bank.label for bank in self.reals], "fake": [bank.label for bank in self.fakes]}


def load_training_data(config: TrainDetectorConfig) -> TrainingData:
    """A face bank of every source, each with people (or images) in all three splits."""
    def bank(source: str) -> FaceBank:
        return build_face_bank(source, 2 * config.working_size, max_images=config.max_images,
                               progress=config.progress, num_workers=config.num_workers)

    data = TrainingData([bank(s) for s in config.real], [bank(s) for s in config.fake])
    labels = [b.label for b in (*data.reals, *data.fakes)]
    if len(set(labels)) != len(labels):
        raise SynthfaceError(f"sources need distinct folder names (they label the reports): {labels}")
    for source in (*data.reals, *data.fakes):
        splits = source.split_indices()
        for split in ("train", "val"):
            if len(splits[split]) == 0:
                raise SynthfaceError(f"{source.source} has no faces in its {split} split; it needs more images "
                                     "(or more identity folders) to be split person-disjoint")
    return data


# The worker process's view of the data, set before it is forked (never pickled per batch).
_WORKER_DATA: tuple[TrainingData, TrainDetectorConfig, list[dict[str, np.ndarray]],
                    list[dict[str, np.ndarray]]] | None = None


def make_batch(data: TrainingData, config: TrainDetectorConfig, real_splits: list[dict[str, np.ndarray]],
               fake_splits: list[dict[str, np.ndarray]], step: int) -> tuple[np.ndarray, np.ndarray]:
    """Batch `step`: uint8 views [B, S, S, 3] and labels [B] (1 = synthetic); a function of (seed, step)."""
    rng = np.random.default_rng([config.seed, step])
    half = config.batch // 2
    shares = np.ones(len(data.fakes)) if config.fake_weights is None else np.asarray(config.fake_weights, float)
    picks = [(data.reals[s], real_splits[s]["train"]) for s in rng.integers(0, len(data.reals), half)]
    picks += [(data.fakes[s], fake_splits[s]["train"])
              for s in rng.choice(len(data.fakes), config.batch - half, p=shares / shares.sum())]
    views = np.stack([training_view(bank.region(int(rng.choice(pool))), MARGIN, config.working_size, rng,
                                    config.chain) for bank, pool in picks])
    labels = np.concatenate([np.zeros(half, np.float32), np.ones(config.batch - half, np.float32)])
    return views, labels


def _worker_batch(step: int) -> tuple[np.ndarray, np.ndarray]:
    assert _WORKER_DATA is not None
    return make_batch(*_WORKER_DATA, step)


class _Batches:
    """Batches made one or more steps ahead in a forked worker process (numpy and Pillow only).

    Where processes cannot be forked (macOS, Windows), batches are made in this process instead:
    the same batches, only slower.
    """

    def __init__(self, data: TrainingData, config: TrainDetectorConfig, first_step: int) -> None:
        import multiprocessing
        import sys

        global _WORKER_DATA
        _WORKER_DATA = (data, config, [b.split_indices() for b in data.reals],
                        [b.split_indices() for b in data.fakes])
        forkable = sys.platform.startswith("linux")
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) if forkable else None
        self.pending: dict[int, Future] = {}
        self.next_step = first_step
        self.limit = config.steps

    def get(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        if self.pool is None:
            return _worker_batch(step)
        while self.next_step < min(step + 1 + PREFETCH, self.limit):
            self.pending[self.next_step] = self.pool.submit(_worker_batch, self.next_step)
            self.next_step += 1
        return self.pending.pop(step).result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)


def clean_view(bank: FaceBank, index: int, size: int) -> np.ndarray:
    """The canonical view of a bank face as `detect` would crop it from an undegraded photo."""
    from synthface.faces import canonical_crop

    region = bank.region(index)
    per_unit = region.shape[0] / (1 + 2 * MARGIN)
    to_canonical = np.array([[1 / per_unit, 0.0, -MARGIN], [0.0, 1 / per_unit, -MARGIN]])
    return canonical_crop(region, to_canonical, size)


def held_out_views(bank: FaceBank, split: str, config: TrainDetectorConfig, copies: int,
                   limit: int, rng: np.random.Generator) -> np.ndarray:
    """One clean view and `copies` chain views of (at most `limit` of) a split's faces."""
    indices = bank.split_indices()[split]
    if len(indices) > limit:
        indices = np.sort(rng.choice(indices, limit, replace=False))
    views = [clean_view(bank, int(i), config.working_size) for i in indices]
    for _ in range(copies):
        views += [training_view(bank.region(int(i)), MARGIN, config.working_size, rng, config.chain)
                  for i in indices]
    return np.stack(views)


def fit_familiarity(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (shrunk, so always invertible) precision matrix of training-view features."""
    from sklearn.covariance import LedoitWolf

    estimate = LedoitWolf().fit(np.asarray(features, np.float64))
    return estimate.location_, estimate.precision_


def fit_heads(model: SynthDetector, data: TrainingData, config: TrainDetectorConfig) -> dict[str, Any]:
    """Calibrator, thresholds and familiarity on held-out people; returns what was measured."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng([config.seed, 1])
    train_features = []
    for bank in (*data.reals, *data.fakes):
        views = held_out_views(bank, "train", config, 1, 1500, rng)
        train_features.append(model.logits_and_features(views)[1])
    mean, precision = fit_familiarity(np.concatenate(train_features))

    per_source: dict[str, dict[str, Any]] = {}
    logits, labels = [], []
    for label, banks in ((0, data.reals), (1, data.fakes)):
        for bank in banks:
            views = held_out_views(bank, "val", config, config.calibration_views, 2000, rng)
            source_logits, source_features = model.logits_and_features(views)
            per_source[bank.label] = {"label": label, "logits": source_logits, "features": source_features}
            logits.append(source_logits)
            labels.append(np.full(len(source_logits), label))
    all_logits, all_labels = np.concatenate(logits), np.concatenate(labels)
    calibration = fit_platt(all_logits, all_labels)
    for entry in per_source.values():
        entry["p"] = calibration(entry["logits"])
    threshold_synthetic = max(float(np.quantile(e["p"], 1 - config.target_fpr)) for e in per_source.values()
                              if e["label"] == 0)
    threshold_synthetic = min(max(threshold_synthetic, 0.5), 0.9999)
    threshold_real = min(float(np.quantile(e["p"], config.fake_miss_rate)) for e in per_source.values()
                         if e["label"] == 1)
    threshold_real = min(threshold_real, threshold_synthetic)
    interim = DetectorHeads(calibration, threshold_real, threshold_synthetic, config.target_fpr, mean, precision,
                            float("inf"))
    distances = np.concatenate([interim.distances(e["features"]) for e in per_source.values()])
    ood_limit = float(np.quantile(distances, config.ood_quantile))
    heads = DetectorHeads(calibration, threshold_real, threshold_synthetic, config.target_fpr, mean, precision,
                          ood_limit)
    model.set_heads(heads)
    sources = {}
    for name, entry in per_source.items():
        p = entry["p"]
        sources[name] = {
            "class": "fake" if entry["label"] else "real", "views": int(len(p)),
            "flagged": float((p >= threshold_synthetic).mean()), "no_evidence": float((p < threshold_real).mean()),
        }
    return {
        "val_auc": float(roc_auc_score(all_labels, all_logits)),
        "calibration": calibration.to_dict(),
        **heads.summary(),
        "val_sources": sources,
    }


def save_detector(model: SynthDetector, target: Path) -> None:
    """save_pretrained into a staging folder swapped into place (never a half-written model)."""
    from synthface.io_utils import atomic_folder

    with atomic_folder(target) as staging:
        model.save_pretrained(str(staging))


def _model_from(config: TrainDetectorConfig, data: TrainingData) -> SynthDetector:
    return SynthDetector(widths=list(config.widths), strides=list(config.strides),
                         working_size=config.working_size, training_sources=data.sources())


def _start_model(config: TrainDetectorConfig, data: TrainingData) -> SynthDetector:
    """A new run's model: random weights, or the --init-from detector's, whose architecture must match."""
    model = _model_from(config, data)
    if not config.init_from:
        return model
    from detectors.model import load_detector

    start = load_detector(config.init_from)
    for option, ours, theirs in (("--working-size", config.working_size, start.working_size),
                                 ("widths", list(config.widths), start.widths),
                                 ("strides", list(config.strides), start.strides)):
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


def check_config(config: TrainDetectorConfig) -> None:
    if not config.real:
        raise SynthfaceError("pass at least one --real source of photographs")
    if not config.fake:
        raise SynthfaceError("pass at least one --fake source of generated images")
    if not 32 <= config.working_size <= 256:
        raise SynthfaceError(f"--working-size must be from 32 to 256 px, got {config.working_size}")
    if config.fake_weights is not None and (len(config.fake_weights) != len(config.fake)
                                            or min(config.fake_weights) < 0 or sum(config.fake_weights) <= 0):
        raise SynthfaceError(f"--fake-weights needs one non-negative number per --fake ({len(config.fake)}), "
                             f"not all zero; got {config.fake_weights}")
    if not 0.0 <= config.lr_ramp_down <= 1.0:
        raise SynthfaceError(f"--lr-ramp-down must be from 0 to 1, got {config.lr_ramp_down}")
    if not 0.0 < config.target_fpr < 0.5:
        raise SynthfaceError(f"--target-fpr must be between 0 and 0.5, got {config.target_fpr}")
    if config.batch < 2 or config.steps < 1:
        raise SynthfaceError("--batch must be at least 2 and --steps at least 1")


def train_detector(config: TrainDetectorConfig, resume: bool = False,
                   data: TrainingData | None = None) -> Path:
    """Run (or resume) training into `config.out`; returns the saved detector folder."""
    from synthface.checkpoints import latest_checkpoint, load_newest_state
    from synthface.classifier_training import restore_classifier, train_classifier_steps

    check_config(config)
    out = Path(config.out)
    newest = latest_checkpoint(out)
    if newest is not None and not resume:
        raise SynthfaceError(f"{out} already holds a detector run; pass --resume to continue it or choose "
                             "a new --out")
    restored = load_newest_state(out) if newest is not None else None
    data = data or load_training_data(config)
    torch.manual_seed(config.seed)
    model = _model_from(config, data) if restored is not None else _start_model(config, data)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step = restore_classifier(model, optimizer, restored, out)
    if restored is not None:
        log.info("resumed from %s (step %d)", restored[0], step)
    write_text_atomic(out / "training_config.json", json.dumps(asdict(config), indent=2, default=str))
    began = time.perf_counter()
    batches = _Batches(data, config, step) if step < config.steps else None
    try:
        step = train_classifier_steps(
            model, optimizer, out, step=step, steps=config.steps, batch_at=lambda at: batches.get(at),
            learning_rate=lambda at: learning_rate(config, at), checkpoint_every=config.checkpoint_every,
            keep_checkpoints=config.keep_checkpoints, desc="train detector", progress=config.progress)
    finally:
        if batches is not None:
            batches.close()
    summary = fit_heads(model, data, config)
    summary.update({
        "steps": step,
        "train_seconds_this_session": round(time.perf_counter() - began, 1),
        "data": {bank.label: {"class": kind, "source": bank.source, "no_face_or_unreadable": len(bank.skipped),
                              **{s: int(len(v)) for s, v in bank.split_indices().items()}}
                 for kind, banks in (("real", data.reals), ("fake", data.fakes)) for bank in banks},
    })
    target = out / DETECTOR_DIR
    save_detector(model, target)
    write_text_atomic(out / "training_summary.json", json.dumps(summary, indent=2))
    return target
