"""Personas per second at 64 px, stage by stage, and the memorisation guard's false-drop rate.

Stages (cumulative, one process): synthesis only; + PNG encoding; + watermark; + C2PA
signing; + memorisation guard; + reading each face (the attribute model, which names
personas). Then the real `generate_personas` writing shards to disk,
with 1 signing worker and with one per core. Targets (issue 4, 2-core machine, default
64x64 model): synthesis >= 50% of the measured peak fp32 FLOP/s, >= 100 signed personas/s
end to end, provenance (watermark + signing + guard) <= 30% of the total time.

Model: the bundled generator with its memorisation guard (over all training faces), or
`--model DIR`; `--guard-feature inception` times an Inception guard instead (built on
`--guard-images` CelebA photos, since only the time per checked image matters here).
Throwaway keys, never the user's. Guard quality is measured by benchmarks/guard_quality.py.

    OMP_NUM_THREADS=2 python benchmarks/generate_speed.py [--personas 2048] [--model DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

from _results import repo_relative, save_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "generate_speed.json"
FACES = Path(os.environ.get("SYNTHFACE_FACES", ROOT.parent / "shared" / "data" / "faces"))


def peak_gflops(threads: int, size: int = 1024, repeats: int = 20) -> float:
    """Measured fp32 matmul throughput: the machine's practical peak."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    began = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - began) / 1e9


def synthesis_flops(G, batch: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad():
        ws = G.mapping(torch.randn(batch, G.z_dim), psi=0.7)
    with FlopCounterMode(display=False) as counter:  # (its module tracker needs autograd on)
        G.synthesis(ws, noise_mode="const")
    return counter.get_total_flops() / batch


def stage_times(G, guard, identity, personas: int, batch: int) -> tuple[dict, dict, float | None]:
    """Wall and CPU seconds per persona of each cumulative stage, and the guard's false-drop rate.

    CPU time (all threads of this process) is what each stage costs the machine: synthesis
    runs on every core, watermark, signing and guard on one, so the wall-clock share of
    provenance overstates its cost when threads > 1. Both are reported.
    """
    from synthface.attributes.model import load_attribute_model, perceive
    from synthface.generator.images import to_uint8
    from synthface.personas.latents import ImageSpec, image_ws, synthesise
    from synthface.personas.persona import PersonaSpec
    from synthface.provenance import Payload, embed_watermarks, generation_assertion, mark_and_sign_many
    from synthface.provenance.imageio import encode_pixels

    reader = load_attribute_model()
    names = ("synthesis", "png", "watermark", "signing", "guard", "attributes")
    wall = {name: 0.0 for name in names}
    cpu = {name: 0.0 for name in names}
    flagged = 0
    assertion = generation_assertion(generator_id="bench", checkpoint_sha256="0" * 64, seed=0, psi=0.7)

    def clocks() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    for start in range(0, personas, batch):
        specs = [ImageSpec(PersonaSpec(seed), 0) for seed in range(start, min(start + batch, personas))]
        payloads = [Payload(start + i, identity.key_id) for i in range(len(specs))]
        c0 = clocks()
        with torch.no_grad():
            pixels = to_uint8(synthesise(G, image_ws(G, specs, 0.7), specs))
        c1 = clocks()
        for img in pixels:
            encode_pixels(img, "png")
        c2 = clocks()
        for img in embed_watermarks(pixels, payloads):
            encode_pixels(img, "png")
        c3 = clocks()
        mark_and_sign_many(pixels, identity, [assertion] * len(specs), payloads, [None] * len(specs))
        c4 = clocks()
        if guard is not None:
            flagged += int(guard.check(torch.from_numpy(pixels).permute(0, 3, 1, 2)).flagged.sum())
        c5 = clocks()
        perceive(reader, list(pixels), portraits=True)
        c6 = clocks()
        for k, totals in enumerate((wall, cpu)):
            totals["synthesis"] += c1[k] - c0[k]
            totals["png"] += c2[k] - c1[k]
            totals["watermark"] += (c3[k] - c2[k]) - (c2[k] - c1[k])  # watermark + encode, minus encode alone
            totals["signing"] += (c4[k] - c3[k]) - (c3[k] - c2[k])  # mark_and_sign, minus watermark + encode
            totals["guard"] += c5[k] - c4[k]
            totals["attributes"] += c6[k] - c5[k]
    per_wall = {name: seconds / personas for name, seconds in wall.items()}
    per_cpu = {name: seconds / personas for name, seconds in cpu.items()}
    return per_wall, per_cpu, (flagged / personas if guard is not None else None)


def provenance_share(per: dict[str, float]) -> float:
    return (per["watermark"] + per["signing"] + per["guard"]) / sum(per.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--personas", type=int, default=2048)  # amortises ~1 s of start-up (model, pool)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--model", default=None, help="Generator folder with a guard (default: bundled).")
    parser.add_argument("--guard-feature", default=None, help="Time a freshly built guard of this feature.")
    parser.add_argument("--guard-images", type=int, default=256)
    args = parser.parse_args()
    cores = os.cpu_count() or 1

    from synthface.generator.sampling import load_generator
    from synthface.guard import load_guard
    from synthface.personas.pipeline import GenerateOptions, generate_personas
    from synthface.personas.signer import single_threaded_blas
    from synthface.pretrained import default_generator_spec
    from synthface.provenance import init_keys, load_signing_identity

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        os.environ["SYNTHFACE_HOME"] = str(workdir / "home")
        init_keys()
        identity = load_signing_identity()
        folder = Path(args.model or default_generator_spec())
        model_note = repo_relative(folder)
        G = load_generator(str(folder))
        flops = synthesis_flops(G, args.batch)
        guard = load_guard(folder)
        if args.guard_feature:
            from synthface.data import prepare_images
            from synthface.guard import build_guard, guard_path

            real = prepare_images(FACES / "celeba" / "train", resolution=64, progress=False,
                                  max_images=args.guard_images).images
            guard = build_guard(real, feature=args.guard_feature, progress=False)
            G.save_pretrained(workdir / "gen")
            folder = workdir / "gen"
            guard.save(guard_path(folder))
        guard_note = "none" if guard is None else f"{guard.info.get('feature')}, {len(guard.bank)} images"
        rows = []
        peak1, peak_all = peak_gflops(1), peak_gflops(cores)
        for threads in (1, cores):
            torch.set_num_threads(threads)
            with single_threaded_blas():  # as generate_personas runs
                per, per_cpu, false_drop = stage_times(G, guard, identity, args.personas, args.batch)
            total = sum(per.values())
            peak = peak1 if threads == 1 else peak_all
            achieved = flops / per["synthesis"] / 1e9
            rows.append({
                "mode": f"stages, {threads} thread(s)",
                **{f"{k}_personas_per_s": 1 / v for k, v in per.items() if v > 0},
                "cumulative_personas_per_s": 1 / total,
                "synthesis_gflops": achieved, "peak_gflops": peak, "synthesis_fraction_of_peak": achieved / peak,
                "provenance_fraction": provenance_share(per),
                "provenance_fraction_of_cpu_time": provenance_share(per_cpu),
                **{f"{k}_cpu_ms_per_persona": 1e3 * v for k, v in per_cpu.items()},
                "guard_false_drop_rate_generated": false_drop,
            })
        for workers in (1, cores):
            torch.set_num_threads(cores)
            out = workdir / f"out-{workers}"
            began = time.perf_counter()
            report = generate_personas(GenerateOptions(
                model=str(folder), out=out, count=args.personas, workers=workers, guard=guard is not None,
                shard_size=max(1, args.personas // 2), batch_size=args.batch, progress=False))
            seconds = time.perf_counter() - began
            rows.append({"mode": f"generate_personas to disk, {workers} signing worker(s)",
                         "cumulative_personas_per_s": report.personas / seconds,
                         "guard_dropped": report.dropped_personas})
    print(f"model: {model_note}; guard: {guard_note}; synthesis {flops / 1e9:.3f} GFLOP/image")
    print(f"peak fp32: {peak1:.1f} GFLOP/s (1 thread), {peak_all:.1f} GFLOP/s ({cores} threads)")
    for row in rows:
        print(row["mode"])
        for key, value in row.items():
            if key != "mode" and value is not None:
                print(f"    {key:38s} {value:10.3f}" if isinstance(value, float) else f"    {key:38s} {value}")
    result = {"model": model_note, "guard": guard_note, "synthesis_gflop_per_image": flops / 1e9,
              "rows": rows,
              "targets": {"synthesis_fraction_of_peak": ">= 0.5", "end_to_end_personas_per_s": ">= 100",
                          "provenance_fraction": "<= 0.3 (wall clock; CPU-time share also reported)"}}
    save_results(RESULTS, result)


if __name__ == "__main__":
    main()
