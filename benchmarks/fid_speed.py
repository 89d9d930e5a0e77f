"""How long does an FID-10k take here? Inception throughput plus the fixed maths costs.

Measures, on the chosen device: TF-Inception feature extraction (img/s, per batch
size, after a warm-up batch), the 2048x2048 ``sqrtm`` of one FID, and one full KID
(100 subsets of 1000). Prints a table, an estimate for scoring 10k generated images
against a reference set, and writes ``benchmarks/results/fid_speed.json``.

    OMP_NUM_THREADS=2 nice -n 10 python benchmarks/fid_speed.py --device cpu --batch-sizes 8 32
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from synthface.metrics.fid import frechet_distance
from synthface.metrics.inception import FEATURE_DIM, InceptionFeatures
from synthface.metrics.kid import kernel_inception_distance

from _results import save_results

RESULTS = Path(__file__).resolve().parent / "results" / "fid_speed.json"


def time_extraction(extractor: InceptionFeatures, batch_size: int, batches: int, resolution: int) -> float:
    """Images per second over `batches` timed batches, after one untimed warm-up batch."""
    images = torch.randint(0, 256, (batch_size, 3, resolution, resolution), dtype=torch.uint8)
    extractor.extract_batch(images)
    if extractor.device.type == "cuda":
        torch.cuda.synchronize()
    began = time.perf_counter()
    for _ in range(batches):
        extractor.extract_batch(images)
    if extractor.device.type == "cuda":
        torch.cuda.synchronize()
    return batches * batch_size / (time.perf_counter() - began)


def time_fid_maths(num_generated: int, num_reference: int) -> tuple[float, float]:
    """Seconds for one 2048-d Frechet distance (sqrtm) and one standard KID."""
    rng = np.random.default_rng(0)
    gen = np.abs(rng.standard_normal((num_generated, FEATURE_DIM))).astype(np.float32)
    ref = np.abs(rng.standard_normal((num_reference, FEATURE_DIM))).astype(np.float32)
    began = time.perf_counter()
    sigma_gen = np.cov(gen.astype(np.float64), rowvar=False)
    sigma_ref = np.cov(ref.astype(np.float64), rowvar=False)
    frechet_distance(gen.mean(0), sigma_gen, ref.mean(0), sigma_ref)
    fid_seconds = time.perf_counter() - began
    began = time.perf_counter()
    kernel_inception_distance(gen, ref, num_subsets=100, max_subset_size=1000)
    return fid_seconds, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--batches", type=int, default=2, help="timed batches per batch size")
    parser.add_argument("--resolution", type=int, default=64, help="input size (always resized to 299)")
    parser.add_argument("--num", type=int, default=10000, help="generated samples to estimate for")
    parser.add_argument("--reference", type=int, default=10000, help="reference images to estimate for")
    parser.add_argument("--skip-maths", action="store_true", help="do not time sqrtm and KID")
    args = parser.parse_args()

    extractor = InceptionFeatures(device=args.device)
    rows = []
    for batch_size in args.batch_sizes:
        rate = time_extraction(extractor, batch_size, args.batches, args.resolution)
        rows.append({"batch_size": batch_size, "images_per_second": round(rate, 3)})
        print(f"batch {batch_size:>4}: {rate:8.2f} img/s", flush=True)
    best = max(row["images_per_second"] for row in rows)
    fid_seconds, kid_seconds = (float("nan"), float("nan")) if args.skip_maths else time_fid_maths(
        min(args.num, 2000), min(args.reference, 2000)
    )
    inception_seconds = (args.num + args.reference) / best
    maths = 0.0 if args.skip_maths else fid_seconds + kid_seconds
    print(f"FID maths (cov + sqrtm 2048): {fid_seconds:.1f} s   KID 100x1000: {kid_seconds:.1f} s")
    print(
        f"estimate: {args.num} generated + {args.reference} reference images = "
        f"{inception_seconds / 60:.1f} min of Inception + {maths:.0f} s maths "
        f"(reference part is cached after the first run; the generator's own time is extra)"
    )
    result = {
        "device": str(extractor.device),
        "device_name": torch.cuda.get_device_name(extractor.device)
        if extractor.device.type == "cuda"
        else platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "input_resolution": args.resolution,
        "extraction": rows,
        "fid_maths_seconds": fid_seconds,
        "kid_seconds": kid_seconds,
        "estimate_minutes": {
            "num_generated": args.num,
            "num_reference": args.reference,
            "inception_minutes": round(inception_seconds / 60, 2),
            "generated_only_minutes": round(args.num / best / 60, 2),
        },
        "note": "CPU numbers were taken on a shared, busy machine unless stated otherwise",
    }
    save_results(RESULTS, result)


if __name__ == "__main__":
    main()
