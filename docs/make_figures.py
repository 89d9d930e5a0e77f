"""Rebuild the README's persona gallery and `synthface detect` example from the bundled models.

What it does, with the package's own commands (so the README shows what a user gets):
1. `synthface generate-personas --count 16` with the bundled generator into a temporary folder;
2. a gallery of those personas (face, name) -> docs/personas-gallery.png;
3. `synthface detect` on one signed persona, the same persona re-encoded as JPEG with its
   metadata stripped (what a profile-picture upload does), the persona shrunk to a 16 px thumbnail
   (read from the watermark's colour layer), another persona cropped by 6% on each
   side, enlarged 2x and saved as JPEG q75 (the watermark's crop search still reads it), the same
   persona turned by 8 degrees instead (more than the watermark's rotation search covers, so the
   classifier decides), real photos held out from the detector's training, and one of them
   enlarged to 1024 px -> docs/detect-example.txt;
4. `synthface detect --json` on `--held-out` more held-out real photos (half LFW, half CelebA
   test), counting false positives -> docs/detect-held-out-reals.json.

    python docs/make_figures.py [--faces ../shared/data/faces]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
TILE = 128


def _run(args: list[str], home: Path) -> str:
    env = {"SYNTHFACE_HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "synthface.cli", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise SystemExit(f"synthface {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def gallery(rows: list[dict], out: Path, columns: int = 8) -> None:
    """Faces upscaled 2x (nearest: no invented detail) with each persona's name under it."""
    label = 18
    sheet = Image.new("RGB", (columns * TILE, -(-len(rows) // columns) * (TILE + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for index, row in enumerate(rows):
        face = Image.open(io.BytesIO(row["image"]["bytes"])).convert("RGB").resize((TILE, TILE), Image.NEAREST)
        x, y = (index % columns) * TILE, (index // columns) * (TILE + label)
        sheet.paste(face, (x, y))
        draw.text((x + 4, y + TILE + 3), row["name"][:20], fill="black")
    sheet.save(out, optimize=True)


def held_out_reals(faces: Path, count: int) -> list[Path]:
    """Real photos in the detector's test split (person-disjoint), alternating LFW and CelebA."""
    from synthface.data.splits import assign_splits

    picked: list[list[Path]] = []
    for part in ("lfw", "celeba"):
        files = sorted(p for p in (faces / part).rglob("*") if p.suffix.lower() in (".jpg", ".png"))
        names = [p.relative_to(faces).as_posix() for p in files]
        tests = [f for f, split in zip(files, assign_splits(names), strict=True) if split == "test"]
        picked.append(tests[:: max(1, len(tests) // count)][:count])
    mixed = [p for pair in zip(*picked, strict=False) for p in pair]
    return mixed[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, default=ROOT.parent / "shared" / "data" / "faces")
    parser.add_argument("--real", type=int, default=2, help="Real photos to show in the detect example.")
    parser.add_argument("--held-out", type=int, default=20, help="Held-out real photos for the false-positive count.")
    args = parser.parse_args()
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory() as tmp:
        work, home = Path(tmp), Path(tmp) / "home"
        _run(["generate-personas", "--count", "16", "--out", str(work / "personas")], home)
        rows = []
        for shard in sorted((work / "personas" / "data").glob("*.parquet")):
            rows += pq.read_table(shard).to_pylist()
        gallery(rows, DOCS / "personas-gallery.png")

        signed = work / "persona-signed.png"
        signed.write_bytes(rows[0]["image"]["bytes"])
        stripped = work / "persona-stripped.jpg"
        Image.open(signed).convert("RGB").save(stripped, quality=85)  # PIL writes no C2PA, no metadata
        enlarged = work / "persona-cropped-2x-q75.jpg"
        turned = work / "persona-turned-8deg-2x-q75.jpg"
        thumbnail = work / "persona-thumbnail-16px.png"
        with Image.open(signed) as face:  # a 16 px thumbnail keeps only the colour layer
            face.resize((face.width // 4, face.height // 4), Image.LANCZOS).save(thumbnail)
        with Image.open(io.BytesIO(rows[1]["image"]["bytes"])) as face:
            face = face.convert("RGB")
            margin = round(0.06 * face.width)
            cropped = face.crop((margin, margin, face.width - margin, face.height - margin))
            cropped.resize((2 * cropped.width, 2 * cropped.height), Image.BICUBIC).save(enlarged, quality=75)
            rotated = face.rotate(8, Image.BICUBIC, fillcolor=(128, 128, 128))
            rotated.resize((2 * face.width, 2 * face.height), Image.BICUBIC).save(turned, quality=75)
        reals = held_out_reals(args.faces, max(args.real, args.held_out)) if args.faces.is_dir() else []
        inputs = [str(signed), str(stripped), str(thumbnail), str(enlarged), str(turned),
                  *map(str, reals[: args.real])]
        if reals:
            large = work / f"{reals[0].stem}-1024px.jpg"
            with Image.open(reals[0]) as photo:
                photo.convert("RGB").resize((1024, 1024), Image.LANCZOS).save(large, quality=92)
            inputs.append(str(large))
        table = _run(["detect", *inputs], home)
        lines = _run(["detect", "--json", *map(str, reals)], home).splitlines()
    table = table.replace(str(work) + "/", "").replace(str(args.faces) + "/", "faces/")
    (DOCS / "detect-example.txt").write_text(table)
    print(table)
    verdicts = [json.loads(line) for line in lines if line.startswith("{") and '"path"' in line]
    flagged = [v["path"].replace(str(args.faces) + "/", "") for v in verdicts if v.get("synthetic")]
    answers: dict[str, int] = {}
    for verdict in verdicts:
        answers[verdict["verdict"]] = answers.get(verdict["verdict"], 0) + 1
    summary = {"held_out_real_photos": len(verdicts), "false_positives": len(flagged), "flagged": flagged,
               "verdicts": answers}
    (DOCS / "detect-held-out-reals.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    print(f"wrote {DOCS / 'personas-gallery.png'}, {DOCS / 'detect-example.txt'} and detect-held-out-reals.json")


if __name__ == "__main__":
    main()
