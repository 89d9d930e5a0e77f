"""`synthface detect` speed on 1024 px JPEGs: this checkout against an earlier one, side by side.

Both run as the user runs them, a fresh `python -m synthface.cli detect ... --json` process,
in interleaved rounds (baseline, new, new, baseline, ...) so machine noise hits both alike:

- folder: one process over a folder of `--images` 1024 px JPEGs (q90) -> images/s;
- cold start: one process for one such JPEG -> seconds, imports and model load included.

The baseline is another commit (default: the last one before the canonical-face detector),
checked out in a temporary git worktree and put first on PYTHONPATH, so it runs its own code
and its own bundled detector. The photos are LFW people enlarged to 1024 px when the shared
faces folder is there, else the bundled generator's faces enlarged; neither carries C2PA or a
watermark, so every image reaches the classifier. Writes benchmarks/results/detect_speed.json.

    python benchmarks/detect_speed.py [--baseline-ref a25aea5] [--images 40] [--rounds 5]
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

from _results import save_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "detect_speed.json"
FACES = ROOT.parent / "shared" / "data" / "faces"
BASELINE_REF = "a25aea5"  # the bundled patch-CNN detector (v12) scored whole images at native resolution


def make_photos(folder: Path, count: int) -> str:
    """`count` 1024 px JPEGs in `folder`; returns what they are."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    lfw = sorted((FACES / "lfw").rglob("*.jpg"))[::97][:count] if (FACES / "lfw").is_dir() else []
    if len(lfw) == count:
        for index, path in enumerate(lfw):
            with Image.open(path) as image:
                image.convert("RGB").resize((1024, 1024), Image.Resampling.LANCZOS).save(
                    folder / f"{index:03d}.jpg", quality=90)
        return "LFW photos enlarged to 1024 px (Lanczos), JPEG q90"
    import torch

    from synthface.generator.images import to_uint8
    from synthface.generator.sampling import load_generator
    from synthface.generator.seeds import z_from_seeds
    from synthface.pretrained import default_generator_spec

    generator = load_generator(default_generator_spec())
    with torch.no_grad():
        faces = to_uint8(generator(z_from_seeds(list(range(count)), generator.z_dim), psi=0.7, noise_mode="const"))
    for index, pixels in enumerate(faces):
        Image.fromarray(pixels).resize((1024, 1024), Image.Resampling.LANCZOS).save(folder / f"{index:03d}.jpg",
                                                                                   quality=90)
    return "bundled generator faces enlarged to 1024 px (Lanczos), JPEG q90"


def timed_detect(code: Path, paths: list[str]) -> float:
    """Wall seconds of one `detect --json` process running `code`'s synthface on `paths`."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("SYNTHFACE_DETECTOR", None)
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "synthface.cli", "detect", *paths, "--json"], env=env,
                          capture_output=True, text=True, cwd=code)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"detect failed in {code}: {done.stderr.strip().splitlines()[-1:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline-ref", default=BASELINE_REF, help="Commit to compare with.")
    parser.add_argument("--images", type=int, default=40, help="1024 px JPEGs in the folder run.")
    parser.add_argument("--rounds", type=int, default=5, help="Interleaved rounds (medians are reported).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        what = make_photos(scratch_dir / "photos", args.images)
        baseline = scratch_dir / "baseline"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(baseline), args.baseline_ref], cwd=ROOT,
                       check=True)
        try:
            folder, one = str(scratch_dir / "photos"), [str(scratch_dir / "photos" / "000.jpg")]
            codes = {"baseline": baseline, "new": ROOT}
            runs: dict[str, dict[str, list[float]]] = {name: {"folder_s": [], "cold_s": []} for name in codes}
            for round_index in range(args.rounds):
                order = list(codes) if round_index % 2 == 0 else list(reversed(codes))
                for name in order:
                    runs[name]["folder_s"].append(timed_detect(codes[name], [folder]))
                    runs[name]["cold_s"].append(timed_detect(codes[name], one))
                print(f"round {round_index + 1}/{args.rounds}: " + ", ".join(
                    f"{n} {runs[n]['folder_s'][-1]:.1f} s folder, {runs[n]['cold_s'][-1]:.2f} s one" for n in codes))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(baseline)], cwd=ROOT, check=False)
    summary = {name: {"images_per_s": round(args.images / statistics.median(r["folder_s"]), 2),
                      "cold_start_s": round(statistics.median(r["cold_s"]), 3),
                      "folder_seconds": [round(s, 2) for s in r["folder_s"]],
                      "cold_start_seconds": [round(s, 3) for s in r["cold_s"]]} for name, r in runs.items()}
    result = {
        "photos": what, "images": args.images, "rounds": args.rounds, "baseline_ref": args.baseline_ref,
        "cpu_count": os.cpu_count(), **summary,
        "speedup_folder": round(summary["new"]["images_per_s"] / summary["baseline"]["images_per_s"], 2),
        "targets": {"images_per_s": ">= 5", "cold_start_s": "< 2"},
    }
    print(f"{'':10s} {'img/s (folder)':>15s} {'cold start s':>13s}")
    for name in codes:
        print(f"{name:10s} {summary[name]['images_per_s']:15.2f} {summary[name]['cold_start_s']:13.3f}")
    print(f"speed-up on the folder: {result['speedup_folder']}x")
    save_results(RESULTS, result)


if __name__ == "__main__":
    main()
