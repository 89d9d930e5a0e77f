"""Model cards: the Hub's conventions (model-index with metric ids, datasets, licence link, resolution)
and usage snippets that run, for every bundled model; `save_pretrained` writes our card."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from synthface.pretrained import DEFAULT_ATTRIBUTE_DIR, DEFAULT_DETECTOR_DIR, DEFAULT_GENERATOR_DIR

BUNDLED = {"generator": DEFAULT_GENERATOR_DIR, "detector": DEFAULT_DETECTOR_DIR, "attributes": DEFAULT_ATTRIBUTE_DIR}
METRIC_IDS = {"generator": {"fid", "kid"}, "detector": {"average_precision"}, "attributes": {"accuracy",
                                                                                              "balanced_accuracy"}}


@pytest.mark.parametrize("kind", sorted(BUNDLED))
def test_every_usage_snippet_of_a_bundled_models_card_runs(kind: str, tmp_path: Path, monkeypatch,
                                                           isolated_home) -> None:
    from huggingface_hub import ModelCard

    from synthface.hub.publish import write_model_card

    folder = tmp_path / kind
    shutil.copytree(BUNDLED[kind], folder)
    write_model_card(folder, json.loads((folder / "config.json").read_text()), repo_id=str(folder))
    card = ModelCard.load(folder / "README.md")
    data = card.data
    assert data.license_link == "LICENSE.md" and (folder / "LICENSE.md").is_file() and data.datasets
    assert {result.metric_type for result in data.eval_results} == METRIC_IDS[kind] == set(data.metrics)
    if kind == "generator":
        assert "Images are 64x64 pixels" in card.text
    snippets = re.findall(r"```python\n(.*?)```", card.text, re.S)
    assert snippets, "the card shows how to use the model from Python"
    monkeypatch.chdir(tmp_path)
    gallery = Path(__file__).parents[1] / "docs" / "personas-gallery.png"  # a face for the snippets to read
    face = np.asarray(Image.open(gallery).convert("RGB"))[:128, :128]
    Image.fromarray(face).save("face.png")
    Image.fromarray(face).save("photo.jpg")
    for snippet in snippets:
        exec(compile(snippet, f"{kind} card", "exec"), {})  # noqa: S102 - our own card's example


def test_save_pretrained_writes_our_card_and_licence(tmp_path: Path) -> None:
    from synthface.attributes.model import AttributeModel
    from synthface.generator import Generator
    from synthface.hub.publish import MIXIN_PLACEHOLDER_MARK

    Generator(resolution=16, z_dim=8, w_dim=8, mapping_layers=1, channel_base=64, channel_max=16
              ).save_pretrained(tmp_path / "g")
    AttributeModel(widths=[4]).save_pretrained(tmp_path / "a")
    for name, phrase in (("g", "Impersonation"), ("a", "perceived gender presentation")):
        text = (tmp_path / name / "README.md").read_text()
        assert MIXIN_PLACEHOLDER_MARK not in text and phrase in text and "license_link: LICENSE.md" in text
        assert "non-commercial research" in (tmp_path / name / "LICENSE.md").read_text()
    assert "Images are 16x16 pixels" in (tmp_path / "g" / "README.md").read_text()
