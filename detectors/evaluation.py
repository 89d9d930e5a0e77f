"""Measure a detector: per condition and per generator, with ROC curves and a reliability diagram.

Every number is computed on images the detector never trained on (the `test` split of
each source, unless told otherwise), for each of its three scores (CNN, spectral,
combined), under each degradation in `detectors.augment.CONDITIONS` applied to both
classes alike. Metrics: average precision, ROC-AUC, accuracy at the detector's
threshold and the TPR at 1% FPR (the operating point that matters when false alarms
on real people are costly).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detectors.augment import CONDITIONS, apply_condition
from detectors.calibration import expected_calibration_error, reliability_bins
from detectors.data import SplitImages
from detectors.model import SynthDetector
from synthface.io_utils import atomic_path, write_text_atomic

SCORES = ("combined", "cnn", "spectral")


@dataclass
class ScoredSet:
    """Calibrated probabilities of each score for one source under one condition."""

    probabilities: dict[str, np.ndarray]


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr_target: float = 0.01) -> float:
    """The highest TPR whose FPR does not exceed `fpr_target` (a threshold that can actually be set)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    allowed = fpr <= fpr_target + 1e-12
    return float(tpr[allowed].max()) if allowed.any() else 0.0


def binary_metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    predictions = probabilities >= threshold
    return {
        "ap": float(average_precision_score(labels, probabilities)),
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "accuracy": float((predictions == labels.astype(bool)).mean()),
        "tpr_at_1pct_fpr": tpr_at_fpr(labels, probabilities, 0.01),
        "fpr_at_threshold": float(predictions[labels == 0].mean()),
        "tpr_at_threshold": float(predictions[labels == 1].mean()),
    }


def score_set(model: SynthDetector, images: np.ndarray, condition: str) -> ScoredSet:
    views = [apply_condition(image, condition) for image in images]
    scores = model.score_images(views)
    return ScoredSet({"combined": scores.probability, "cnn": scores.cnn_probability,
                      "spectral": scores.spectral_probability})


def _subset(images: np.ndarray, limit: int | None) -> np.ndarray:
    if limit is None or len(images) <= limit:
        return images
    keep = np.sort(np.random.default_rng(0).choice(len(images), limit, replace=False))
    return images[keep]


def evaluate_detector(
    model: SynthDetector,
    reals: SplitImages,
    fakes: list[SplitImages],
    real_split: str = "test",
    fake_split: str = "test",
    conditions: tuple[str, ...] = tuple(CONDITIONS),
    threshold: float | None = None,
    progress: bool = True,
    limit: int | None = None,
) -> dict[str, Any]:
    """The full report (JSON-ready) plus, under "_curves", the raw scores the plots need.

    limit: at most this many images per source, a seeded random subset of the split (the
    same subset every run), to keep CPU evaluations short.
    """
    from sklearn.metrics import roc_curve
    from tqdm.auto import tqdm

    threshold = model.threshold if threshold is None else threshold
    real_images = _subset(reals.get(real_split), limit)
    fake_images = {f.label: _subset(f.get(fake_split), limit) for f in fakes}
    report: dict[str, Any] = {
        "threshold": threshold,
        "real": {"source": reals.source, "split": real_split, "images": len(real_images)},
        "fake": [{"source": f.source, "label": f.label, "split": fake_split,
                  "images": len(fake_images[f.label])} for f in fakes],
        "conditions": {},
    }
    curves: dict[str, Any] = {}
    total = len(conditions) * (len(real_images) + sum(len(v) for v in fake_images.values()))
    with tqdm(total=total, unit="img", desc="evaluate", disable=not progress, dynamic_ncols=True) as bar:
        for condition in conditions:
            real_scored = score_set(model, real_images, condition)
            bar.update(len(real_images))
            fake_scored = {}
            for label, images in fake_images.items():
                fake_scored[label] = score_set(model, images, condition)
                bar.update(len(images))
            groups = {**{label: [label] for label in fake_scored}, "all": list(fake_scored)}
            entry: dict[str, Any] = {}
            for group, labels_in in groups.items():
                if group == "all" and len(fake_scored) == 1:
                    continue
                entry[group] = {}
                for score in SCORES:
                    positives = np.concatenate([fake_scored[name].probabilities[score] for name in labels_in])
                    negatives = real_scored.probabilities[score]
                    y = np.concatenate([np.zeros(len(negatives)), np.ones(len(positives))])
                    p = np.concatenate([negatives, positives])
                    entry[group][score] = binary_metrics(y, p, threshold)
                    if score == "combined":
                        entry[group][score]["ece"] = expected_calibration_error(p, y)
                        fpr, tpr, _ = roc_curve(y, p)
                        curves.setdefault(group, {})[condition] = (fpr, tpr)
                        if condition == "clean":
                            curves.setdefault("_reliability", {})[group] = reliability_bins(p, y)
            report["conditions"][condition] = entry
    report["reliability_clean"] = curves.pop("_reliability", {})
    report["_curves"] = curves
    return report


def summary_table(report: dict[str, Any], score: str = "combined") -> str:
    """Markdown table: one row per (generator, condition)."""
    lines = [f"score: {score}, threshold {report['threshold']:.2f}",
             "| generator | condition | AP | ROC-AUC | acc@thr | TPR@1%FPR |",
             "| --- | --- | --- | --- | --- | --- |"]
    for condition, entry in report["conditions"].items():
        for group, scores in entry.items():
            m = scores[score]
            lines.append(f"| {group} | {condition} | {m['ap']:.4f} | {m['roc_auc']:.4f} | "
                         f"{m['accuracy']:.4f} | {m['tpr_at_1pct_fpr']:.4f} |")
    return "\n".join(lines)


def _save_figure(figure, path: Path) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")


def write_report(report: dict[str, Any], out: str | Path) -> list[Path]:
    """report.json, report.md, one roc_<generator>.png per generator and reliability.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    curves = report.get("_curves", {})
    plain = {key: value for key, value in report.items() if key != "_curves"}
    written = [out / "report.json", out / "report.md"]
    write_text_atomic(written[0], json.dumps(plain, indent=2))
    write_text_atomic(written[1], "\n\n".join(summary_table(plain, score) for score in SCORES) + "\n")
    for group, by_condition in curves.items():
        figure, axes = plt.subplots(figsize=(5.5, 5))
        for condition, (fpr, tpr) in by_condition.items():
            auc = plain["conditions"][condition][group]["combined"]["roc_auc"]
            axes.plot(fpr, tpr, label=f"{condition} (AUC {auc:.3f})")
        axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        axes.set_xscale("symlog", linthresh=0.01)
        axes.set(xlabel="false positive rate (real flagged)", ylabel="true positive rate",
                 title=f"ROC, combined score: {group} vs real", xlim=(0, 1), ylim=(0, 1.01))
        axes.legend(fontsize=8, loc="lower right")
        path = out / f"roc_{group}.png"
        _save_figure(figure, path)
        plt.close(figure)
        written.append(path)
    if plain.get("reliability_clean"):
        figure, axes = plt.subplots(figsize=(5, 5))
        axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfectly calibrated")
        # The pooled group only: every generator's fakes against the same reals, one readable curve.
        group = "all" if "all" in plain["reliability_clean"] else next(iter(plain["reliability_clean"]))
        rows = plain["reliability_clean"][group]
        axes.plot([r["mean_predicted"] for r in rows], [r["fraction_synthetic"] for r in rows], marker="o",
                  label=f"{group} vs real")
        for row in rows:
            axes.annotate(str(row["count"]), (row["mean_predicted"], row["fraction_synthetic"]), fontsize=7,
                          textcoords="offset points", xytext=(4, -10))
        axes.set(xlabel="predicted probability synthetic", ylabel="observed fraction synthetic",
                 title="Reliability (clean, combined score)", xlim=(0, 1), ylim=(0, 1))
        axes.legend(fontsize=8)
        path = out / "reliability.png"
        _save_figure(figure, path)
        plt.close(figure)
        written.append(path)
    return written


def card_metrics(report: dict[str, Any], unseen: bool = False) -> dict[str, float]:
    """Flat metric names for the model card (`render_model_card('detector', config, metrics)`).

    With `unseen` (fakes from generators the detector never trained on), every figure is
    per generator under `unseen/GENERATOR/...`: the cross-generator rows of the card.
    """
    metrics: dict[str, float] = {}
    for condition, entry in report["conditions"].items():
        if unseen:
            for generator, scores in entry.items():
                if generator != "all":
                    for name in ("ap", "roc_auc"):
                        metrics[f"unseen/{generator}/{name}/{condition}"] = round(scores["combined"][name], 4)
            continue
        group = "all" if "all" in entry else next(iter(entry))
        for name in ("ap", "roc_auc", "accuracy", "tpr_at_1pct_fpr"):
            metrics[f"{name}/{condition}"] = round(entry[group]["combined"][name], 4)
        if len(entry) > 1:  # several generators: each one's AP too (the pooled figure hides the weak one)
            for generator, scores in entry.items():
                if generator != "all":
                    metrics[f"ap/{condition}/{generator}"] = round(scores["combined"]["ap"], 4)
    return metrics


def merge_card_metrics(existing: dict[str, float], new: dict[str, float], unseen: bool) -> dict[str, float]:
    """`new` replaces what the same kind of evaluation wrote before; the other kind's keys stay.

    A held-out evaluation rewrites the headline figures and keeps the cross-generator rows,
    and an unseen-generator evaluation replaces only its own generators' rows, so the two
    can be run in either order.
    """
    if unseen:
        generators = {key.split("/")[1] for key in new}
        kept = {k: v for k, v in existing.items() if not (k.startswith("unseen/") and k.split("/")[1] in generators)}
    else:
        kept = {k: v for k, v in existing.items() if k.startswith("unseen/")}
    return dict(sorted({**kept, **new}.items()))
