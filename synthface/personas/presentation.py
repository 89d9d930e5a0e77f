"""How each persona's face reads, and choosing seeds by it (`--balance gender`, `--filter gender=...`).

A persona's presentation is read from its variant-0 image, the face itself, by the attribute
model (`synthface.attributes`); its variants share it. Choosing seeds synthesises and reads
faces from `--seed-start` upwards, exactly as the run will, and keeps the seeds that the choice
wants, so a balanced or filtered run is still a list of seeds: reproducible, resumable and the
same on every rank.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from synthface.attributes.labels import FEMALE, MALE, UNCERTAIN
from synthface.errors import SynthfaceError

ATTRIBUTES = ("gender",)
VALUES = (FEMALE, MALE, UNCERTAIN)
# Seeds looked at per persona wanted before a choice gives up (a filter nothing passes must stop).
MAX_SEEDS_PER_PERSONA = 50


@dataclass(frozen=True)
class SeedChoice:
    """Which seeds a run keeps: an even split of FEMALE and MALE faces, or only faces of one value."""

    balance: bool = False
    only: str | None = None

    def describe(self) -> str:
        return "an even split of faces read as female and as male" if self.balance else (
            f"only faces read as {self.only}" if self.only != UNCERTAIN else "only faces the model is unsure of")


def parse_choice(balance: str | None, filter_spec: str | None) -> SeedChoice | None:
    """`--balance gender` and `--filter gender=VALUE` as a SeedChoice (None: every seed in order)."""
    if balance is not None and filter_spec is not None:
        raise SynthfaceError("use --balance or --filter, not both")
    if balance is not None:
        if balance != "gender":
            raise SynthfaceError(f"--balance {balance!r}: the attribute to balance is 'gender'")
        return SeedChoice(balance=True)
    if filter_spec is not None:
        attribute, _, value = filter_spec.partition("=")
        if attribute != "gender" or value not in VALUES:
            raise SynthfaceError(f"--filter {filter_spec!r}: use gender=female, gender=male or gender=uncertain")
        return SeedChoice(only=value)
    return None


def read_personas(model: Any, images: np.ndarray) -> list:
    """The Perception of each persona image (uint8 [N, H, W, 3])."""
    from synthface.attributes.model import perceive

    return perceive(model, list(images), portraits=True)


def choose_seeds(generator: Any, model: Any, choice: SeedChoice, count: int, seed_start: int, psi: float,
                 batch_size: int, progress: bool = True) -> tuple[list[int], dict[int, Any]]:
    """`count` seeds from `seed_start` up that `choice` keeps, and the Perception of each."""
    from tqdm.auto import tqdm

    from synthface.generator.images import to_uint8
    from synthface.personas.latents import ImageSpec, image_ws, synthesise
    from synthface.personas.persona import PersonaSpec

    wanted = ({FEMALE: (count + 1) // 2, MALE: count // 2} if choice.balance else {choice.only: count})
    kept: list[int] = []
    readings: dict[int, Any] = {}
    seed, last = seed_start, seed_start + MAX_SEEDS_PER_PERSONA * count
    with tqdm(total=count, unit="persona", desc="choosing seeds", disable=not progress, dynamic_ncols=True) as bar:
        while len(kept) < count and seed < last:
            specs = [ImageSpec(PersonaSpec(s), 0) for s in range(seed, min(seed + batch_size, last))]
            images = to_uint8(synthesise(generator, image_ws(generator, specs, psi), specs))
            if images.shape[-1] == 1:
                images = np.repeat(images, 3, axis=-1)
            for spec, reading in zip(specs, read_personas(model, images), strict=True):
                if wanted.get(reading.presentation, 0) > 0 and len(kept) < count:
                    wanted[reading.presentation] -= 1
                    kept.append(spec.persona.seed)
                    readings[spec.persona.seed] = reading
                    bar.update(1)
            seed += len(specs)
    if len(kept) < count:
        raise SynthfaceError(f"only {len(kept)} of the {count} personas wanted ({choice.describe()}) were found in "
                             f"seeds {seed_start}-{last - 1}; ask for fewer, or choose differently")
    return kept, readings
