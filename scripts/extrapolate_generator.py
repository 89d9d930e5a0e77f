"""Drift extrapolation: step a generator away from where further training takes it.

An experiment kept as a script, not a synthface command (the bundled generator was made with it;
docs/training-log.md has the measurements). Late in training, when every short continuation of a
generator scores worse than the generator itself and the mean of several continuations is as bad as
one, the drift is systematic: the mean is a direction in weight space along which quality gets
worse, and `anchor + gamma * (anchor - mean(continuations))` is a line search the other way. The
continuations must come from this anchor (same architecture, a shared start); check each gamma with
`synthface metrics`, because a step too far makes things worse again. This is not a substitute for
training. The anchor's discriminator goes beside the result, which stays close to the anchor's
generator, so `train --init-from` on it goes on against a matching D.

    python scripts/extrapolate_generator.py runs/cont-{1,2,3}/generators/kimg-000010* --anchor runs/anchor \
        --gamma 1 --out runs/stepped
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from average_generators import average_generators, generator_architecture, write_generator_folder

from synthface.errors import SynthfaceError
from synthface.generator.networks import Generator
from synthface.generator.sampling import load_generator
from synthface.pretrained import DISCRIMINATOR_FOLDER
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
    return write_generator_folder(G, out, anchor / DISCRIMINATOR_FOLDER, metrics)


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("continuations", nargs="+", type=Path, help="generator folders trained on from the anchor")
    parser.add_argument("--anchor", type=Path, required=True, help="the generator the continuations started from")
    parser.add_argument("--gamma", type=float, default=1.0, help="step, as a multiple of the anchor's distance to "
                        "the continuations' mean")
    parser.add_argument("--out", type=Path, required=True, help="folder for the extrapolated generator")
    args = parser.parse_args()
    try:
        folder = export_extrapolation(args.anchor, args.continuations, args.gamma, args.out)
    except SynthfaceError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"wrote {folder} ({args.anchor} moved {args.gamma:g}x away from the mean of "
          f"{len(args.continuations)} continuation(s))")


if __name__ == "__main__":
    main()
