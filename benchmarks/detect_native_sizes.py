"""Detector quality on large images: real photos against generated faces at 1024/512/256/128 px.

The detector learned at avatar scale (training views of 32-128 px). This measures what
happens when the same faces arrive larger, as a photoreal generator's 1024 px output or
an upscaled profile picture would, with the image scored only at its own resolution and
with the default extra view at the detector's working side (see `detectors.scoring`).

At each size both classes are brought to that shorter side with the same Lanczos resize,
so size tells them nothing: the generated faces (native 1024 px) are scaled down, the
held-out real photos (178-250 px; no larger real faces are available here) are scaled up.
Upscaled photos are only a stand-in for large real photos, so the "own size" row, which
scores every image as it is, matters as much for the false-positive rate.

    synthface make-fakes --model pypi:random-face --out /tmp/rf-1024 --count 100 --seed-start 500000
    OMP_NUM_THREADS=2 python benchmarks/detect_native_sizes.py --fake /tmp/rf-1024

Seeds from 500000 on were never used for training. Writes
benchmarks/results/detect_native_sizes.json.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

import numpy as np
from PIL import Image

from detectors.evaluation import binary_metrics
from detectors.model import load_detector
from detectors.scoring import scaled_to_shorter_side
from detectors.splits import assign_splits
from synthface.pretrained import default_detector_spec

from _results import repo_relative, save_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "detect_native_sizes.json"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
MODES = {"native only": False, "native + working view": True}


def held_out_reals(folder: Path, count: int, seed: int) -> list[Path]:
    """`count` photos of the test split (identities the detector never trained on), in a seeded order."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    names = [p.relative_to(folder).as_posix() for p in files]
    test = [path for path, split in zip(files, assign_splits(names), strict=True) if split == "test"]
    random.Random(seed).shuffle(test)
    return test[:count]


def load_rgb(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fake", type=Path, required=True, help="Folder of large generated faces.")
    parser.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "faces")
    parser.add_argument("--model", default=None, help="Detector (default: the bundled one).")
    parser.add_argument("--sizes", default="1024,512,256,128")
    parser.add_argument("--num-real", type=int, default=200)
    parser.add_argument("--num-fake", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    model_spec = args.model or str(default_detector_spec())
    model = load_detector(model_spec)
    reals = [load_rgb(path) for path in held_out_reals(args.real, args.num_real, args.seed)]
    fakes = [load_rgb(path) for path in sorted(p for p in args.fake.iterdir()
                                               if p.suffix.lower() in IMAGE_SUFFIXES)[:args.num_fake]]
    if not reals or not fakes:
        raise SystemExit(f"need images in both {args.real} (test split) and {args.fake}")
    labels = np.array([0] * len(reals) + [1] * len(fakes))
    sizes: list[int | None] = [None, *(int(size) for size in args.sizes.split(","))]

    rows = []
    for side in sizes:
        images = [image if side is None else scaled_to_shorter_side(image, side) for image in reals + fakes]
        for mode, working_views in MODES.items():
            started = time.perf_counter()
            probability = model.score_images(images, working_views=working_views).probability
            metrics = binary_metrics(labels, probability, model.threshold)
            rows.append({"size": "own" if side is None else side, "mode": mode, **metrics,
                         "seconds": time.perf_counter() - started})

    header = f"{'size':>5}  {'scoring':<22} {'AP':>6} {'ROC-AUC':>7} {'fakes flagged':>13} {'reals flagged':>13}"
    print(f"detector {model_spec}: {len(reals)} held-out real photos vs {len(fakes)} faces from {args.fake}")
    print(header)
    for row in rows:
        print(f"{row['size']!s:>5}  {row['mode']:<22} {row['ap']:6.3f} {row['roc_auc']:7.3f} "
              f"{row['tpr_at_threshold']:13.1%} {row['fpr_at_threshold']:13.1%}")
    result = {"model": repo_relative(model_spec), "fake": str(args.fake), "num_real": len(reals),
              "num_fake": len(fakes), "threshold": model.threshold, "rows": rows}
    save_results(RESULTS, result)


if __name__ == "__main__":
    main()
