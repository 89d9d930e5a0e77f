"""Model cards for published generators and detectors, from Jinja2 templates in `cards/`.

A model trained on CelebA/LFW inherits their research-only terms and can be misused
to fake people; the card is where a downstream user learns both, so it is always
written (never left to a generic placeholder) and its YAML is machine-checkable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from synthface.errors import SynthfaceError

CARDS_DIR_ENV = "SYNTHFACE_CARDS_DIR"
KINDS = ("generator", "detector", "attributes")
COMMON_TAGS = ["synthface", "synthetic", "ai-generated", "faces"]
KIND_TAGS = {
    "generator": ["gan", "stylegan", "stylegan2", "unconditional-image-generation"],
    "detector": ["deepfake-detection", "gan-detection", "image-classification"],
    "attributes": ["image-classification", "perceived-attributes"],
}
PIPELINE_TAGS = {"generator": "unconditional-image-generation", "detector": "image-classification",
                 "attributes": "image-classification"}

# Facts from shared/data/faces/README.md: what the models are trained on, under which terms.
TRAINING_DATA: dict[str, dict[str, str]] = {
    "celeba": {
        "name": "CelebA (img_align_celeba subset)",
        "images": "4,800 training photos of 200 identities, 178x218, face-centred crop",
        "licence": "released for non-commercial research purposes only",
    },
    "lfw": {
        "name": "Labeled Faces in the Wild (deep-funneled)",
        "images": "12,020 photos of 5,149 people, 250x250, face-centred crop",
        "licence": "published for research, without a formal licence",
    },
}


def cards_dir() -> Path:
    """Where the card templates live: $SYNTHFACE_CARDS_DIR, else the ones installed with the package."""
    override = os.environ.get(CARDS_DIR_ENV)
    # `synthface/cards` links to the project's `cards/` in a checkout and is a real folder in a wheel.
    folder = Path(override) if override else Path(__file__).resolve().parents[1] / "cards"
    if not folder.is_dir():
        raise SynthfaceError(f"card templates not found in {folder}; set {CARDS_DIR_ENV} to the cards folder")
    return folder


LICENSE_FILE = "LICENSE.md"  # the terms the card's license_link points at, written beside it


def training_data_of(kind: str) -> tuple[str, ...]:
    """The photo collections (`TRAINING_DATA` keys) a bundled-style model of `kind` learnt from."""
    return ("lfw",) if kind == "attributes" else ("celeba", "lfw")


def license_text(kind: str, training_data: Sequence[str]) -> str:
    """LICENSE.md of a model folder: the research-only terms its training photos impose."""
    lines = [f"# Terms of use of this synthface {kind}", "",
             "These weights were trained on photographs released for research only:", ""]
    lines += [f"- {TRAINING_DATA[key]['name']}: {TRAINING_DATA[key]['licence']}." for key in training_data]
    lines += ["", "They inherit those terms: use them for **non-commercial research and demonstration only**. "
              "Never use them to impersonate anyone, to make fake profiles or identity documents, or to decide "
              "anything about real people. The synthface code itself is Apache-2.0; these terms are about the "
              "weights.", ""]
    return "\n".join(lines)


def _eval_results(kind: str, metrics: Mapping[str, Any], evaluation: Mapping[str, Any] | None) -> list:
    """model-index entries with the Hub's metric ids: FID and KID of a generator against its training
    photos, a detector's AP per generated source (clean views), an attribute model's held-out accuracy."""
    from huggingface_hub import EvalResult

    results = []
    if kind == "generator":
        for metric_id, keys in (("fid", ("fid_10k_all_training_photos", "fid_10k", "fid")),
                                ("kid", ("kid_10k_all_training_photos", "kid_10k", "kid"))):
            key = next((k for k in keys if isinstance(metrics.get(k), (int, float))), None)
            if key is not None:
                results.append(EvalResult(task_type="unconditional-image-generation", dataset_type="faces",
                                          dataset_name="training photos (CelebA + LFW, 64 px crops)",
                                          metric_type=metric_id, metric_value=float(metrics[key]),
                                          metric_name=f"{metric_id.upper()} ({key})"))
    elif kind == "detector" and evaluation:
        sources = evaluation.get("sources", {})
        for source, row in evaluation.get("conditions", {}).get("clean", {}).items():
            if sources.get(source, {}).get("class") == "fake" and isinstance(row.get("ap"), (int, float)):
                seen = "held-out seeds" if sources[source].get("seen") else "unseen"
                results.append(EvalResult(task_type="image-classification", dataset_type=source,
                                          dataset_name=f"{source} ({seen}) against held-out real photos",
                                          metric_type="average_precision", metric_value=float(row["ap"]),
                                          metric_name="AP"))
    elif kind == "attributes" and evaluation:
        clean = evaluation.get("test", {}).get("clean", {})
        for metric_id, key in (("accuracy", "accuracy"), ("balanced_accuracy", "balanced_accuracy")):
            if isinstance(clean.get(key), (int, float)):
                results.append(EvalResult(task_type="image-classification", dataset_type="lfw",
                                          dataset_name="LFW, held-out people", metric_type=metric_id,
                                          metric_value=float(clean[key])))
    return results


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.5g}"  # enough digits that 14.998 does not read as 15
    if isinstance(value, (list, tuple)):
        return ", ".join(_format_value(v) for v in value)
    return str(value)


def render_model_card(
    kind: str,
    config: Mapping[str, Any],
    metrics: Mapping[str, Any],
    *,
    repo_id: str | None = None,
    model_name: str | None = None,
    training_data: Sequence[str] = ("celeba", "lfw"),
    extra_tags: Sequence[str] = (),
    guard: Mapping[str, Any] | None = None,
    sample_grid: str | None = None,
    discriminator: bool = False,
    evaluation_table: str | None = None,
    evaluation: Mapping[str, Any] | None = None,
) -> str:
    """README.md text (YAML metadata + body) for a `kind` in KINDS.

    `config` is the model's config.json (shown as a table), `metrics` maps a metric
    name (e.g. "fid", "auc") to its measured value; `training_data` names keys of
    `TRAINING_DATA`; `repo_id` fills the usage examples; `guard` is the memorisation guard's
    info (`MemorisationGuard.info` plus its threshold) when one ships with the model;
    `sample_grid` a PNG beside the card to show; `discriminator`: the folder carries the generator's
    discriminator, so the card says how to fine-tune from it; `evaluation_table`: a detector's
    per-source table (`eval-detector --save-to-model` writes it beside the weights); `evaluation`: an
    attribute model's evaluation.json (held-out people, calibration, hand check).
    """
    if kind not in KINDS:
        raise SynthfaceError(f"unknown model card kind {kind!r}: use one of {', '.join(KINDS)}")
    unknown = [key for key in training_data if key not in TRAINING_DATA]
    if unknown:
        raise SynthfaceError(f"unknown training data {unknown}: use keys of {sorted(TRAINING_DATA)}")
    from huggingface_hub import ModelCard, ModelCardData

    import synthface

    name = model_name or (repo_id.split("/")[-1] if repo_id else f"synthface-{kind}")
    common = COMMON_TAGS if kind != "attributes" else ["synthface", "faces"]  # it makes no images
    tags = list(dict.fromkeys([*common, *KIND_TAGS[kind], *extra_tags]))
    results = _eval_results(kind, metrics, evaluation)
    card_data = ModelCardData(
        library_name="synthface",
        license="other",
        license_name="research-only",
        license_link=LICENSE_FILE,
        datasets=list(training_data),
        tags=tags,
        pipeline_tag=PIPELINE_TAGS[kind],
        metrics=sorted({result.metric_type for result in results}) or None,
        eval_results=results or None,
        model_name=name,
    )
    card = ModelCard.from_template(
        card_data,
        template_path=str(cards_dir() / f"model_card_{kind}.md"),
        model_name=name,
        repo_id=repo_id,
        metric_names=sorted(metrics),
        config_rows=[(key, _format_value(value)) for key, value in sorted(config.items())
                     if not isinstance(value, dict)],  # nested settings get their own section
        metric_rows=[(key, _format_value(value)) for key, value in sorted(metrics.items())],
        training_data=[TRAINING_DATA[key] for key in training_data],
        synthface_version=getattr(synthface, "__version__", "unknown"),
        resolution=config.get("resolution") or config.get("img_resolution"),
        guard=dict(guard) if guard else None,
        sample_grid=sample_grid,
        discriminator=discriminator,
        evaluation_table=evaluation_table,
        training_sources=config.get("training_sources") or {},
        working_size=config.get("working_size"),
        evaluation=dict(evaluation) if evaluation else None,
        target_accuracy=(evaluation or {}).get("target_accuracy", 0.97),
    )
    return str(card)
