"""Two (or more) detectors side by side on the same held-out test splits: AP per condition and generator.

Why: a detector leg on a new generator's faces should raise that generator's figures without
losing the others'; comparing each detector's card is not enough, because the cards may have been
measured on different fakes. This loads the real photos and every fake folder once, scores them
with each detector under the same conditions (clean, JPEG, resize, blur, crop) and prints one
table: for each condition and generator, the first model's AP, then each other model's.

    OMP_NUM_THREADS=2 python benchmarks/detector_compare.py --model OLD --model detectors/weights \
        --fake fakes/ours --fake fakes/random-face --real ../shared/data/faces

Writes benchmarks/results/detector_compare.json (the full evaluation reports, per model).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from detectors.data import load_split_source
from detectors.evaluation import evaluate_detector
from detectors.model import load_detector

from _results import save_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "detector_compare.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", required=True,
                        help="Detector folder; repeat it, the first is the baseline.")
    parser.add_argument("--fake", action="append", required=True, help="Generated images folder; repeatable.")
    parser.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "faces"))
    parser.add_argument("--split", default="test", help="Split of reals and fakes to score (default test).")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if len(args.model) < 2:
        parser.error("give at least two --model")

    detectors = [load_detector(spec) for spec in args.model]
    sizes = {d.train_resolution for d in detectors}
    if len(sizes) != 1:
        parser.error(f"the detectors train at different resolutions ({sorted(sizes)}): compare like with like")
    size = sizes.pop()
    reals = load_split_source(args.real, size)
    fakes = [load_split_source(folder, size) for folder in args.fake]
    reports = [evaluate_detector(d, reals, fakes, real_split=args.split, fake_split=args.split) for d in detectors]

    generators = list(reports[0]["conditions"]["clean"])
    print(f"AP (combined score), {args.split} split; each cell: " + " -> ".join(f"[{i}]" for i in range(len(reports))))
    for i, spec in enumerate(args.model):
        print(f"  [{i}] {spec}")
    cell = max(6 * len(reports) + 4 * (len(reports) - 1), *(len(name) for name in generators))
    print(f"{'condition':10s}" + "".join(f" {name:>{cell}s}" for name in generators))
    table: dict[str, dict[str, list[float]]] = {}
    for condition in reports[0]["conditions"]:
        values = {g: [r["conditions"][condition][g]["combined"]["ap"] for r in reports] for g in generators}
        table[condition] = values
        cells = (" -> ".join(f"{v:.4f}" for v in values[g]) for g in generators)
        print(f"{condition:10s}" + "".join(f" {c:>{cell}s}" for c in cells))
    kept = [{k: v for k, v in r.items() if not k.startswith("_")} for r in reports]  # raw scores stay out
    save_results(args.out, {"models": args.model, "fakes": args.fake, "real": args.real, "split": args.split,
                            "ap_combined": table, "reports": kept})


if __name__ == "__main__":
    main()
