"""Who a persona is: a stable id, and a name and profile that follow from it.

A persona is a function of (model, seed): the id hashes the checkpoint's sha256
with the seed (and the style-mix parents, for mixed faces), and Faker is seeded
from that id, so the same seed on the same model gives the same person on every
machine, in every shard, under any number of ranks.

The first name and pronouns follow how the face reads (`synthface.attributes`): a face
that reads as female gets a name and pronouns a reader takes as female, one that reads as
male a male one, and a face the attribute model is unsure of a neutral name and they/them.
The profile states no age: nothing here can measure one from a face, and a random age
contradicts the face as often as not.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from synthface.errors import SynthfaceError

WEIGHTS_FILE = "model.safetensors"


def checkpoint_sha256(model_dir: str | Path) -> str:
    """sha256 of the generator's weights file: the identity of the checkpoint."""
    path = Path(model_dir) / WEIGHTS_FILE
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise SynthfaceError(f"cannot read generator weights {path}: {exc.strerror}") from None
    return digest.hexdigest()


@dataclass(frozen=True)
class PersonaSpec:
    """What to generate for one persona: its seed, and optionally a style donor and crossover.

    `style_seed`/`crossover` describe a style-mixed face: the `seed`'s styles except the
    crossover band, which comes from `style_seed`.
    """

    seed: int
    style_seed: int | None = None
    crossover: str | None = None

    @property
    def mixed(self) -> bool:
        return self.style_seed is not None

    @property
    def key(self) -> str:
        """The part of the persona id that is not the model: `seed` or `mix:S:T:crossover`."""
        if self.style_seed is None:
            return str(self.seed)
        return f"mix:{self.seed}:{self.style_seed}:{self.crossover}"


def persona_id(model_sha256: str, spec: PersonaSpec) -> str:
    """`p-` and 20 hex digits of sha256(model sha256 + persona key): stable and collision-safe."""
    return "p-" + hashlib.sha256(f"{model_sha256}:{spec.key}".encode()).hexdigest()[:20]


def image_id(persona: str, variant: int) -> str:
    """One image of a persona: its id and the variant number."""
    return f"{persona}-v{variant}"


@dataclass(frozen=True)
class Profile:
    """A fictional display name, pronouns and a one-line profile; made up, never a real person's data."""

    name: str
    profile: str
    pronouns: str


@lru_cache(maxsize=1)
def _faker():
    from faker import Faker

    return Faker("en_US")


def persona_profile(persona: str, presentation: str) -> Profile:
    """Name, pronouns and profile seeded by the persona id, fitting `presentation` (FEMALE, MALE or
    UNCERTAIN, as `synthface.attributes` reads the face): same id and face, same person, everywhere.

    The text depends on the Faker release (its word lists change); the dataset card
    records the version so a profile can be reproduced exactly.
    """
    from synthface.attributes.labels import PRONOUNS, persona_first_names

    names = persona_first_names()
    if presentation not in names:
        raise SynthfaceError(f"unknown presentation {presentation!r}: use one of {', '.join(names)}")
    fake = _faker()
    fake.seed_instance(int(hashlib.sha256(persona.encode()).hexdigest()[:16], 16))
    first, last = fake.random_element(names[presentation]), fake.last_name()
    job = fake.job().split(",")[0].lower()
    city = fake.city()
    hobby = fake.random_element(
        ("hiking", "chess", "baking", "cycling", "jazz", "gardening", "photography", "swimming",
         "board games", "pottery", "running", "birdwatching", "painting", "football", "reading")
    )
    pronouns = PRONOUNS[presentation]
    text = f"{first} {last} ({pronouns}) is a fictional {job} from {city} who enjoys {hobby}."
    return Profile(f"{first} {last}", text, pronouns)


def faker_version() -> str:
    from faker import VERSION

    return str(VERSION)
