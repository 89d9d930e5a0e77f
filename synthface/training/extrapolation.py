"""Drift extrapolation: step a generator away from where further training takes it.

Why: late in training, every short continuation of our best generator ended worse than it began. The
EMA generator after an lr drop sits below the FID that training at that lr settles to, and training
pulls it back. We trained three 10 kimg continuations of the 3,080 kimg milestone with different
seeds. The seed-1 one scored FID-2k 21.14 and the weight-space mean of all three 21.15. The mean is
as bad as one continuation, so the drift is systematic, not seed noise. That makes the mean a
measured direction in weight space along which quality gets worse, and
`anchor + gamma * (anchor - mean(continuations))` is a line search the other way.

Measured on the 3,080 kimg milestone (FID-2k against the 10,000-photo subset): gamma 0 (the anchor)
20.68, 0.5 20.54, 1.0 20.55, 1.5 20.61. KID fell all the way, 0.0099 -> 0.0092. At 10k against all
18,020 training photos, gamma 1 took FID from 15.31 to 15.00 (KID 0.0097 -> 0.0091; seeds 0-9,999,
and 15.28 for seeds 10,000-19,999), and that is the bundled generator. A second round from that
result did not gain (20.67 at 0.5, 21.02 at 1.0), nor did a step from it away from one run whose
rates were annealed to 0 (gamma 0.15: 20.48 at 2k, but 15.25 against 15.28 at 10k on seeds
10,000-19,999; benchmarks/results/fid_plateau-probes.json). The continuations must come from this
anchor (same architecture, a shared start), and the choice of gamma is checked with `synthface
metrics` like any other candidate. This is not a substitute for training: the step is short, and a
step too far makes things worse again. The anchor's discriminator goes beside the result, because the result stays
close to the anchor's generator, so `train --init-from` on it goes on against a matching D.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Sequence
from pathlib import Path

import torch

from synthface.errors import SynthfaceError
from synthface.generator.networks import Generator
from synthface.generator.sampling import load_generator
from synthface.io_utils import atomic_folder
from synthface.pretrained import DISCRIMINATOR_FOLDER
from synthface.training.averaging import average_generators, generator_architecture
from synthface.training.warm_start import read_kimg


def extrapolate_generator(anchor: str | Path, continuations: Sequence[str | Path], gamma: float) -> Generator:
    """The anchor moved `gamma` times its distance to the continuations' mean, away from that mean.

    Every floating-point parameter and buffer (w_avg included) moves; integer buffers stay the anchor's.
    """
    if not math.isfinite(gamma) or gamma <= 0:
        raise SynthfaceError(f"--gamma must be a positive number, got {gamma:g}; 1 steps as far from the "
                             "anchor as the continuations went, the other way")
    if not continuations:
        raise SynthfaceError("extrapolation needs at least one continuation: a generator trained on from the "
                             "anchor (train --init-from ANCHOR)")
    G = load_generator(anchor)
    mean = average_generators(continuations) if len(continuations) > 1 else load_generator(continuations[0])
    if generator_architecture(mean) != generator_architecture(G):
        raise SynthfaceError(f"the continuations have another architecture than {anchor}; use generators "
                             "trained on from that anchor")
    away = mean.state_dict()
    state = {}
    for name, tensor in G.state_dict().items():
        if tensor.is_floating_point():
            start = tensor.detach().double()
            state[name] = (start + gamma * (start - away[name].double())).to(tensor.dtype)
        else:
            state[name] = tensor
    G.load_state_dict(state)
    return G


def export_extrapolation(
    anchor: str | Path, continuations: Sequence[str | Path], gamma: float, out: str | Path
) -> Path:
    """Write the extrapolated generator to `out` (config + safetensors, the anchor's D and kimg).

    The folder is staged beside `out` and swapped in whole (`atomic_folder`).
    """
    anchor, out = Path(anchor), Path(out)
    G = extrapolate_generator(anchor, [Path(folder) for folder in continuations], gamma)
    metrics: dict = {"extrapolated_from": f"{anchor.name}, gamma {gamma:g} away from the mean of "
                                          f"{len(continuations)} continuation(s)"}
    kimg = read_kimg(anchor)
    if kimg is not None:
        metrics["kimg"] = kimg  # a warm start from the result keeps the anchor's EMA half-life
    with atomic_folder(out) as tmp:
        G.to(torch.float32, memory_format=torch.contiguous_format).save_pretrained(tmp)
        source_d = anchor / DISCRIMINATOR_FOLDER
        if (source_d / "model.safetensors").is_file():
            shutil.copytree(source_d, tmp / DISCRIMINATOR_FOLDER)
        (tmp / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return out
