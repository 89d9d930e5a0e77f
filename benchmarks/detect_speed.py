"""Detector speed on CPU: images/s at 64 and 256 px (batched), and the cold start of `synthface detect`.

Cold start is the wall time of a fresh `python -m synthface.cli detect ONE.png --json` process,
for an image that provenance settles (signed: the classifier is never loaded) and for one
that needs the classifier (unsigned: the model is loaded and scored with numpy, no torch).
The time of importing `synthface.cli` alone is reported too, to separate the CLI's own
start from the detector's. Throughput is measured for both scoring backends.
Uses a throwaway key folder. Writes benchmarks/results/detect_speed.json.

    OMP_NUM_THREADS=1 python benchmarks/detect_speed.py [--model DIR] [--images 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from _results import print_measures, save_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "detect_speed.json"


def _face_like(size: int, seed: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    blob = np.exp(-(((xx - 0.5) / 0.25) ** 2 + ((yy - 0.45) / 0.3) ** 2))
    rgb = np.stack([120 + 100 * blob, 90 + 80 * blob + 20 * yy, 70 + 60 * blob + 30 * xx], axis=-1)
    return np.clip(rgb + np.random.default_rng(seed).normal(0, 4, rgb.shape), 0, 255).astype(np.uint8)


def _stand_in_model(folder: Path) -> Path:
    """A detector of the default architecture with neutral heads: speed does not depend on the weights."""
    from detectors.calibration import PlattCalibrator
    from detectors.model import SynthDetector

    model = SynthDetector()
    dims = 2 * model.spectral_bins
    head = {"mean": np.zeros(dims), "scale": np.ones(dims), "coef": np.zeros(dims), "intercept": np.zeros(1)}
    model.set_heads(head, PlattCalibrator(), PlattCalibrator(), (1.0, 1.0, 0.0))
    model.save_pretrained(str(folder))
    return folder


def throughput(model_dir: Path, size: int, count: int, backend: str) -> float:
    """Images/s of one backend: numpy (what `detect` runs) or torch (what eval-detector runs)."""
    from detectors.model import load_detector
    from detectors.scoring import load_numpy_detector

    model = load_numpy_detector(model_dir) if backend == "numpy" else load_detector(model_dir)
    images = [_face_like(size, seed) for seed in range(count)]
    model.score_images(images[:8])  # warm-up
    began = time.perf_counter()
    model.score_images(images)
    return count / (time.perf_counter() - began)


def _timed(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - began
    if result.returncode not in (0, 1):
        raise SystemExit(f"command failed ({result.returncode}): {' '.join(command)}\n{result.stderr}")
    return elapsed


def cold_starts(model_dir: Path, work: Path, repeats: int) -> dict[str, float]:
    from synthface.provenance import (
        Payload,
        generation_assertion,
        image_id_from,
        init_keys,
        load_signing_identity,
        mark_and_sign,
    )

    env = {**os.environ, "SYNTHFACE_HOME": str(work / "home"), "PYTHONPATH": str(ROOT)}
    init_keys(work / "home" / "keys")
    identity = load_signing_identity(key_dir=work / "home" / "keys")
    assertion = generation_assertion(generator_id="bench", checkpoint_sha256="00" * 32, seed=1, psi=0.7,
                                     persona_id="bench-1")
    signed = mark_and_sign(_face_like(64, 1), identity, assertion, Payload(image_id_from("bench-1"),
                                                                          identity.key_id))
    signed_path = signed.write(work / "signed.png")
    plain_path = work / "plain.png"
    Image.fromarray(_face_like(64, 2)).save(plain_path)
    python = [sys.executable]
    commands = {
        "import_synthface_cli": python + ["-c", "import synthface.cli"],
        "detect_signed_png": python + ["-m", "synthface.cli", "detect", str(signed_path), "--json",
                                       "--model", str(model_dir)],
        "detect_unsigned_png_classifier": python + ["-m", "synthface.cli", "detect", str(plain_path),
                                                    "--json", "--model", str(model_dir)],
    }
    return {name: statistics.median(_timed(cmd, env) for _ in range(repeats))
            for name, cmd in commands.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="A trained detector (default: a stand-in, same size).")
    parser.add_argument("--images", type=int, default=256, help="Images per throughput measurement at 64 px.")
    parser.add_argument("--repeats", type=int, default=3, help="Cold starts per case (median reported).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = args.model or _stand_in_model(work / "model")
        rates = {
            f"images_per_s_{size}px_{backend}": throughput(model_dir, size, count, backend)
            for backend in ("numpy", "torch")
            for size, count in ((64, args.images), (256, max(16, args.images // 8)))
        }
        starts = cold_starts(model_dir, work, args.repeats)
    result = {
        **{k: round(v, 1) for k, v in rates.items()},
        **{f"cold_start_s_{k}": round(v, 2) for k, v in starts.items()},
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "model": str(args.model) if args.model else "stand-in (default architecture)",
        "target": "cold start for one image < 2 s on CPU",
    }
    print_measures(result)
    save_results(RESULTS, result)


if __name__ == "__main__":
    main()
