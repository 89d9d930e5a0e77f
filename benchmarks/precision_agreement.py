"""How closely a bf16-autocast training step follows the fp32 step, against batch-to-batch noise.

bf16 rounds every convolution's inputs to 8 mantissa bits. What matters for training is
whether that error is small next to the noise SGD lives with anyway: the difference
between two minibatches' gradients. For one run checkpoint (or fresh weights) this takes
one full step (R1 and path length included) three times with the optimisers' updates
switched off:

* fp32, batch A;  * bf16, batch A (same z, noise, style mixing);  * fp32, batch B,

and prints, for D's and G's gradients, the cosine and relative error of bf16-vs-fp32 next
to fp32 batch A vs batch B. Results go to benchmarks/results/precision_agreement.json.

    python benchmarks/precision_agreement.py --run runs/faces64-v2   [--reals ../shared/data/faces]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from synthface import checkpoints as ckpt
from synthface.generator import Discriminator, Generator
from synthface.training.config import TrainConfig
from synthface.training.distributed import DistInfo
from synthface.training.losses import GANObjective
from synthface.training.precision import native_bf16

from _results import save_results

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "precision_agreement.json"


def load_reals(source: str | None, config: TrainConfig, count: int, seed: int) -> torch.Tensor:
    """A batch of training photos at the run's crop and resolution (uniform noise without --reals)."""
    generator = torch.Generator().manual_seed(seed)
    if not source:
        return torch.rand(count, config.img_channels, config.resolution, config.resolution, generator=generator) * 2 - 1
    from synthface.data import prepare_images
    from synthface.generator.images import uint8_to_float

    images = prepare_images(source, resolution=config.resolution, crop=config.crop, channels=config.img_channels,
                            fit=config.fit, progress=False).images
    pick = torch.randperm(len(images), generator=generator)[:count]
    return uint8_to_float(images[pick])


def step_gradients(config: TrainConfig, state: dict | None, precision: str, reals: torch.Tensor,
                   seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """D's and G's flattened gradients after one regularised step, weights left as loaded."""
    torch.manual_seed(config.seed)
    G, D = Generator(**config.generator_kwargs()), Discriminator(**config.discriminator_kwargs())
    G_ema = Generator(**config.generator_kwargs())
    if config.channels_last:
        G.to(memory_format=torch.channels_last)
        D.to(memory_format=torch.channels_last)
        reals = reals.contiguous(memory_format=torch.channels_last)
    config.precision = precision
    objective = GANObjective(config, G, D, G_ema, torch.device("cpu"), DistInfo())
    if state is not None:
        objective.load_state_dict(state["objective"])
    objective.opt_D.step = objective.opt_G.step = lambda: None  # measure the gradients, keep the weights
    torch.manual_seed(seed)
    # The last step of both lazy intervals: R1 and path length run, as every 16th step in training.
    objective.step(reals, step_index=config.r1_interval * config.pl_interval - 1)

    def flat(net: torch.nn.Module) -> torch.Tensor:
        return torch.cat([p.grad.flatten() for p in net.parameters() if p.grad is not None])

    return flat(D), flat(G)


def compare(a: torch.Tensor, b: torch.Tensor) -> dict[str, float]:
    return {"cosine": round(float(F.cosine_similarity(a, b, dim=0)), 4),
            "relative_error": round(float((a - b).norm() / a.norm()), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", help="run folder: its train_config.json and newest checkpoint (default: fresh "
                        "64 px weights at the CPU widths)")
    parser.add_argument("--reals", help="training photos for the real half (default: uniform noise)")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.run:
        config = TrainConfig.load(Path(args.run) / "train_config.json").resolve_defaults(on_gpu=False)
        newest = ckpt.latest_checkpoint(args.run)
        state = ckpt.load_state(newest) if newest else None
        where = str(newest) if newest else f"{args.run} (no checkpoint: fresh weights)"
    else:
        config, state, where = TrainConfig(resolution=64).resolve_defaults(on_gpu=False), None, "fresh weights"
    batch_a = load_reals(args.reals, config, config.batch, seed=1)
    batch_b = load_reals(args.reals, config, config.batch, seed=2)
    d32, g32 = step_gradients(config, state, "fp32", batch_a, seed=1)
    d16, g16 = step_gradients(config, state, "bf16", batch_a, seed=1)
    d_other, g_other = step_gradients(config, state, "fp32", batch_b, seed=2)
    rows = {
        "D": {"bf16_vs_fp32": compare(d32, d16), "fp32_other_batch": compare(d32, d_other)},
        "G": {"bf16_vs_fp32": compare(g32, g16), "fp32_other_batch": compare(g32, g_other)},
    }
    print(f"weights: {where}; reals: {args.reals or 'uniform noise'}; native bf16: {native_bf16('cpu')}")
    print(f"{'net':4} {'bf16 vs fp32 cos':>17} {'rel err':>8} {'other batch cos':>16} {'rel err':>8}")
    for net, row in rows.items():
        same, other = row["bf16_vs_fp32"], row["fp32_other_batch"]
        print(f"{net:4} {same['cosine']:>17.4f} {same['relative_error']:>8.3f} "
              f"{other['cosine']:>16.4f} {other['relative_error']:>8.3f}")
    save_results(RESULTS, {"weights": where, "reals": args.reals, "native_bf16": native_bf16("cpu"),
                           "batch": config.batch, "resolution": config.resolution, "rows": rows})


if __name__ == "__main__":
    main()
