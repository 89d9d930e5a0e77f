"""Labels of perceived gender presentation from first names, and the names personas are given.

Why names: no photo collection here is labelled by gender, but LFW names its people, and a
first-name dictionary (gender-guesser, offline) says how a name is mostly read. A name read as
male or female labels that person's photos; names it calls androgynous ("andy") or does not
know are dropped. The label is the presentation a viewer expects from the name, not the
person's gender identity, and the model trained on it predicts only that.

The persona name lists are Faker's en_US first names that the same dictionary reads the same
way (a few of Faker's "female" names read as male and the other way round), and, for faces
whose presentation the model is unsure of, the names the dictionary reads as androgynous in the
USA (with at least a moderate frequency there) and overall.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import PurePosixPath

FEMALE, MALE, UNCERTAIN = "female", "male", "uncertain"
PRESENTATIONS = (FEMALE, MALE)
PRONOUNS = {FEMALE: "she/her", MALE: "he/him", UNCERTAIN: "they/them"}
_READINGS = {"female": FEMALE, "mostly_female": FEMALE, "male": MALE, "mostly_male": MALE}
# gender-guesser's frequency scale runs 1 (rare) to 13 (very common); 2 keeps names people know.
_NEUTRAL_MIN_FREQUENCY = 2


@lru_cache(maxsize=1)
def _dictionary():
    import gender_guesser.detector as guesser

    return guesser.Detector(case_sensitive=False)


def name_presentation(first_name: str) -> str | None:
    """FEMALE or MALE as the dictionary reads `first_name`; None for androgynous or unknown names."""
    return _READINGS.get(_dictionary().get_gender(first_name))


def person_of(relative_path: str) -> str:
    """The person of an LFW-style path (`Person_Name/Person_Name_0001.jpg` -> `Person_Name`)."""
    return PurePosixPath(relative_path).parent.name


def label_from_path(relative_path: str) -> str | None:
    """The presentation label of a photo filed under its person's name, or None when unusable."""
    person = person_of(relative_path)
    return name_presentation(person.split("_")[0]) if person else None


@lru_cache(maxsize=1)
def persona_first_names() -> dict[str, tuple[str, ...]]:
    """First names by presentation: FEMALE, MALE and UNCERTAIN (androgynous), each sorted."""
    from faker import Faker

    people = Faker("en_US").provider("faker.providers.person")
    names = {
        FEMALE: sorted({n for n in people.first_names_female if name_presentation(n) == FEMALE}),
        MALE: sorted({n for n in people.first_names_male if name_presentation(n) == MALE}),
    }
    dictionary = _dictionary()
    usa = type(dictionary).COUNTRIES.index("usa")
    neutral = []
    for name, readings in dictionary.names.items():
        frequency = readings.get("andy", "")
        if len(frequency) > usa and frequency[usa].strip() and int(frequency[usa], 16) >= _NEUTRAL_MIN_FREQUENCY \
                and name_presentation(name) is None:  # androgynous in the USA and overall
            neutral.append(name.capitalize())
    names[UNCERTAIN] = sorted(neutral)
    return {key: tuple(value) for key, value in names.items()}
