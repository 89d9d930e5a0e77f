"""Training-step and inference throughput of the generator, and the share of peak FLOP/s.

Side by side in one run, on 64x64 images with batch 32:

* the machine's measured fp32 peak (a large matmul on all threads),
* G+D training step img/s (the full step: G forward, D on fakes+reals, D and G
  updates, lazy R1 and path-length averaged over their intervals) for
  - the reference widths (channel_base 2048, channel_max 128), with our
    activation-modulated convs ("ours") and with per-sample weights in grouped
    convs ("grouped", the reference formulation of the modulated conv),
  - the default CPU widths (1024/128) and the default GPU widths (16384/512),
  - in fp32 and, where the CPU has native bf16 (AVX512-BF16 or AMX), in bf16
    autocast (the trainer's default there; synthface/training/precision.py);
* G inference img/s (no grad, const noise; fp32, as every generating command runs);
* FLOPs per image for each (counted with torch.utils.flop_counter).

The bar is the NVlabs StyleGAN2-ADA networks with their pure-PyTorch reference ops at
widths 2048/128, measured on this 2-core machine: 20.8 img/s training, 162 img/s
inference (4.4 GFLOP/img). Results go to benchmarks/results/train_speed.json.

    python benchmarks/train_speed.py [--steps 8] [--threads N] [--skip-gpu-widths]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from synthface.generator import Discriminator, Generator
from synthface.training.config import TrainConfig
from synthface.training.distributed import DistInfo
from synthface.training.losses import GANObjective
from synthface.training.precision import native_bf16

from _results import save_results

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "train_speed.json"
REFERENCE = {"train_img_s": 20.8, "infer_img_s": 162.0, "gflop_per_img": 4.4}
BATCH = 32


def measure_peak_gflops(seconds: float = 3.0) -> float:
    """fp32 GEMM throughput with all threads: the practical peak of this machine."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return count * 2 * 2048**3 / (time.perf_counter() - start) / 1e9


def build(base: int, cmax: int, dim: int, fused: bool, precision: str = "fp32") -> GANObjective:
    torch.manual_seed(0)
    cfg = TrainConfig(resolution=64, batch=BATCH, channel_base=base, channel_max=cmax, z_dim=dim, w_dim=dim,
                      precision=precision)
    cfg = cfg.resolve_defaults(on_gpu=False)
    G, D = Generator(**cfg.generator_kwargs()), Discriminator(**cfg.discriminator_kwargs())
    if cfg.channels_last:  # as the trainer does (the CPU default)
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
    objective = GANObjective(cfg, G, D, Generator(**cfg.generator_kwargs()), torch.device("cpu"), DistInfo())
    if fused:
        synthesis = G.synthesis
        G.synthesis = lambda ws, noise_mode="const", fused=False: synthesis(ws, noise_mode=noise_mode, fused=True)
    return objective


def count_step_flops(objective: GANObjective, reals: torch.Tensor) -> float:
    """FLOPs per image of a step, averaged over one 16-step period of the lazy regularisers.

    Counted on the activation-modulated path: the grouped formulation does the same
    arithmetic, but FlopCounterMode over-counts grouped convolutions.
    """
    G = objective.G
    patched = "synthesis" in G.__dict__
    if patched:
        fused_synthesis = G.__dict__.pop("synthesis")
    with FlopCounterMode(display=False) as counter:
        for i in range(16):  # one full period of R1 (16) and path length (4)
            if i % 4 == 0:
                objective.step(reals, i)
    # FLOPs averaged over a 16-step period: 4 pl steps counted above (one with R1), 12 plain steps.
    with FlopCounterMode(display=False) as plain:
        objective.step(reals, 1)
    if patched:
        G.synthesis = fused_synthesis
    return (counter.get_total_flops() + 12 * plain.get_total_flops()) / 16 / BATCH


def time_steps(objective: GANObjective, steps: int) -> tuple[float, float]:
    """img/s and GFLOP/img over `steps` steps starting at index 0 (so lazy regs run at their rate)."""
    reals = torch.rand(BATCH, 3, 64, 64) * 2 - 1
    if objective.config.channels_last:
        reals = reals.contiguous(memory_format=torch.channels_last)
    objective.step(reals, 1)  # warm-up (not a regulariser step)
    flops = count_step_flops(objective, reals)
    start = time.perf_counter()
    for i in range(steps):
        objective.step(reals, i)
    seconds = time.perf_counter() - start
    return BATCH * steps / seconds, flops / 1e9


def time_inference(G: Generator, fused: bool, repeats: int = 10) -> tuple[float, float]:
    z = torch.randn(BATCH, G.z_dim)
    # FlopCounterMode's module tracker needs autograd on (the count is the same without it), and it
    # over-counts grouped convolutions, so count the activation-modulated path (same arithmetic).
    with FlopCounterMode(display=False) as counter:
        G(z, fused=False)
    with torch.no_grad():
        G(z, fused=fused)
        start = time.perf_counter()
        for _ in range(repeats):
            G(z, fused=fused)
        seconds = time.perf_counter() - start
    return BATCH * repeats / seconds, counter.get_total_flops() / BATCH / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=16, help="timed training steps per variant")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--skip-gpu-widths", action="store_true", help="skip the slow 16384/512 variant")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    peak = measure_peak_gflops()
    bf16 = native_bf16("cpu")
    variants = [("reference widths 2048/128, ours", 2048, 128, 128, False, "fp32"),
                ("reference widths 2048/128, grouped", 2048, 128, 128, True, "fp32"),
                ("default CPU widths 1024/128", 1024, 128, 128, False, "fp32")]
    if not args.skip_gpu_widths:
        variants.append(("default GPU widths 16384/512", 16384, 512, 512, False, "fp32"))
    if bf16:
        variants += [(f"{name}, bf16", base, cmax, dim, fused, "bf16")
                     for name, base, cmax, dim, fused, _ in variants if not fused]
    rows = []
    for name, base, cmax, dim, fused, precision in variants:
        objective = build(base, cmax, dim, fused, precision)
        train_rate, train_gflop = time_steps(objective, args.steps)
        if precision == "fp32":
            infer_rate, infer_gflop = time_inference(objective.G, fused)
        else:  # generating commands run fp32 (same faces on every CPU); the rate is the fp32 row's
            infer_rate, infer_gflop = next((r["infer_img_s"], r["infer_gflop_per_img"]) for r in rows
                                           if r["channel_base"] == base and not r["fused_modconv"])
        rows.append({
            "variant": name, "channel_base": base, "channel_max": cmax, "fused_modconv": fused,
            "precision": precision,
            "train_img_s": round(train_rate, 2), "train_gflop_per_img": round(train_gflop, 3),
            "train_share_of_peak": round(train_rate * train_gflop / peak, 3),
            "infer_img_s": round(infer_rate, 1), "infer_gflop_per_img": round(infer_gflop, 3),
            "infer_share_of_peak": round(infer_rate * infer_gflop / peak, 3),
            "train_vs_bar": round(train_rate / REFERENCE["train_img_s"], 2),
            "infer_vs_bar": round(infer_rate / REFERENCE["infer_img_s"], 2),
        })
    print(f"peak fp32 (2048^3 GEMM, {torch.get_num_threads()} threads): {peak:.1f} GFLOP/s; "
          f"native bf16: {'yes' if bf16 else 'no'} (bf16 rows' % peak is of the fp32 peak)")
    header = f"{'variant':44} {'train img/s':>11} {'GFLOP/img':>9} {'% peak':>6} {'vs bar':>6} " \
             f"{'infer img/s':>11} {'GFLOP/img':>9} {'% peak':>6} {'vs bar':>6}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['variant']:44} {r['train_img_s']:>11.1f} {r['train_gflop_per_img']:>9.2f} "
              f"{100 * r['train_share_of_peak']:>5.0f}% {r['train_vs_bar']:>5.2f}x "
              f"{r['infer_img_s']:>11.1f} {r['infer_gflop_per_img']:>9.2f} "
              f"{100 * r['infer_share_of_peak']:>5.0f}% {r['infer_vs_bar']:>5.2f}x")
    print(f"bar (NVlabs reference ops, 2048/128): train {REFERENCE['train_img_s']} img/s, "
          f"inference {REFERENCE['infer_img_s']} img/s")
    save_results(RESULTS, {
        "machine": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
        "torch": torch.__version__, "peak_gflops": round(peak, 1), "batch": BATCH, "resolution": 64,
        "native_bf16": bf16, "reference_bar": REFERENCE, "rows": rows,
    })


if __name__ == "__main__":
    main()
