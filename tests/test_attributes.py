"""The attribute model: labels from names, training and resume, the bundled model's accuracy on
held-out people and its agreement with a person's reading of generated faces, and separability."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from synthface.cli import app
from synthface.errors import SynthfaceError

REPO = Path(__file__).resolve().parents[1]


def test_labels_come_from_first_names_and_name_lists_agree_with_them() -> None:
    from synthface.attributes.labels import label_from_path, name_presentation, persona_first_names

    assert label_from_path("Angelina_Jolie/Angelina_Jolie_0001.jpg") == "female"
    assert label_from_path("George_W_Bush/George_W_Bush_0001.jpg") == "male"
    assert label_from_path("AJ_Cook/AJ_Cook_0001.jpg") is None  # a name the dictionary does not know
    assert label_from_path("Casey_Mears/Casey_Mears_0001.jpg") is None  # androgynous
    names = persona_first_names()
    assert all(name_presentation(n) == "female" for n in names["female"])
    assert all(name_presentation(n) == "male" for n in names["male"])
    assert all(name_presentation(n) is None for n in names["uncertain"]) and len(names["uncertain"]) >= 15


def test_model_saves_loads_and_reads_between_its_thresholds(tmp_path: Path) -> None:
    import torch

    from synthface.attributes.model import AttributeModel, load_attribute_model

    model = AttributeModel(widths=[8, 16])
    model.temperature.fill_(2.0)
    model.confident.fill_(0.8)
    model.save_pretrained(tmp_path / "m")
    loaded = load_attribute_model(tmp_path / "m")
    views = np.random.default_rng(0).integers(0, 256, (3, 64, 64, 3), dtype=np.uint8)
    assert np.allclose(loaded.p_female(views), model.eval().p_female(views))
    assert float(loaded.temperature) == 2.0 and loaded.presentation(0.85) == "female"
    assert loaded.presentation(0.15) == "male" and loaded.presentation(0.5) == "uncertain"
    torch.save({"x": 1}, tmp_path / "m" / "model.safetensors")  # a pickle under the safetensors name
    with pytest.raises(SynthfaceError, match="cannot load attribute model"):
        load_attribute_model(tmp_path / "m")


def test_no_face_reads_as_uncertain_without_a_probability() -> None:
    from synthface.attributes.model import load_attribute_model, perceive

    blank = np.full((64, 64, 3), 128, np.uint8)
    (reading,) = perceive(load_attribute_model(), [blank])
    assert reading.presentation == "uncertain" and reading.p_female is None and not reading.face_found


@pytest.fixture(scope="module")
def named_photos(faces_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 LFW people, 40 with female-read and 40 with male-read first names, one photo each."""
    from synthface.attributes.labels import label_from_path

    folder = tmp_path_factory.mktemp("named")
    picked = {"female": 0, "male": 0}
    for person in sorted((faces_dir / "lfw").iterdir()):
        label = label_from_path(f"{person.name}/x.jpg")
        if label is None or picked[label] >= 40:
            continue
        picked[label] += 1
        (folder / person.name).mkdir()
        first = sorted(person.glob("*.jpg"))[0]
        (folder / person.name / first.name).write_bytes(first.read_bytes())
    return folder


def test_training_writes_a_model_and_resumes(named_photos: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "run"
    common = ["train-attributes", "--data", str(named_photos), "--out", str(out), "--batch", "8",
              "--checkpoint-every", "5", "--workers", "1"]
    result = CliRunner().invoke(app, [*common, "--steps", "10"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "attributes" / "evaluation.json").read_text())
    assert summary["steps"] == 10 and summary["data"]["labelled_faces"] >= 70
    assert 0.5 <= summary["calibration"]["confident"] <= 0.99
    again = CliRunner().invoke(app, [*common, "--steps", "10"])
    assert again.exit_code != 0 and "--resume" in again.output
    # As after a kill between the checkpoints at steps 5 and 10: the run continues from step 5.
    (out / "checkpoints" / "checkpoint-000000010.safetensors").unlink()
    shutil.rmtree(out / "attributes")
    resumed = CliRunner().invoke(app, [*common, "--steps", "10", "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert "5/10" in resumed.output and (out / "attributes" / "model.safetensors").is_file()
    longer = CliRunner().invoke(app, [*common, "--steps", "15", "--resume"])
    assert longer.exit_code == 0, longer.output
    assert json.loads((out / "training_summary.json").read_text())["steps"] == 15


def test_bundled_model_reads_held_out_people(faces_dir: Path) -> None:
    """Photos of LFW people the model never trained on (its test split), read at full detail."""
    from PIL import Image

    from synthface.attributes.labels import label_from_path
    from synthface.attributes.model import load_attribute_model, perceive
    from synthface.data.splits import assign_splits

    names = sorted(str(p.relative_to(faces_dir / "lfw")) for p in (faces_dir / "lfw").rglob("*.jpg"))
    test = [n for n, split in zip(names, assign_splits(names), strict=True)
            if split == "test" and label_from_path(n) is not None]
    by_label = {label: [n for n in test if label_from_path(n) == label][:40] for label in ("female", "male")}
    model = load_attribute_model()
    for label, files in by_label.items():
        images = [np.asarray(Image.open(faces_dir / "lfw" / n).convert("RGB")) for n in files]
        readings = [r for r in perceive(model, images) if r.face_found]
        right = sum(r.presentation == label for r in readings)
        wrong = sum(r.presentation not in (label, "uncertain") for r in readings)
        assert right >= 0.75 * len(readings) and wrong <= 0.1 * len(readings), (label, right, wrong)


def test_persona_names_fit_a_persons_reading_of_the_faces() -> None:
    """The README gallery (seeds 0-15) and 60 more hand-labelled personas: at most 5% name/face
    mismatches (a gendered name on a face the person read as the other presentation)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from attribute_agreement import agreement, persona_faces, read_hand_labels
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    from synthface.attributes.model import load_attribute_model, perceive

    hand = read_hand_labels()
    seeds = sorted(hand)[:16] + sorted(s for s in hand if s >= 1000)[:60]
    perceived = perceive(load_attribute_model(), list(persona_faces(seeds)), portraits=True)
    readings = {s: r.presentation for s, r in zip(seeds, perceived, strict=True)}
    row = agreement({s: hand[s] for s in seeds}, readings)
    assert row["name_face_mismatch_rate"] <= 0.05, row
    assert row["neutral_names"] <= 0.3 * len(seeds), row  # it still names most faces


def test_conditional_entropy_and_separability_on_known_codes() -> None:
    from synthface.metrics.separability import conditional_entropy, separability

    labels = np.array([0, 0, 1, 1])
    assert conditional_entropy(labels, labels) == 0.0
    assert conditional_entropy(labels, np.array([0, 1, 0, 1])) == pytest.approx(np.log(2))
    rng = np.random.default_rng(0)
    w = rng.normal(size=(400, 16))
    p = 1 / (1 + np.exp(-4 * w[:, 3]))  # the attribute is a linear function of w, not of z
    z = rng.normal(size=(400, 16))
    result, direction = separability(z, w, p)
    assert result["separability_gender_w"] < 0.05 < result["separability_gender_z"]
    assert abs(direction.vector[3]) > 0.9 and direction.spread > 0


def test_sample_edit_needs_the_direction_from_separability(tmp_path: Path, isolated_home) -> None:
    from synthface.metrics.separability import Direction
    from synthface.pretrained import resolve_model_folder

    folder = tmp_path / "g"
    shutil.copytree(resolve_model_folder(None, "generator"), folder)
    (folder / "attribute_directions.safetensors").unlink(missing_ok=True)
    result = CliRunner().invoke(app, ["sample", "--model", str(folder), "--edit", "gender=+2", "--out",
                                      str(tmp_path / "e.png")])
    assert result.exit_code != 0 and "metrics --separability" in result.output
    w_dim = json.loads((folder / "config.json").read_text())["w_dim"]
    Direction("gender", np.eye(1, w_dim, 0)[0], 1.0).save(folder)
    result = CliRunner().invoke(app, ["sample", "--model", str(folder), "--edit", "gender=+2", "--seeds", "0-1",
                                      "--columns", "4", "--out", str(tmp_path / "e.png")])
    assert result.exit_code == 0, result.output
    from PIL import Image

    assert Image.open(tmp_path / "e.png").size == (4 * 64 + 5 * 2, 2 * 64 + 3 * 2)
    bad = CliRunner().invoke(app, ["sample", "--model", str(folder), "--edit", "gender=lots"])
    assert bad.exit_code != 0 and "ATTRIBUTE=AMOUNT" in bad.output
