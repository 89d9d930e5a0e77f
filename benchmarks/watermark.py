"""Watermark quality and robustness at 64, 128 and 256 px, and its false-positive rate.

For face crops from ../shared/data/faces it reports PSNR, bit accuracy (and how many payloads
pass the CRC) clean and after JPEG 90/75/50, 0.5x resize and back, a 10% crop resized back, and
enlargements to 1.5x and 2x (read as they are: the decoder also reads a square image at each size
generators write; bit accuracy there is of the image read at its own size); the time to embed and
to decode; and the share of unmarked real photos that the decoder wrongly reports as marked.
Writes benchmarks/results/watermark.json.

    OMP_NUM_THREADS=1 python benchmarks/watermark.py [--images 40] [--fp-images 0 (=all)]
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from synthface.provenance import Payload, decode_watermark, embed_watermark
from synthface.provenance.watermark import ALGORITHM, DEFAULT_PSNR_DB, read_bits

from _results import save_results

ROOT = Path(__file__).resolve().parents[1]
FACES = Path(os.environ.get("SYNTHFACE_FACES", ROOT.parent / "shared" / "data" / "faces"))
RESULTS = ROOT / "benchmarks" / "results" / "watermark.json"


def face_crop(path: Path, size: int) -> np.ndarray:
    image = Image.open(path).convert("RGB")
    box = (19, 40, 159, 180) if image.size == (178, 218) else (50, 58, 200, 208)
    return np.asarray(image.crop(box).resize((size, size), Image.BICUBIC))


def jpeg(pixels: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def resize_half(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    image = Image.fromarray(pixels).resize((w // 2, h // 2), Image.BILINEAR)
    return np.asarray(image.resize((w, h), Image.BILINEAR))


def crop_10(pixels: np.ndarray) -> np.ndarray:
    h, w = pixels.shape[:2]
    dy, dx = h // 20, w // 20
    return np.asarray(Image.fromarray(pixels[dy : h - dy, dx : w - dx]).resize((w, h), Image.BICUBIC))


def enlarge(factor: float):
    def apply(pixels: np.ndarray) -> np.ndarray:
        h, w = pixels.shape[:2]
        return np.asarray(Image.fromarray(pixels).resize((round(w * factor), round(h * factor)), Image.BICUBIC))

    return apply


ATTACKS = {
    "clean": lambda p: p,
    "jpeg90": lambda p: jpeg(p, 90),
    "jpeg75": lambda p: jpeg(p, 75),
    "jpeg50": lambda p: jpeg(p, 50),
    "resize0.5": resize_half,
    "crop10": crop_10,
    "enlarge1.5x": enlarge(1.5),
    "enlarge2x": enlarge(2.0),
}


def robustness(files: list[Path], size: int) -> dict:
    psnrs, embed_ms, decode_ms = [], [], []
    accuracy = {name: [] for name in ATTACKS}
    recovered = dict.fromkeys(ATTACKS, 0)
    for index, path in enumerate(files):
        face = face_crop(path, size)
        payload = Payload((index * 2654435761) % 2**32, 0xBEEF)
        start = time.perf_counter()
        marked = embed_watermark(face, payload)
        embed_ms.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        decode_watermark(marked)
        decode_ms.append((time.perf_counter() - start) * 1e3)
        psnrs.append(10 * np.log10(255.0**2 / np.mean((marked.astype(float) - face) ** 2)))
        for name, attack in ATTACKS.items():
            attacked = attack(marked)
            bits, _ = read_bits(attacked)
            accuracy[name].append(float(np.mean(bits == payload.to_bits())))
            recovered[name] += decode_watermark(attacked).payload == payload
    return {
        "size": size,
        "images": len(files),
        "psnr_db": float(np.mean(psnrs)),
        "psnr_db_min": float(np.min(psnrs)),
        "bit_accuracy": {k: float(np.mean(v)) for k, v in accuracy.items()},
        "payload_recovered": {k: v / len(files) for k, v in recovered.items()},
        "embed_ms": float(np.median(embed_ms)),
        "decode_ms": float(np.median(decode_ms)),
    }


def false_positives(files: list[Path]) -> dict:
    hits_native, hits_64 = [], []
    for path in tqdm(files, desc="false positives", unit="img"):
        image = np.asarray(Image.open(path).convert("RGB"))
        if decode_watermark(image).found:
            hits_native.append(str(path))
        if decode_watermark(face_crop(path, 64)).found:
            hits_64.append(str(path))
    return {
        "images": len(files),
        "decodes": 2 * len(files),
        "false_positives_native": len(hits_native),
        "false_positives_64px_crop": len(hits_64),
        "rate": (len(hits_native) + len(hits_64)) / max(1, 2 * len(files)),
        "examples": (hits_native + hits_64)[:10],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=40, help="face crops per resolution")
    parser.add_argument("--fp-images", type=int, default=0, help="photos for the FP rate (0 = all)")
    args = parser.parse_args()
    if not (FACES / "celeba").is_dir():
        raise SystemExit(f"error: face photos not found at {FACES}; set SYNTHFACE_FACES")
    celeba = sorted((FACES / "celeba" / "test").rglob("*.jpg"))
    files = celeba[: args.images]
    rows = [robustness(files, size) for size in tqdm((64, 128, 256), desc="resolutions")]
    everything = sorted(FACES.rglob("*.jpg"))
    fp = false_positives(everything if args.fp_images <= 0 else everything[: args.fp_images])

    header = f"{'px':>4} {'PSNR':>6} " + " ".join(f"{name:>12}" for name in ATTACKS)
    header += "  embed ms  decode ms"
    print(f"{ALGORITHM}, target PSNR {DEFAULT_PSNR_DB} dB; bit accuracy (payloads recovered)")
    print(header)
    for row in rows:
        accuracy, recovered = row["bit_accuracy"], row["payload_recovered"]
        cells = " ".join(f"{accuracy[n]:.3f}({recovered[n]:.2f})".rjust(12) for n in ATTACKS)
        timing = f"{row['embed_ms']:8.2f}  {row['decode_ms']:9.2f}"
        print(f"{row['size']:>4} {row['psnr_db']:6.1f} {cells}  {timing}")
    print(
        f"false positives on {fp['images']} real photos ({fp['decodes']} decodes, native size and 64 px): "
        f"{fp['false_positives_native'] + fp['false_positives_64px_crop']} (rate {fp['rate']:.2e})"
    )
    save_results(RESULTS, {"algorithm": ALGORITHM, "robustness": rows, "false_positives": fp})


if __name__ == "__main__":
    main()
