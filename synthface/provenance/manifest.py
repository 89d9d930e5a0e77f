"""The C2PA manifest definition synthface writes for every synthetic image.

Kept apart from signing so the persona writer, the verifier and the tests agree on one set
of labels: what a synthface manifest says is decided here and nowhere else.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import synthface
from synthface.errors import SynthfaceError
from synthface.provenance.payload import Payload
from synthface.provenance.watermark import ALGORITHM, READABLE_ALGORITHMS

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ACTIONS_LABEL = "c2pa.actions.v2"
SYNTHFACE_LABEL = "org.synthface.generation"
TRAINING_LABEL = "c2pa.training-mining"
SOFT_BINDING_LABEL = "c2pa.soft-binding"
TRAINING_USES = ("c2pa.ai_generative_training", "c2pa.ai_inference", "c2pa.ai_training", "c2pa.data_mining")
# What the c2pa.training-mining assertion may say of those uses (`--ai-training`); the dataset card says the same.
AI_TRAINING_CHOICES = ("allowed", "notAllowed", "constrained")


def check_ai_training(value: str) -> str:
    if value not in AI_TRAINING_CHOICES:
        raise SynthfaceError(f"--ai-training {value!r}: choose {', '.join(AI_TRAINING_CHOICES)}")
    return value


def software_agent() -> dict[str, str]:
    return {"name": "synthface", "version": synthface.__version__}


def generation_assertion(
    *,
    generator_id: str,
    checkpoint_sha256: str,
    seed: int,
    psi: float,
    persona_id: str | None = None,
    style_mix: Mapping[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The synthface assertion: enough to regenerate the image from the same checkpoint.

    `style_mix` is e.g. {"parents": [seed_a, seed_b], "crossover": 4} for a style-mixed face.
    Parent seeds are stored as [{"seed": a}, {"seed": b}]: c2pa turns a JSON list of small
    integers into a CBOR byte string, which would read back as base64 text.
    """
    data: dict[str, Any] = {
        "generator": generator_id,
        "checkpoint_sha256": checkpoint_sha256,
        "seed": int(seed),
        "truncation_psi": float(psi),
        "persona_id": persona_id,
    }
    if style_mix is not None:
        mix = dict(style_mix)
        if "parents" in mix:
            mix["parents"] = [{"seed": int(seed)} for seed in mix["parents"]]
        data["style_mix"] = mix
    data.update(extra)
    return data


def soft_binding_assertion(payload: Payload) -> dict[str, Any]:
    """Names the watermark algorithm and its payload (base64), as C2PA soft bindings do."""
    value = base64.b64encode(payload.body).decode("ascii")
    return {"alg": ALGORITHM, "blocks": [{"scope": {}, "value": value}]}


def payload_from_soft_binding(data: Mapping[str, Any]) -> Payload | None:
    """Inverse of `soft_binding_assertion` (also for earlier versions of the mark that this reader
    reads); None for other algorithms or malformed values."""
    if data.get("alg") not in READABLE_ALGORITHMS:
        return None
    for block in data.get("blocks") or []:
        try:
            raw = base64.b64decode(block.get("value", ""), validate=True)
        except (ValueError, AttributeError):
            continue
        if len(raw) == 6:
            return Payload(int.from_bytes(raw[:4], "big"), int.from_bytes(raw[4:], "big"))
    return None


def build_manifest(
    *,
    title: str,
    synthface_assertion: Mapping[str, Any],
    payload: Payload | None,
    ai_training: str = "notAllowed",
) -> dict[str, Any]:
    """The manifest definition handed to c2pa's Builder."""
    try:
        generation = json.loads(json.dumps(dict(synthface_assertion)))
    except (TypeError, ValueError) as exc:
        raise SynthfaceError(f"synthface assertion is not JSON-serialisable: {exc}") from None
    use = check_ai_training(ai_training)
    assertions: list[dict[str, Any]] = [
        {
            "label": ACTIONS_LABEL,
            "data": {
                "actions": [
                    {
                        "action": "c2pa.created",
                        "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                        "softwareAgent": software_agent(),
                    }
                ]
            },
        },
        {"label": SYNTHFACE_LABEL, "data": generation},
        {"label": TRAINING_LABEL, "data": {"entries": {name: {"use": use} for name in TRAINING_USES}}},
    ]
    if payload is not None:
        assertions.append({"label": SOFT_BINDING_LABEL, "data": soft_binding_assertion(payload)})
    return {"title": title, "claim_generator_info": [software_agent()], "assertions": assertions}
