"""Training the attribute model on photos filed under their people's names (LFW's layout).

Labels come from first names (`synthface.attributes.labels`); photos whose name reads neither
way are left out. People, not photos, are split into train / val / test
(`synthface.data.splits`), so no test face belongs to someone seen in training. Every step is a
batch with as many faces of each label (LFW is three-quarters men; an unbalanced batch would
teach the prior), each a random view (`synthface.attributes.views.training_view`) drawn from
(seed, step) alone, so a resumed run makes the same batches.

After training, the temperature is fitted on the val people and `confident` set to the lowest
probability at which the val faces beyond it reach `target_accuracy` (class-balanced). The test
people then give the figures the model card reports, on clean views and on views at 40 px of
detail (a small persona's).
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

from synthface.attributes.labels import FEMALE, PRESENTATIONS, label_from_path
from synthface.attributes.model import AttributeModel
from synthface.errors import SynthfaceError
from synthface.io_utils import write_text_atomic

log = logging.getLogger("synthface.attributes.training")
MODEL_DIR = "attributes"
LOW_DETAIL = 40  # px across the face view: about what a 64 px persona's face holds


@dataclass
class TrainAttributesConfig:
    """Everything `synthface train-attributes` takes (see its --help)."""

    data: str
    out: Path
    steps: int = 3000
    batch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    seed: int = 0
    target_accuracy: float = 0.95
    widths: list[int] = field(default_factory=lambda: [32, 64, 96, 128])
    max_images: int | None = None
    progress: bool = True
    num_workers: int | None = None


@dataclass
class LabelledFaces:
    """Face bank regions with their labels (1 = female) and split."""

    regions: list[np.ndarray]
    labels: np.ndarray
    splits: np.ndarray
    people: list[str]

    def indices(self, split: str, label: int | None = None) -> np.ndarray:
        mask = self.splits == split
        if label is not None:
            mask &= self.labels == label
        return np.flatnonzero(mask)


def load_labelled_faces(config: TrainAttributesConfig) -> LabelledFaces:
    from synthface.attributes.labels import person_of
    from synthface.data.splits import assign_splits
    from synthface.facebank import build_face_bank

    bank = build_face_bank(config.data, max_side=128, max_images=config.max_images, progress=config.progress,
                           num_workers=config.num_workers)
    labels = [label_from_path(name) for name in bank.names]
    keep = [i for i, label in enumerate(labels) if label is not None]
    if not keep:
        raise SynthfaceError(f"no photo in {config.data} is filed under a first name that reads as female or "
                             "male; the data must be folders named after people (LFW: First_Last/*.jpg)")
    names = [bank.names[i] for i in keep]
    faces = LabelledFaces([bank.region(i) for i in keep],
                          np.array([labels[i] == FEMALE for i in keep], dtype=np.int64),
                          np.array(assign_splits(names)), [person_of(n) for n in names])
    for split in ("train", "val", "test"):
        for label in (0, 1):
            if len(faces.indices(split, label)) == 0:
                raise SynthfaceError(f"{config.data} has no {PRESENTATIONS[1 - label]} face in its {split} split; "
                                     "it needs photos of more people")
    return faces


def make_batch(faces: LabelledFaces, config: TrainAttributesConfig, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Half female, half male training views, a function of (seed, step) only."""
    from synthface.attributes.views import training_view

    rng = np.random.default_rng([config.seed, step])
    half = config.batch // 2
    picks = np.concatenate([rng.choice(faces.indices("train", 1), half), rng.choice(faces.indices("train", 0), half)])
    views = np.stack([training_view(faces.regions[i], rng) for i in picks])
    return views, faces.labels[picks].astype(np.float32)


def _views(faces: LabelledFaces, indices: np.ndarray, detail: int | None) -> np.ndarray:
    from synthface.attributes.views import region_view

    return np.stack([region_view(faces.regions[i], detail) for i in indices])


def _balanced_accuracy(correct: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean([correct[labels == label].mean() for label in (0, 1) if np.any(labels == label)]))


def fit_calibration(model: AttributeModel, faces: LabelledFaces, target_accuracy: float) -> dict[str, float]:
    """Set the temperature (val NLL) and the `confident` threshold (val balanced accuracy)."""
    index = faces.indices("val")
    views = np.concatenate([_views(faces, index, None), _views(faces, index, LOW_DETAIL)])
    labels = np.concatenate([faces.labels[index], faces.labels[index]])
    model.temperature.fill_(1.0)
    raw = np.clip(model.p_female(views), 1e-12, 1 - 1e-12)
    logits = np.log(raw) - np.log1p(-raw)
    weights = np.where(labels == 1, 0.5 / labels.mean(), 0.5 / (1 - labels.mean()))
    best = (np.inf, 1.0)
    for temperature in np.linspace(0.3, 5.0, 95):
        p = 1.0 / (1.0 + np.exp(-logits / temperature))
        nll = -np.mean(weights * (labels * np.log(p + 1e-12) + (1 - labels) * np.log(1 - p + 1e-12)))
        best = min(best, (nll, float(temperature)))
    model.temperature.fill_(best[1])
    p = model.p_female(views)
    confidence, correct = np.maximum(p, 1 - p), (p >= 0.5) == (labels == 1)
    threshold = 0.99
    for candidate in np.arange(0.5, 0.995, 0.01):
        sure = confidence >= candidate
        if sure.any() and _balanced_accuracy(correct[sure], labels[sure]) >= target_accuracy:
            threshold = float(candidate)
            break
    model.confident.fill_(threshold)
    return {"temperature": best[1], "confident": threshold, "val_faces": int(len(index))}


def evaluate(model: AttributeModel, faces: LabelledFaces, split: str = "test") -> dict[str, Any]:
    """Accuracy of a split's people: all faces, and the confident ones (with the share that is confident)."""
    index = faces.indices(split)
    labels = faces.labels[index]
    result: dict[str, Any] = {"faces": int(len(index)), "people": len({faces.people[i] for i in index}),
                              "female_share": float(labels.mean())}
    for name, detail in (("clean", None), (f"detail{LOW_DETAIL}", LOW_DETAIL)):
        p = model.p_female(_views(faces, index, detail))
        correct = (p >= 0.5) == (labels == 1)
        sure = np.maximum(p, 1 - p) >= float(model.confident)
        result[name] = {
            "accuracy": float(correct.mean()),
            "balanced_accuracy": _balanced_accuracy(correct, labels),
            "confident_share": float(sure.mean()),
            "confident_balanced_accuracy": _balanced_accuracy(correct[sure], labels[sure]) if sure.any() else None,
        }
    return result


def learning_rate(config: TrainAttributesConfig, step: int) -> float:
    """Linear warm-up over the first 5% of steps, then a cosine down to zero: a function of the step
    alone, so a resumed run (even one given more steps) continues the schedule."""
    import math

    warmup = max(1, config.steps // 20)
    if step < warmup:
        return config.lr * (step + 1) / warmup
    return config.lr * 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, config.steps - warmup)))


def check_config(config: TrainAttributesConfig) -> None:
    if config.steps < 1 or config.batch < 2 or config.batch % 2:
        raise SynthfaceError("--steps must be at least 1 and --batch an even number of at least 2")
    if not 0.5 < config.target_accuracy < 1.0:
        raise SynthfaceError(f"--target-accuracy must be between 0.5 and 1, got {config.target_accuracy}")
    if config.checkpoint_every < 1:
        raise SynthfaceError("--checkpoint-every must be at least 1")


def train_attribute_model(config: TrainAttributesConfig, resume: bool = False) -> Path:
    """Train (or resume) into `config.out`; returns the saved model folder (`out/attributes`)."""
    from synthface.checkpoints import latest_checkpoint, load_newest_state
    from synthface.classifier_training import restore_classifier, train_classifier_steps
    from synthface.hub.publish import write_model_card
    from synthface.io_utils import atomic_folder

    check_config(config)
    out = Path(config.out)
    if latest_checkpoint(out) is not None and not resume:
        raise SynthfaceError(f"{out} already holds an attribute model run; pass --resume or choose a new --out")
    restored = load_newest_state(out) if resume else None
    faces = load_labelled_faces(config)
    torch.manual_seed(config.seed)
    model = AttributeModel(widths=config.widths)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step = restore_classifier(model, optimizer, restored, out)
    write_text_atomic(out / "training_config.json", json.dumps(asdict(config), indent=2, default=str))
    began = time.perf_counter()
    step = train_classifier_steps(
        model, optimizer, out, step=step, steps=config.steps, batch_at=lambda at: make_batch(faces, config, at),
        learning_rate=lambda at: learning_rate(config, at), checkpoint_every=config.checkpoint_every,
        keep_checkpoints=config.keep_checkpoints, desc="train attributes", progress=config.progress)
    calibration = fit_calibration(model, faces, config.target_accuracy)
    summary = {"steps": step, "train_seconds_this_session": round(time.perf_counter() - began, 1),
               "target_accuracy": config.target_accuracy,
               "calibration": calibration, "test": evaluate(model, faces, "test"),
               "data": {"source": str(config.data), "labelled_faces": len(faces.labels),
                        "people": len(set(faces.people)),
                        **{s: int(len(faces.indices(s))) for s in ("train", "val", "test")}}}
    target = out / MODEL_DIR
    with atomic_folder(target) as tmp:
        model.save_pretrained(tmp)
        write_text_atomic(tmp / "evaluation.json", json.dumps(summary, indent=2))
        write_model_card(tmp, json.loads((tmp / "config.json").read_text(encoding="utf-8")))
    write_text_atomic(out / "training_summary.json", json.dumps(summary, indent=2))
    return target
