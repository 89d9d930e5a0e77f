"""The dataset card (README.md) of a persona dataset, rendered from cards/dataset_card.md.

The card is where a user learns what the images are, what they may be used for, and how
to check them; its YAML (tags, licence, configs) is what the Hub and `datasets` read.
It holds no timestamps, so every rank of a sharded run renders the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from synthface.errors import SynthfaceError

TAGS = ["synthetic", "ai-generated", "c2pa", "watermarked", "faces", "synthface", "gan"]
TASK_CATEGORIES = ["unconditional-image-generation", "image-classification"]
DATA_FILES = "data/train-*.parquet"
# While a run is unfinished its card points `datasets` at this file, which never exists, so
# `load_dataset(folder)` fails naming it instead of quietly loading the shards written so far.
UNFINISHED_DATA_FILES = "data/UNFINISHED-run-finish-it-with-generate-personas-resume.parquet"
LICENSE_FILE = "LICENSE.md"  # the card's license_link
SIGNER_CA_FILE = "signer-ca.pem"  # the public certificate of the signer's CA: `verify --trust-anchor` it


def dataset_license_text(training_data: Sequence[str]) -> str:
    """LICENSE.md of a persona dataset: the research-only terms its generator's training photos impose."""
    from synthface.hub.cards import TRAINING_DATA

    lines = ["# Terms of use of this synthface persona dataset", "",
             "The images were made by a generator trained on photographs released for research only:", ""]
    lines += [f"- {TRAINING_DATA[key]['name']}: {TRAINING_DATA[key]['licence']}." for key in training_data
              if key in TRAINING_DATA]
    lines += ["", "They inherit those terms: **non-commercial research and demonstration only**. Never present "
              "these faces as real people, use them for fake profiles or impersonation, or remove their AI "
              "label, watermark or C2PA manifest.", ""]
    return "\n".join(lines)


def size_category(count: int) -> str:
    """The Hub's size_categories bucket for `count` rows."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    for bound, name in bounds:
        if count < bound:
            return name
    return "n>1T"


def render_dataset_card(
    facts: Mapping[str, Any],
    *,
    guard: Mapping[str, Any] | None,
    training_data: Sequence[str] = ("celeba", "lfw"),
    repo_id: str | None = None,
    dataset_info: Mapping[str, Any] | None = None,
) -> str:
    """README.md text for a persona dataset. `facts` holds the run's numbers and settings
    (see `pipeline.card_facts`); `guard` the guard's settings and drop counts, or None;
    `dataset_info` the schema and sizes of the finished shards (`writer.dataset_info_yaml`)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from synthface.hub.cards import TRAINING_DATA, cards_dir

    unknown = [key for key in training_data if key not in TRAINING_DATA]
    if unknown:
        raise SynthfaceError(f"unknown training data {unknown}: use keys of {sorted(TRAINING_DATA)}")
    pretty_name = str(facts.get("pretty_name") or "synthface personas")
    card_data = DatasetCardData(
        license="other",
        license_name="research-only",
        license_link=LICENSE_FILE,
        language=["en"],
        pretty_name=pretty_name,
        tags=TAGS,
        annotations_creators=["machine-generated"],
        language_creators=["machine-generated"],
        source_datasets=["original"],
        size_categories=[size_category(int(facts["num_images"]))],
        # Training tasks are advertised only where every manifest allows AI training (--ai-training).
        task_categories=TASK_CATEGORIES if facts.get("ai_training", "notAllowed") != "notAllowed" else None,
        configs=[{"config_name": "default", "data_files": [{"split": "train", "path": DATA_FILES}]}],
        **({"dataset_info": dict(dataset_info)} if dataset_info else {}),
    )
    guard_view = None
    if guard is not None:
        guard_view = dict(guard)
        guard_view["threshold"] = f"{float(guard['threshold']):.4g}"
        guard_view["quantile_pct"] = f"{100 * float(guard['quantile']):g}"
    card = DatasetCard.from_template(
        card_data,
        template_path=str(cards_dir() / "dataset_card.md"),
        pretty_name=pretty_name,
        guard=guard_view,
        training_data=[TRAINING_DATA[key] for key in training_data],
        repo_id=repo_id,
        **{key: value for key, value in facts.items() if key != "pretty_name"},
    )
    return str(card)


def render_unfinished_card(shards_done: int, num_shards: int, command: str) -> str:
    """The README.md of a dataset whose run has not finished every shard yet."""
    import yaml

    metadata = {"configs": [{"config_name": "default",
                             "data_files": [{"split": "train", "path": UNFINISHED_DATA_FILES}]}],
                "tags": TAGS}
    return (f"---\n{yaml.safe_dump(metadata, sort_keys=False)}---\n\n# Unfinished synthface persona dataset\n\n"
            f"{shards_done} of {num_shards} shards were written when this card was; the run has not finished, so "
            "this folder is not a dataset yet and `datasets.load_dataset` refuses it. Finish it with:\n\n"
            f"```bash\n{command} --resume\n```\n")
