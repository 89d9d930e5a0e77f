"""Milliseconds per image to watermark, sign and verify, at 64 and 256 px.

Single process, then one worker process per core (throughput divided by cores gives the
per-core figure the target is stated in: watermark + sign <= 5 ms per 64x64 image per core).
Uses a throwaway key folder, never the user's keys. Writes benchmarks/results/provenance_speed.json.

    OMP_NUM_THREADS=1 python benchmarks/provenance_speed.py [--images 200]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from synthface.provenance import (
    Payload,
    embed_watermark,
    generation_assertion,
    init_keys,
    load_signing_identity,
    sign_image,
    trust_anchors_pem,
    verify_image,
)
from synthface.provenance.imageio import encode_pixels

from _results import save_results

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "provenance_speed.json"


def _images(size: int, count: int, seed: int) -> list[np.ndarray]:
    """Blocky low-pass noise plus grain: PNG sizes like real faces, not incompressible noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        coarse = rng.integers(0, 256, (size // 8, size // 8, 3)).astype(np.float64)
        image = np.kron(coarse, np.ones((8, 8, 1))) + rng.normal(0, 6, (size, size, 3))
        out.append(np.clip(image, 0, 255).astype(np.uint8))
    return out


def _run(key_dir: str, size: int, count: int, seed: int) -> dict[str, float]:
    """Time each stage over `count` images in this process; returns total seconds per stage."""
    identity = load_signing_identity(key_dir=Path(key_dir))
    anchors = trust_anchors_pem(key_dir=Path(key_dir))
    images = _images(size, count, seed)
    totals = {"watermark": 0.0, "encode": 0.0, "sign": 0.0, "verify": 0.0}
    # One warm-up round so c2pa's one-off setup is not billed to the first image.
    warm = encode_pixels(embed_watermark(images[0], Payload(1, identity.key_id)), "png")
    verify_image(sign_image(warm, identity, {"seed": 0}, check_watermark=False).data, anchors)
    for index, pixels in enumerate(images):
        payload = Payload(index, identity.key_id)
        assertion = generation_assertion(
            generator_id="bench", checkpoint_sha256="0" * 64, seed=index, psi=0.7, persona_id=str(index)
        )
        t0 = time.perf_counter()
        marked = embed_watermark(pixels, payload)
        t1 = time.perf_counter()
        encoded = encode_pixels(marked, "png")
        t2 = time.perf_counter()
        signed = sign_image(
            encoded, identity, assertion, fmt="png", watermark_payload=payload, check_watermark=False
        )
        t3 = time.perf_counter()
        report = verify_image(signed.data, anchors)
        t4 = time.perf_counter()
        if not report.ok:
            raise SystemExit(f"error: benchmark image {index} did not verify: {report.verdict}")
        totals["watermark"] += t1 - t0
        totals["encode"] += t2 - t1
        totals["sign"] += t3 - t2
        totals["verify"] += t4 - t3
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    rows = []
    with tempfile.TemporaryDirectory() as key_dir:
        init_keys(Path(key_dir))
        for size in (64, 256):
            single = _run(key_dir, size, args.images, 0)
            per_image = {k: v / args.images * 1e3 for k, v in single.items()}
            start = time.perf_counter()
            with ProcessPoolExecutor(cores) as pool:
                list(pool.map(_run, [key_dir] * cores, [size] * cores, [args.images] * cores, range(cores)))
            wall = time.perf_counter() - start
            # Wall time includes process start-up and per-worker warm-up, so this is conservative.
            parallel_ms = wall / (args.images * cores) * 1e3
            rows.append(
                {
                    "size": size,
                    "images": args.images,
                    "single_process_ms": per_image,
                    "watermark_plus_sign_ms": sum(per_image[k] for k in ("watermark", "encode", "sign")),
                    "all_cores": cores,
                    "all_cores_ms_per_image_all_stages": parallel_ms,
                    "all_cores_images_per_second": 1e3 / parallel_ms,
                }
            )
    print(
        f"{'px':>4} {'watermark':>10} {'encode':>8} {'sign':>8} {'verify':>8} {'wm+enc+sign':>12} "
        f"{f'all {cores} cores, ms/img (all stages)':>34}"
    )
    for row in rows:
        ms = row["single_process_ms"]
        stages = f"{ms['watermark']:10.2f} {ms['encode']:8.2f} {ms['sign']:8.2f} {ms['verify']:8.2f}"
        totals = f"{row['watermark_plus_sign_ms']:12.2f} {row['all_cores_ms_per_image_all_stages']:34.2f}"
        print(f"{row['size']:>4} {stages} {totals}")
    save_results(RESULTS, {"rows": rows})


if __name__ == "__main__":
    main()
