"""How long `prepare_images` takes on the shared face photos: a cold build and a cached reload.

The trainer starts with `prepare_images`; a cold build must stay well under a minute
for the 18k-photo set on a 2-core machine, and a cached reload a few seconds.

    OMP_NUM_THREADS=1 python benchmarks/data_prepare.py [--faces DIR] [--resolution 64]

Prints a table and writes benchmarks/results/data_prepare.json.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from synthface.data import prepare_images  # noqa: E402
from synthface.data.workers import default_workers  # noqa: E402

from _results import save_results  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=REPO.parent / "shared" / "data" / "faces")
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    if not args.faces.is_dir():
        raise SystemExit(f"error: face photos not found at {args.faces}; pass --faces DIR")

    rows = []
    with tempfile.TemporaryDirectory(prefix="synthface-bench-") as cache:
        for run in ("cold build", "cached reload"):
            began = time.perf_counter()
            prep = prepare_images(args.faces, args.resolution, cache_dir=cache, num_workers=args.workers)
            seconds = time.perf_counter() - began
            rows.append({
                "run": run,
                "images": len(prep),
                "skipped": len(prep.skipped),
                "seconds": round(seconds, 2),
                "images_per_second": round(len(prep) / seconds, 1),
                "from_cache": prep.from_cache,
            })
        cache_bytes = sum(p.stat().st_size for p in Path(cache).glob("*.safetensors"))

    print(f"\nprepare_images({args.faces}, {args.resolution}) on {default_workers()} CPUs")
    print(f"{'run':<14} {'images':>7} {'skipped':>7} {'seconds':>8} {'img/s':>9}")
    for row in rows:
        print(f"{row['run']:<14} {row['images']:>7} {row['skipped']:>7} {row['seconds']:>8.2f} "
              f"{row['images_per_second']:>9.1f}")
    print(f"cache file: {cache_bytes / 2**20:.1f} MiB")
    result = {
        "benchmark": "data_prepare",
        "resolution": args.resolution,
        "cpus": default_workers(),
        "workers": args.workers or default_workers(),
        "machine": platform.platform(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "cache_mib": round(cache_bytes / 2**20, 1),
        "runs": rows,
    }
    save_results(REPO / "benchmarks" / "results" / "data_prepare.json", result)


if __name__ == "__main__":
    main()
