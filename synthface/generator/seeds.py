"""Seeds -> latents, the same on every machine.

A persona's face is a function of its seed. Drawing each z from its own
CPU `torch.Generator` makes that true whatever the batch size, device or order.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from synthface.errors import SynthfaceError


def z_from_seeds(seeds: Iterable[int], z_dim: int) -> torch.Tensor:
    """Stack one standard-normal z per seed: [len(seeds), z_dim] float32 on the CPU."""
    rows = [torch.randn(z_dim, generator=torch.Generator().manual_seed(int(seed))) for seed in seeds]
    if not rows:
        raise SynthfaceError("no seeds given: pass at least one, e.g. --seeds 0-15")
    return torch.stack(rows)


def parse_seeds(text: str) -> list[int]:
    """Parse "0-15", "3,7,42" or "0-3,10" into a list of (non-negative) seeds."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part:
                lo, hi = part.split("-", 1)
                if int(hi) < int(lo):
                    raise ValueError(part)
                seeds.extend(range(int(lo), int(hi) + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise SynthfaceError(f"cannot parse seeds {text!r}: use a range like 0-15 or a list like 1,5,9") from None
    if not seeds:
        raise SynthfaceError(f"no seeds in {text!r}: use a range like 0-15 or a list like 1,5,9")
    return seeds
