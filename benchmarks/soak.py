"""Soak: many personas, then `detect` over thousands of mixed files, with memory sampled over time.

1. `synthface generate-personas --count N` (bundled generator, signing pool) into a temporary folder;
2. a mixed folder of `--files` inputs: signed personas, the same re-encoded as JPEG (metadata gone),
   enlarged or cropped personas, real photos when the shared faces folder is there, and 5% bad files
   (truncated, random bytes, empty, a text file named .png);
3. one `synthface detect FOLDER --json` process over it.

Each command's resident memory (RSS of it and its children) is sampled every half second; the
result keeps the peak, the highest RSS in the first and last tenth of the run, the median RSS of each
tenth (the level memory sits at, without the transient spikes of a shard being written), and the
verdict counts, so a leak shows as a rising line. Writes benchmarks/results/soak.json.

    python benchmarks/soak.py [--personas 10000] [--files 3000]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from _results import save_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "soak.json"
FACES = ROOT.parent / "shared" / "data" / "faces"


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of `pid` and all its descendants, MB (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parent = int(handle.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e6


def run_sampled(args: list[str], env: dict[str, str]) -> dict:
    """Run a synthface command, sampling its memory; returns seconds, RSS samples and its stdout."""
    began = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen([sys.executable, "-m", "synthface.cli", *args], env=env, stdout=out,
                                   stderr=subprocess.DEVNULL, cwd=ROOT)
        samples = []
        while process.poll() is None:
            samples.append(round(_tree_rss_mb(process.pid), 1))
            time.sleep(0.5)
        out.seek(0)
        stdout = out.read()
    tenth = max(1, len(samples) // 10)
    tenths = [samples[i * tenth : (i + 1) * tenth] for i in range(10) if samples[i * tenth : (i + 1) * tenth]]
    return {"seconds": round(time.perf_counter() - began, 1), "exit": process.returncode,
            "peak_rss_mb": max(samples or [0.0]), "rss_first_tenth_mb": max(samples[:tenth] or [0.0]),
            "rss_last_tenth_mb": max(samples[-tenth:] or [0.0]),
            # the level memory sits at in each tenth of the run (spikes, e.g. a shard being written, left out)
            "rss_median_by_tenth_mb": [statistics.median(part) for part in tenths],
            "samples": len(samples), "stdout": stdout}


def mixed_folder(personas: Path, out: Path, count: int) -> dict[str, int]:
    """`count` inputs of several kinds in `out`; returns how many of each."""
    import pyarrow.parquet as pq
    from PIL import Image

    out.mkdir(parents=True)
    images = [row["image"]["bytes"] for shard in sorted((personas / "data").glob("*.parquet"))
              for row in pq.read_table(shard, columns=["image"]).to_pylist()]
    reals = sorted((FACES / "lfw").rglob("*.jpg"))[::7] if (FACES / "lfw").is_dir() else []
    kinds: Counter[str] = Counter()
    bad_every = 20  # 5% bad files
    for index in range(count):
        data = images[index % len(images)]
        if index % bad_every == 0:
            kind = ("truncated", "random-bytes", "empty", "text")[(index // bad_every) % 4]
            payload = {"truncated": data[: len(data) // 3], "random-bytes": os.urandom(5000), "empty": b"",
                       "text": b"not an image"}[kind]
            (out / f"{index:05d}-{kind}.png").write_bytes(payload)
        else:
            kind = ("signed", "stripped-jpeg", "enlarged", "cropped", "real")[index % 5]
            if kind == "real" and not reals:
                kind = "signed"
            if kind == "signed":
                (out / f"{index:05d}-signed.png").write_bytes(data)
            elif kind == "real":
                with Image.open(reals[index % len(reals)]) as photo:
                    photo.save(out / f"{index:05d}-real.jpg", quality=90)
            else:
                with Image.open(io.BytesIO(data)) as face:
                    face = face.convert("RGB")
                    if kind == "enlarged":
                        face = face.resize((256, 256), Image.BICUBIC)
                    elif kind == "cropped":
                        face = face.crop((5, 5, face.width - 5, face.height - 5)).resize((128, 128))
                    face.save(out / f"{index:05d}-{kind}.jpg", quality=80)
        kinds[kind] += 1
    return dict(kinds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--personas", type=int, default=10_000)
    parser.add_argument("--files", type=int, default=3_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        env = {**os.environ, "SYNTHFACE_HOME": str(work / "home"), "PYTHONPATH": str(ROOT)}
        generated = run_sampled(["generate-personas", "--count", str(args.personas), "--out", str(work / "personas"),
                                 "--shard-size", "1000"], env)
        generated.pop("stdout")
        kinds = mixed_folder(work / "personas", work / "mixed", args.files)
        detected = run_sampled(["detect", str(work / "mixed"), "--json"], env)
        lines = [json.loads(line) for line in detected.pop("stdout").splitlines() if line.startswith("{")]
    verdicts = Counter(line["verdict"].split(" (")[0] if line["verdict"].startswith("likely") else line["verdict"]
                       for line in lines)
    result = {"personas": args.personas, "files": args.files, "file_kinds": kinds,
              "generate_personas": generated, "detect": {**detected, "verdicts": dict(verdicts),
                                                         "images_per_s": round(len(lines) / detected["seconds"], 1)}}
    print(json.dumps(result, indent=2))
    save_results(RESULTS, result)


if __name__ == "__main__":
    main()
