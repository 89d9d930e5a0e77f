"""Watermark quality and robustness at 64, 128 and 256 px, under everyday edits of personas, and
its false-positive rate.

For face crops from ../shared/data/faces it reports PSNR, bit accuracy (and how many payloads
pass the CRC) clean and after JPEG 90/75/50, 0.5x resize and back, a 10% crop resized back, and
enlargements to 1.5x and 2x (read as they are; bit accuracy is of the image read as it is, without
the crop and rotation search); the time to embed and to decode; and the share of unmarked real photos
that the decoder wrongly reports as marked (each photo read as it is, as a 64 px face crop and as a
16 px thumbnail of that crop), with the time a decode of an unmarked photo takes (the whole crop and
rotation search runs on it).

For `--personas` faces from the bundled generator, marked as `generate-personas` marks them (64 px),
it reports under each single edit a profile-picture pipeline makes (resize 0.25x-4x kept at the new
size, 0.25x and 0.5x also with bicubic, bilinear and box filters, crops up to 15%, rotation up to 3 degrees,
brightness and contrast +-15%, JPEG q40-95, WebP q75) and under chains of them: the share found, the
number of wrong payloads, the luma layer's bit accuracy once the edited image is brought back to
64 px (without the search; a 16 px thumbnail is read from the colour layer instead), and the time a
decode takes. Writes benchmarks/results/watermark.json.

    OMP_NUM_THREADS=1 python benchmarks/watermark.py [--images 40] [--personas 200] [--fp-images 0 (=all)]
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance
from tqdm import tqdm

from synthface.errors import SynthfaceError
from synthface.generator.images import to_uint8
from synthface.generator.sampling import load_generator
from synthface.generator.seeds import z_from_seeds
from synthface.provenance import Payload, decode_watermark, embed_watermark, thumbnail_layer
from synthface.provenance.watermark import ALGORITHM, DEFAULT_PSNR_DB, embed_watermarks, read_bits

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


def _image_edit(function):
    def apply(pixels: np.ndarray) -> np.ndarray:
        return np.asarray(function(Image.fromarray(pixels)).convert("RGB"))

    return apply


def resized(factor: float, method: Image.Resampling | None = None):
    """Kept at the new size, as an upload pipeline leaves it (by default Lanczos down, bicubic up)."""
    def apply(image: Image.Image) -> Image.Image:
        side = max(1, round(image.width * factor))
        chosen = method or (Image.Resampling.LANCZOS if factor < 1 else Image.Resampling.BICUBIC)
        return image.resize((side, side), chosen)

    return _image_edit(apply)


def cropped(share: float, centred: bool = True):
    """Cut `share` of each side's length away (half from each edge, or all from the bottom right)."""
    def apply(image: Image.Image) -> Image.Image:
        cut = round(image.width * share)
        left = cut // 2 if centred else 0
        return image.crop((left, left, left + image.width - cut, left + image.height - cut))

    return _image_edit(apply)


def rotated(degrees: float):
    def apply(image: Image.Image) -> Image.Image:
        return image.rotate(degrees, Image.Resampling.BICUBIC, fillcolor=(128, 128, 128))

    return _image_edit(apply)


def enhanced(kind, factor: float):
    return _image_edit(lambda image: kind(image).enhance(factor))


def encoded(kind: str, quality: int):
    def apply(image: Image.Image) -> Image.Image:
        buffer = io.BytesIO()
        image.save(buffer, kind, quality=quality)
        return Image.open(io.BytesIO(buffer.getvalue()))

    return _image_edit(apply)


def chain(*edits):
    def apply(pixels: np.ndarray) -> np.ndarray:
        for edit in edits:
            pixels = edit(pixels)
        return pixels

    return apply


SINGLE_EDITS = {
    **{f"resize{f}x": resized(f) for f in (0.25, 0.5, 0.75, 1.5, 2.0, 4.0)},
    **{f"resize{factor}x-{method.name.lower()}": resized(factor, method) for factor in (0.25, 0.5)
       for method in (Image.Resampling.BICUBIC, Image.Resampling.BILINEAR, Image.Resampling.BOX)},
    **{f"crop{round(s * 100)}%": cropped(s) for s in (0.05, 0.10, 0.15)},
    "crop10%-corner": cropped(0.10, centred=False),
    **{f"rotate{d}deg": rotated(d) for d in (0.5, 1, 2, 3)},
    **{f"brightness{f:+.0%}": enhanced(ImageEnhance.Brightness, 1 + f) for f in (-0.15, -0.10, 0.10, 0.15)},
    **{f"contrast{f:+.0%}": enhanced(ImageEnhance.Contrast, 1 + f) for f in (-0.15, 0.15)},
    **{f"jpeg{q}": encoded("JPEG", q) for q in (40, 60, 75, 95)},
    "webp75": encoded("WEBP", 75),
}
CHAINS = {
    "resize2x+jpeg75": chain(resized(2.0), encoded("JPEG", 75)),
    "resize0.5x+jpeg85": chain(resized(0.5), encoded("JPEG", 85)),
    "resize0.5x-bilinear+jpeg85": chain(resized(0.5, Image.Resampling.BILINEAR), encoded("JPEG", 85)),
    "resize0.5x+resize0.5x": chain(resized(0.5), resized(0.5)),
    "resize0.25x+jpeg95": chain(resized(0.25), encoded("JPEG", 95)),
    "crop5%+resize2x+jpeg80": chain(cropped(0.05), resized(2.0), encoded("JPEG", 80)),
    "brightness+5%+webp75": chain(enhanced(ImageEnhance.Brightness, 1.05), encoded("WEBP", 75)),
    "contrast-10%+resize1.5x+jpeg60": chain(enhanced(ImageEnhance.Contrast, 0.9), resized(1.5),
                                           encoded("JPEG", 60)),
}


def personas(count: int) -> tuple[np.ndarray, list[Payload]]:
    """`count` marked 64 px faces from the bundled generator (psi 0.7, seeds 0..count-1)."""
    G = load_generator(None)
    with torch.no_grad():
        faces = np.concatenate([to_uint8(G(z_from_seeds(range(i, min(i + 50, count)), G.z_dim), psi=0.7,
                                           noise_mode="const")) for i in range(0, count, 50)])
    payloads = [Payload((i * 2654435761) % 2**32, 0xBEEF) for i in range(count)]
    return embed_watermarks(faces, payloads), payloads


def edit_robustness(marked: np.ndarray, payloads: list[Payload]) -> dict:
    """Per edit: share found, wrong payloads, bit accuracy of the edit brought back to the marked size."""
    side = marked.shape[1]
    rows = {}
    for name, edit in tqdm({**SINGLE_EDITS, **CHAINS}.items(), desc="edits", unit="edit"):
        found = wrong = 0
        accuracy, seconds = [], 0.0
        for pixels, payload in zip(marked, payloads, strict=True):
            edited = edit(pixels)
            start = time.perf_counter()
            try:
                reading = decode_watermark(edited)
            except SynthfaceError:  # too small to hold a mark: not found
                reading = None
            seconds += time.perf_counter() - start
            found += reading is not None and reading.payload == payload
            wrong += reading is not None and reading.found and reading.payload != payload
            back = np.asarray(Image.fromarray(edited).resize((side, side), Image.Resampling.LANCZOS))
            accuracy.append(float(np.mean(read_bits(back) == payload.to_bits())))
        rows[name] = {"found": found / len(marked), "wrong_payloads": int(wrong),
                      "bit_accuracy": float(np.mean(accuracy)), "chain": name in CHAINS,
                      "decode_ms": 1e3 * seconds / len(marked)}
    return rows


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
            bits = read_bits(attacked)
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
    """Reads of unmarked photos as they are, as 64 px face crops, and as 16 px thumbnails of those."""
    hits_native, hits_64, hits_16 = [], [], []
    seconds = thumbnail_seconds = 0.0
    for path in tqdm(files, desc="false positives", unit="img"):
        image = np.asarray(Image.open(path).convert("RGB"))
        crop = face_crop(path, 64)
        thumbnail = np.asarray(Image.fromarray(crop).resize((16, 16), Image.Resampling.LANCZOS))
        start = time.perf_counter()
        if decode_watermark(image).found:
            hits_native.append(str(path))
        if decode_watermark(crop).found:
            hits_64.append(str(path))
        middle = time.perf_counter()
        if decode_watermark(thumbnail).found:
            hits_16.append(str(path))
        seconds += middle - start
        thumbnail_seconds += time.perf_counter() - middle
    hits = len(hits_native) + len(hits_64) + len(hits_16)
    return {
        "decode_ms_unmarked": 1e3 * seconds / max(1, 2 * len(files)),
        "decode_ms_unmarked_thumbnail": 1e3 * thumbnail_seconds / max(1, len(files)),
        "images": len(files),
        "decodes": 3 * len(files),
        "false_positives_native": len(hits_native),
        "false_positives_64px_crop": len(hits_64),
        "false_positives_16px_thumbnail": len(hits_16),
        "rate": hits / max(1, 3 * len(files)),
        "examples": (hits_native + hits_64 + hits_16)[:10],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=40, help="face crops per resolution")
    parser.add_argument("--personas", type=int, default=200, help="marked personas for the edit table")
    parser.add_argument("--fp-images", type=int, default=0, help="photos for the FP rate (0 = all)")
    args = parser.parse_args()
    if not (FACES / "celeba").is_dir():
        raise SystemExit(f"error: face photos not found at {FACES}; set SYNTHFACE_FACES")
    celeba = sorted((FACES / "celeba" / "test").rglob("*.jpg"))
    files = celeba[: args.images]
    rows = [robustness(files, size) for size in tqdm((64, 128, 256), desc="resolutions")]
    edit_rows = edit_robustness(*personas(args.personas))
    everything = sorted(FACES.rglob("*.jpg"))
    spread = everything
    if args.fp_images > 0:  # evenly through both collections
        spread = everything[:: max(1, len(everything) // args.fp_images)][: args.fp_images]
    fp = false_positives(spread)

    header = f"{'px':>4} {'PSNR':>6} " + " ".join(f"{name:>12}" for name in ATTACKS)
    header += "  embed ms  decode ms"
    print(f"{ALGORITHM}, luma layer at {DEFAULT_PSNR_DB} dB and colour layer at {thumbnail_layer.PSNR_DB} dB; "
          "bit accuracy (payloads recovered)")
    print(header)
    for row in rows:
        accuracy, recovered = row["bit_accuracy"], row["payload_recovered"]
        cells = " ".join(f"{accuracy[n]:.3f}({recovered[n]:.2f})".rjust(12) for n in ATTACKS)
        timing = f"{row['embed_ms']:8.2f}  {row['decode_ms']:9.2f}"
        print(f"{row['size']:>4} {row['psnr_db']:6.1f} {cells}  {timing}")
    print(f"\n{args.personas} personas at 64 px: found (wrong payloads) and bit accuracy back at 64 px")
    for name, row in edit_rows.items():
        print(f"{name:>32} {row['found']:6.1%} ({row['wrong_payloads']})  {row['bit_accuracy']:.3f}"
              f"  {row['decode_ms']:5.1f} ms")
    hits = fp["false_positives_native"] + fp["false_positives_64px_crop"] + fp["false_positives_16px_thumbnail"]
    print(
        f"false positives on {fp['images']} real photos ({fp['decodes']} decodes: native size, 64 px and 16 px): "
        f"{hits} (rate {fp['rate']:.2e}), {fp['decode_ms_unmarked']:.1f} ms a decode "
        f"({fp['decode_ms_unmarked_thumbnail']:.1f} ms for a 16 px thumbnail)"
    )
    save_results(RESULTS, {"algorithm": ALGORITHM, "robustness": rows,
                           "persona_edits": {"personas": args.personas, "size": 64, "edits": edit_rows},
                           "false_positives": fp})


if __name__ == "__main__":
    main()
