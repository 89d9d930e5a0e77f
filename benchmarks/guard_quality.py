"""How well a generator's memorisation guard does its job, on the real training set.

For the guard stored with a model (default: the bundled one) it reports, side by side:
- the line (threshold) and the real-to-real nearest-neighbour distance quantiles;
- near-copies caught: `--copies` training images shifted 1 px, every other one mirrored,
  re-saved as JPEG 75 (what a memorising generator's output roughly looks like) -- the
  share under the line and the share matched to the right training image;
- false drops: the share of `--generated` ordinary generated images (psi 0.7 and 1.0)
  that fall under the line and would be dropped.
Writes benchmarks/results/guard_quality.json.

    python benchmarks/guard_quality.py [--model DIR] [--data ../shared/data/faces]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from _results import repo_relative, save_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "guard_quality.json"


def quantiles(values: np.ndarray, qs: tuple[float, ...]) -> dict[str, float]:
    return {f"q{q:g}": round(float(np.quantile(values, q)), 4) for q in qs}


def main() -> None:
    from synthface.data import prepare_images
    from synthface.generator.images import to_uint8
    from synthface.generator.sampling import load_generator
    from synthface.generator.seeds import z_from_seeds
    from synthface.guard import load_guard, near_copies, nearest_distances
    from synthface.pretrained import default_generator_spec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="Generator folder with a guard (default: bundled).")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "faces"))
    parser.add_argument("--copies", type=int, default=500)
    parser.add_argument("--generated", type=int, default=2000)
    args = parser.parse_args()
    model = Path(args.model or default_generator_spec())
    guard = load_guard(model)
    if guard is None:
        raise SystemExit(f"{model} has no memorisation guard; run synthface build-guard first")
    images = prepare_images(args.data, resolution=64, progress=False).images
    if len(images) != guard.info.get("num_images"):
        print(f"warning: {len(images)} prepared images, the guard was built on {guard.info.get('num_images')}")

    reduced, residual = guard.project(guard.embedder(images))
    real_real, _ = nearest_distances(reduced, guard.bank, residual, guard.residual, exclude_self=True)
    picked = np.random.default_rng(0).choice(len(images), args.copies, replace=False)
    copies = guard.check(near_copies(images[torch.from_numpy(picked)]))
    G = load_generator(str(model))
    generated = {}
    for psi in (0.7, 1.0):
        with torch.no_grad():
            fakes = to_uint8(G(z_from_seeds(range(args.generated), G.z_dim), psi=psi, noise_mode="const"))
        check = guard.check(torch.from_numpy(fakes).permute(0, 3, 1, 2))
        generated[f"psi{psi:g}"] = {"false_drop_rate": float(check.flagged.mean()),
                                    **quantiles(check.distances, (0.001, 0.01, 0.5))}
    result = {
        "model": repo_relative(model),
        "feature": guard.info.get("feature"),
        "threshold": round(guard.threshold, 4),
        "real_to_real": quantiles(real_real, (0.001, 0.01, 0.02, 0.05, 0.5)),
        "near_copies": {"count": args.copies, "caught": float(copies.flagged.mean()),
                        "matched_right_image": float((copies.nearest == picked).mean()),
                        **quantiles(copies.distances, (0.5, 0.99, 1.0))},
        "generated": generated,
    }
    print(f"{'measure':34s} value")
    print(f"{'line (threshold)':34s} {result['threshold']}")
    print(f"{'near-copies caught':34s} {result['near_copies']['caught']:.3f} "
          f"(right image {result['near_copies']['matched_right_image']:.3f}, max distance "
          f"{result['near_copies']['q1']})")
    for name, entry in generated.items():
        print(f"{'false drops, generated ' + name:34s} {entry['false_drop_rate']:.4f} (of {args.generated})")
    save_results(RESULTS, result)


if __name__ == "__main__":
    main()
