"""FID against kimg: how a generator run improved, from the snapshots it kept.

Scores every `RUN/generators/kimg-*` milestone the trainer kept (`--milestone-kimg`), plus any
`--extra FOLDER=KIMG` generator folders (older snapshots kept by hand), with the same number of
samples against the same cached reference statistics (a seeded random subset of the training
photos), so the points are comparable with each other. FID from fewer samples is biased
upwards, so compare a curve's points with each other, not with an FID-10k. A run started with
`--init-from` counts on from its model's kimg (each export's metrics.json says how far its
generator trained, not counting D-only warm-up), and its points are drawn as a series of their own.

Points accumulate: a point already in the results file (same folder, kimg and sample count) is
not recomputed, so the curve grows as the run goes on. Writes
benchmarks/results/fid_curve_faces64.json and docs/fid-vs-kimg.png.

    OMP_NUM_THREADS=2 python benchmarks/fid_curve.py --run runs/faces64 --num 2000 \\
        --extra runs/faces64-126k/generator=126   [--kimg 500,600: only those milestones]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _results import repo_relative, save_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "fid_curve_faces64.json"
FIGURE = ROOT / "docs" / "fid-vs-kimg.png"
FACES = ROOT.parent / "shared" / "data" / "faces"


def init_kimg(run: Path) -> float:
    """kimg the run's --init-from model had been trained for (0 for a run from random weights)."""
    config = run / "train_config.json"
    return float(json.loads(config.read_text()).get("init_kimg") or 0.0) if config.is_file() else 0.0


def generator_kimg(folder: Path, run_offset: float) -> float:
    """How far a milestone's generator was trained: its metrics.json says (warm starts and their D-only
    warm-ups included); older exports lack it, so their name plus the run's init kimg."""
    metrics = folder / "metrics.json"
    if metrics.is_file():
        kimg = json.loads(metrics.read_text()).get("kimg")
        if kimg is not None:
            return float(kimg)
    return run_offset + float(folder.name.removeprefix("kimg-"))


def milestones(run: Path) -> list[tuple[Path, float]]:
    """(generator folder, kimg) of each milestone the trainer kept in RUN/generators; a warm-started
    run's kimg count on from its init model's, so its points continue that model's curve."""
    offset = init_kimg(run)
    found = ((path, generator_kimg(path, offset)) for path in (run / "generators").glob("kimg-*"))
    return sorted(found, key=lambda item: item[1])


def parse_extra(spec: str) -> tuple[Path, float]:
    folder, _, kimg = spec.rpartition("=")
    if not folder:
        raise SystemExit(f"--extra {spec!r}: give FOLDER=KIMG")
    return Path(folder), float(kimg)


def series_of(point: dict) -> str:
    """The run a point belongs to, so each run draws its own line (points from before runs were
    recorded are the bundled generator's run, runs/faces64, and its hand-kept snapshots)."""
    return point.get("run", "runs/faces64")


def plot(points: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=120)
    grouped: dict[tuple[int, str, bool], list[dict]] = {}
    for point in sorted(points, key=lambda p: p["kimg"]):
        grouped.setdefault((point["num_samples"], series_of(point), bool(point.get("warm_start"))), []).append(point)
    # Legend in training order: by sample count, then each run's first kimg.
    in_training_order = sorted(grouped.items(), key=lambda item: (item[0][0], item[1][0]["kimg"], item[0][1]))
    for (num, run, warm), chosen in in_training_order:
        label = f"{run}, FID-{num // 1000}k" + (", warm-started" if warm else "")
        ax.plot([p["kimg"] for p in chosen], [p["fid"] for p in chosen], "s--" if warm else "o-", label=label)
    ax.set_xlabel("kimg (thousands of real images shown)")
    ax.set_ylabel("FID (lower is better)")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # beside the curve, not over it
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, default=ROOT / "runs" / "faces64")
    parser.add_argument("--extra", action="append", default=[], help="FOLDER=KIMG of another snapshot.")
    parser.add_argument("--data", default=str(FACES))
    parser.add_argument("--num", type=int, default=2000, help="Generated samples per point.")
    parser.add_argument("--num-reference", type=int, default=10000)
    parser.add_argument("--psi", type=float, default=1.0)
    parser.add_argument("--kimg", default=None,
                        help="Only these milestones, e.g. 500,600 (rounded kimg); the rest wait for a later run.")
    args = parser.parse_args()

    from synthface.data import prepare_images
    from synthface.generator.sampling import load_generator
    from synthface.metrics.evaluate import compute_generator_metrics
    from synthface.metrics.reference import random_subset, reference_stats

    todo = milestones(args.run)
    if args.kimg:
        try:
            wanted = {round(float(k)) for k in args.kimg.split(",")}
        except ValueError:
            raise SystemExit(f"--kimg {args.kimg!r}: give kimg numbers separated by commas, e.g. 500,600") from None
        todo = [(folder, kimg) for folder, kimg in todo if round(kimg) in wanted]
    warm_start = init_kimg(args.run) > 0
    todo += [parse_extra(spec) for spec in args.extra]
    if not todo:
        raise SystemExit(f"no snapshots: {args.run}/generators is empty and no --extra was given")
    points = json.loads(RESULTS.read_text())["points"] if RESULTS.exists() else []
    done = {(p["model"], p["kimg"], p["num_samples"]) for p in points}
    reference = None
    for folder, kimg in todo:
        model = repo_relative(folder)
        if (model, kimg, args.num) in done:
            continue
        G = load_generator(str(folder))
        if reference is None:
            prepared = prepare_images(args.data, resolution=G.img_resolution, progress=False)
            if args.num_reference < len(prepared.images):
                prepared = random_subset(prepared, args.num_reference, 0)
            reference = reference_stats(prepared, device="cpu")
        began = time.perf_counter()
        result = compute_generator_metrics(G, reference, num_samples=args.num, psi=args.psi, device="cpu")
        point = {"model": model, "kimg": kimg, "num_samples": args.num, "num_reference": result["num_reference"],
                 "psi": args.psi, "fid": result["fid"], "kid_mean": result["kid_mean"],
                 "seconds": round(time.perf_counter() - began, 1)}
        run_dir = args.run.resolve()
        if folder.resolve().is_relative_to(run_dir):
            point["run"] = repo_relative(args.run)
            if warm_start:
                point["warm_start"] = True
        points.append(point)
        print(f"{kimg:8.1f} kimg  FID {point['fid']:7.2f}  KID {point['kid_mean']:.4f}  ({model})", flush=True)
        save_results(RESULTS, {"points": points}, quiet=True)  # after each point: a kill loses one point
    points.sort(key=lambda p: (p["num_samples"], p["kimg"]))
    print("\n| kimg | FID | KID | samples |\n| --- | --- | --- | --- |")
    for p in points:
        print(f"| {p['kimg']:.1f} | {p['fid']:.2f} | {p['kid_mean']:.4f} | {p['num_samples']} |")
    save_results(RESULTS, {"points": points})
    plot(points, FIGURE)


if __name__ == "__main__":
    main()
