"""How well persona names fit faces: the attribute model against a person's reading of generated faces.

`benchmarks/data/persona_presentation_hand_labels.csv` holds one person's reading (female, male or
unsure) of 299 personas of the bundled generator at psi 0.7: seeds 0-99 (the README gallery is
seeds 0-15) and 1000-1199 (one seed the memorisation guard drops is missing). The faces are
regenerated here exactly as `generate-personas` makes them (variant 0) and read by the attribute
model. A name/face mismatch is a persona whose name reads as one presentation while the person
read the face as the other; a neutral name (model unsure) is never a mismatch, and a face the
person found unsure counts as a mismatch for no name.

Prints the table and writes benchmarks/results/attribute_agreement.json; with --save-to-model the
summary also goes into the attribute model's evaluation.json, where dataset cards read it.

    python benchmarks/attribute_agreement.py [--attributes MODEL] [--save-to-model]
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import torch

from _results import save_results

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "benchmarks" / "data" / "persona_presentation_hand_labels.csv"
RESULTS = ROOT / "benchmarks" / "results" / "attribute_agreement.json"
PSI = 0.7


def read_hand_labels(path: Path = LABELS) -> dict[int, str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {int(row["seed"]): row["label"] for row in csv.DictReader(handle)}


def persona_faces(seeds: list[int]) -> np.ndarray:
    """The variant-0 persona images of `seeds` from the bundled generator, as generate-personas makes them."""
    from synthface.generator.images import to_uint8
    from synthface.generator.sampling import load_generator
    from synthface.personas.latents import ImageSpec, image_ws, synthesise
    from synthface.personas.persona import PersonaSpec

    G = load_generator(None)
    out = []
    with torch.no_grad():
        for start in range(0, len(seeds), 50):
            specs = [ImageSpec(PersonaSpec(seed), 0) for seed in seeds[start : start + 50]]
            out.append(to_uint8(synthesise(G, image_ws(G, specs, PSI), specs)))
    return np.concatenate(out)


def agreement(hand: dict[int, str], readings: dict[int, str]) -> dict:
    """Counts of the model's reading against the person's, and the name/face mismatch rate."""
    pairs = [(hand[seed], readings[seed]) for seed in hand]
    table = {f"{person}->{model}": sum(1 for p, m in pairs if (p, m) == (person, model))
             for person in ("female", "male", "unsure") for model in ("female", "male", "uncertain")}
    sure = [(p, m) for p, m in pairs if p != "unsure"]
    confident = [(p, m) for p, m in sure if m != "uncertain"]
    mismatches = sum(1 for p, m in pairs if p != "unsure" and m != "uncertain" and p != m)
    return {
        "faces": len(pairs),
        "person_sure": len(sure),
        "model_confident_of_those": len(confident),
        "agreement_when_both_sure": (sum(p == m for p, m in confident) / len(confident)) if confident else None,
        "name_face_mismatches": mismatches,
        "name_face_mismatch_rate": mismatches / len(pairs),
        "neutral_names": sum(1 for _, m in pairs if m == "uncertain"),
        "table": table,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attributes", default=None, help="attribute model (default: the bundled one)")
    parser.add_argument("--save-to-model", action="store_true", help="record the summary in the model's "
                        "evaluation.json")
    args = parser.parse_args()

    from synthface.attributes.model import load_attribute_model, perceive
    from synthface.io_utils import write_text_atomic
    from synthface.pretrained import resolve_model_folder

    hand = read_hand_labels()
    seeds = sorted(hand)
    model = load_attribute_model(args.attributes)
    perceived = perceive(model, list(persona_faces(seeds)), portraits=True)
    readings = {seed: r.presentation for seed, r in zip(seeds, perceived, strict=True)}
    gallery = {seed: label for seed, label in hand.items() if seed < 16}
    rows = {"all": agreement(hand, readings), "readme_gallery_seeds_0-15": agreement(gallery, readings),
            "seeds_1000-1199": agreement({s: v for s, v in hand.items() if s >= 1000}, readings)}
    print(f"{'faces':>32} {'n':>4} {'both sure, agree':>17} {'mismatches':>11} {'neutral':>8}")
    for name, row in rows.items():
        agree = row["agreement_when_both_sure"]
        agree_text = "-" if agree is None else f"{agree:.1%}"
        print(f"{name:>32} {row['faces']:4d} {agree_text:>17} "
              f"{row['name_face_mismatches']:4d} ({row['name_face_mismatch_rate']:.1%}) {row['neutral_names']:8d}")
    print("person -> model:", rows["all"]["table"])
    save_results(RESULTS, {"hand_labels": str(LABELS.relative_to(ROOT)), "psi": PSI, "rows": rows,
                           "readings": {str(seed): value for seed, value in readings.items()}})
    if args.save_to_model:
        path = resolve_model_folder(args.attributes, "attributes") / "evaluation.json"
        summary = json.loads(path.read_text(encoding="utf-8"))
        row = rows["all"]
        summary["hand_check"] = {
            "faces": row["faces"],
            "summary": (f"{row['name_face_mismatches']} name/face mismatches ({row['name_face_mismatch_rate']:.1%}); "
                        f"where both the person and the model were sure they agreed on "
                        f"{row['agreement_when_both_sure'] or 0:.1%}; {row['neutral_names']} faces got neutral names"),
            **{key: row[key] for key in ("name_face_mismatches", "name_face_mismatch_rate",
                                         "agreement_when_both_sure", "neutral_names")},
        }
        write_text_atomic(path, json.dumps(summary, indent=2))
        print(f"recorded in {path}")


if __name__ == "__main__":
    main()
