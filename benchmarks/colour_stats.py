"""Colour statistics of generators against the training photos: has augmentation leaked into G?

Why: the discriminator's inputs get brightness (+-0.2), saturation and contrast (x0.5-1.5) jitter
with probability p (synthface/training/augment.py). ADA's argument says G cannot learn that jitter
while p stays under ~0.8, but long runs spent time near 0.9, and a G that learnt it makes faces whose
overall brightness and contrast vary more than the photos'. Those statistics are cheap to measure
from pixels, so this prints them side by side (values in -1..1, psi 1, seeds 0..N-1):
- mean: per-channel mean over all pixels;
- brightness spread: std over images of each image's mean (the brightness jitter adds 0.115);
- contrast: mean over images of each image's pixel std (contrast jitter scales it);
- saturation: mean over pixels of the std across the three channels.
Writes benchmarks/results/colour_stats.json.

    python benchmarks/colour_stats.py [--model DIR ...] [--data ../shared/data/faces] [--num 4000] [--note TEXT]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from _results import repo_relative, save_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "colour_stats.json"


def colour_stats(images: torch.Tensor) -> dict[str, float]:
    """Statistics of float images [N, 3, H, W] in -1..1."""
    per_image_mean = images.mean(dim=(1, 2, 3))
    return {
        "mean_r": round(float(images[:, 0].mean()), 4),
        "mean_g": round(float(images[:, 1].mean()), 4),
        "mean_b": round(float(images[:, 2].mean()), 4),
        "brightness_spread": round(float(per_image_mean.std()), 4),
        "contrast": round(float(images.flatten(1).std(dim=1).mean()), 4),
        "saturation": round(float(images.std(dim=1).mean()), 4),
    }


def generated_images(model: str, num: int, batch: int = 250) -> torch.Tensor:
    from synthface.generator.sampling import load_generator
    from synthface.generator.seeds import z_from_seeds

    G = load_generator(model, "cpu")
    chunks = []
    with torch.no_grad():
        for start in range(0, num, batch):
            z = z_from_seeds(range(start, min(start + batch, num)), G.z_dim)
            chunks.append(G(z, psi=1.0).clamp(-1, 1))
    return torch.cat(chunks)


def main() -> None:
    from synthface.data import prepare_images
    from synthface.generator.images import uint8_to_float
    from synthface.pretrained import default_generator_spec

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="Generator folder (repeatable; default: bundled).")
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "faces"))
    parser.add_argument("--num", type=int, default=4000, help="Generated images per model.")
    parser.add_argument("--note", default="", help="What the models are, kept in the results file.")
    args = parser.parse_args()
    photos = prepare_images(args.data, resolution=64, progress=False).images
    rows = {"training photos": colour_stats(uint8_to_float(photos))}
    for model in args.model or [str(default_generator_spec())]:
        rows[repo_relative(model)] = colour_stats(generated_images(model, args.num))
    columns = list(next(iter(rows.values())))
    print(f"{'':44s}" + "".join(f"{name:>18s}" for name in columns))
    for name, stats in rows.items():
        print(f"{name[-44:]:44s}" + "".join(f"{stats[c]:18.4f}" for c in columns))
    save_results(RESULTS, {"note": args.note, "num_generated": args.num, "psi": 1.0, "seeds": f"0-{args.num - 1}",
                           "num_photos": len(photos), "rows": rows})


if __name__ == "__main__":
    from synthface.errors import SynthfaceError

    try:
        main()
    except SynthfaceError as err:  # a missing data folder or model: one line, not a traceback
        raise SystemExit(f"error: {err}") from None
