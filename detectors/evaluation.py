"""Measure a detector source by source, the way `synthface detect` will meet images.

Each image goes through the whole classifier path (`detectors.analysis`: face finding,
canonical view, score, thresholds, familiarity), after one of the everyday edits in
`detectors.chain.CONDITIONS`, applied alike to real and generated images. Sources the
detector trained on are measured on their `test` split (people it never saw); sources it
never trained on ("unseen": another photo collection, another generator) on all their images.

Per source and condition:
- every source: the shares of its images called "likely synthetic", "uncertain", "no evidence
  of synthesis" and "no face found" -- at the shipped thresholds, as users see them;
- ranking figures against the other class pooled (faces found only): AP and ROC-AUC, and for
  generated sources the TPR at 1% FPR.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detectors.analysis import FaceAnalysis, FaceScorer, analyse_images
from detectors.chain import CONDITIONS, apply_condition
from detectors.outcomes import LIKELY_SYNTHETIC, NO_EVIDENCE, NO_FACE, UNCERTAIN
from detectors.scoring import DetectorHeads
from synthface.hub.publish import EVALUATION_TABLE
from synthface.io_utils import write_text_atomic

EVALUATION_FILE = "evaluation.json"


@dataclass
class EvalSource:
    """One labelled source: its images (paths or bytes) and names, and whether it is real."""

    label: str
    real: bool
    seen: bool
    names: list[str]
    load: Callable[[int], Any]  # index -> PIL RGB image (raises SynthfaceError if unreadable)


def tpr_at_fpr(labels: np.ndarray, scores: np.ndarray, fpr_target: float = 0.01) -> float:
    """The highest TPR whose FPR does not exceed `fpr_target` (a threshold that can actually be set)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(labels, scores)
    allowed = fpr <= fpr_target + 1e-12
    return float(tpr[allowed].max()) if allowed.any() else 0.0


def _shares(analyses: list[FaceAnalysis]) -> dict[str, float]:
    outcomes = [a.outcome for a in analyses]
    total = max(len(outcomes), 1)
    return {key: outcomes.count(value) / total for key, value in
            (("flagged", LIKELY_SYNTHETIC), ("uncertain", UNCERTAIN), ("no_evidence", NO_EVIDENCE),
             ("no_face", NO_FACE))}


def _probabilities(analyses: list[FaceAnalysis]) -> np.ndarray:
    return np.array([a.probability for a in analyses if a.probability is not None], dtype=np.float64)


def _ranking(own: np.ndarray, others: np.ndarray, real: bool) -> dict[str, float]:
    """AP / ROC-AUC of this source against the other class (synthetic = positive)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(own) == 0 or len(others) == 0:
        return {}
    negatives, positives = (own, others) if real else (others, own)
    labels = np.concatenate([np.zeros(len(negatives)), np.ones(len(positives))])
    scores = np.concatenate([negatives, positives])
    figures = {"ap": float(average_precision_score(labels, scores)), "roc_auc": float(roc_auc_score(labels, scores))}
    if not real:
        figures["tpr_at_1pct_fpr"] = tpr_at_fpr(labels, scores, 0.01)
    return figures


def evaluate_detector(
    scorer: FaceScorer,
    heads: DetectorHeads,
    sources: list[EvalSource],
    conditions: tuple[str, ...] = tuple(CONDITIONS),
    progress: bool = True,
) -> dict[str, Any]:
    """The report (JSON-ready): per condition, one row per source."""
    from tqdm.auto import tqdm

    from synthface.errors import SynthfaceError

    analyses: dict[str, dict[str, list[FaceAnalysis]]] = {c: {s.label: [] for s in sources} for c in conditions}
    unreadable: dict[str, int] = {s.label: 0 for s in sources}
    total = sum(len(s.names) for s in sources) * len(conditions)
    with tqdm(total=total, unit="img", desc="evaluate", disable=not progress, dynamic_ncols=True) as bar:
        for source in sources:
            for index in range(len(source.names)):
                try:
                    image = source.load(index)
                except SynthfaceError:
                    unreadable[source.label] += 1
                    bar.update(len(conditions))
                    continue
                for condition in conditions:
                    analyses[condition][source.label] += analyse_images([apply_condition(image, condition)],
                                                                        scorer, heads)
                    bar.update(1)
    report: dict[str, Any] = {
        "decision": heads.summary(),
        "sources": {s.label: {"class": "real" if s.real else "fake", "seen": s.seen, "images": len(s.names),
                              "unreadable": unreadable[s.label]} for s in sources},
        "conditions": {},
    }
    for condition in conditions:
        rows = {}
        by_class = {flag: np.concatenate([_probabilities(analyses[condition][s.label]) for s in sources
                                          if s.real == flag] or [np.zeros(0)]) for flag in (True, False)}
        for source in sources:
            found = analyses[condition][source.label]
            rows[source.label] = {**_shares(found),
                                  **_ranking(_probabilities(found), by_class[not source.real], source.real)}
        report["conditions"][condition] = rows
    return report


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_table(report: dict[str, Any]) -> str:
    """Markdown: one row per (source, condition), seen sources first, unseen marked."""
    decision = report["decision"]
    lines = [
        f"thresholds: likely synthetic at p >= {decision['threshold_synthetic']:.3f} (chosen for "
        f"{decision['target_fpr']:.0%} FPR on held-out real photos), no evidence below "
        f"{decision['threshold_real']:.3f}, uncertain in between or beyond feature distance "
        f"{decision['ood_limit']:.1f}",
        "",
        "| source | class | condition | images | AP | ROC-AUC | TPR@1%FPR | flagged | uncertain | no evidence "
        "| no face |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    order = sorted(report["sources"].items(), key=lambda item: (not item[1]["seen"], item[1]["class"], item[0]))
    for label, info in order:
        name = label if info["seen"] else f"{label} (unseen)"
        for condition, rows in report["conditions"].items():
            row = rows[label]
            lines.append(
                f"| {name} | {info['class']} | {condition} | {info['images'] - info['unreadable']} | "
                f"{_cell(row.get('ap'))} | {_cell(row.get('roc_auc'))} | {_cell(row.get('tpr_at_1pct_fpr'))} | "
                f"{_cell(row['flagged'])} | {_cell(row['uncertain'])} | {_cell(row['no_evidence'])} | "
                f"{_cell(row['no_face'])} |")
    return "\n".join(lines)


def write_report(report: dict[str, Any], out: str | Path) -> list[Path]:
    """`evaluation.json` (everything) and `evaluation.md` (the table) in `out`."""
    out = Path(out)
    paths = [out / EVALUATION_FILE, out / EVALUATION_TABLE]
    write_text_atomic(paths[0], json.dumps(report, indent=2) + "\n")
    write_text_atomic(paths[1], summary_table(report) + "\n")
    return paths
