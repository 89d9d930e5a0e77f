"""Persona datasets: identities, latents, the shard writer, resume, ranks, and the card.

A tiny untrained 64 px generator (the watermark needs 64 px) keeps every step fast; the
images are noise, but signing, watermarking, sharding and loading are all real.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
import torch
from PIL import Image

from synthface.errors import SynthfaceError

TINY = dict(resolution=64, z_dim=32, w_dim=32, mapping_layers=2, channel_base=256, channel_max=32)


@pytest.fixture(scope="module")
def signing_home(tmp_path_factory):
    """A private SYNTHFACE_HOME with fresh signing keys, for this module only."""
    from synthface.provenance import init_keys

    home = tmp_path_factory.mktemp("synthface-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SYNTHFACE_HOME", str(home))
        for name in ("SYNTHFACE_SIGNING_CERT", "SYNTHFACE_SIGNING_KEY", "SYNTHFACE_TRUST_ANCHORS", "RANK",
                     "WORLD_SIZE"):
            patch.delenv(name, raising=False)
        init_keys()
        yield home


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from synthface.generator import Generator

    torch.manual_seed(0)
    G = Generator(**TINY)
    with torch.no_grad():  # give the noise inputs some weight, as training would
        for module in G.modules():
            if hasattr(module, "strength"):
                module.strength.fill_(0.3)
    folder = tmp_path_factory.mktemp("model") / "tiny-gen"
    G.save_pretrained(folder)
    return folder


def _cache(folder):
    """A datasets cache per dataset folder, so tests do not share (or leave) entries in ~/.cache."""
    return str(folder.parent / f".{folder.name}-datasets-cache")


def _options(model, out, **overrides):
    from synthface.personas.pipeline import GenerateOptions

    values = dict(model=str(model), out=out, count=6, variants=2, shard_size=2, workers=0, guard=False,
                  progress=False)
    values.update(overrides)
    return GenerateOptions(**values)


@pytest.fixture(scope="module")
def dataset(signing_home, tiny_model, tmp_path_factory):
    """One generated dataset (6 personas x 2 variants, 3 shards, one signing worker, sidecars)."""
    from synthface.personas.pipeline import generate_personas

    out = tmp_path_factory.mktemp("personas") / "ds"
    report = generate_personas(_options(tiny_model, out, workers=1, sidecar=True))
    return out, report


def test_persona_identity_is_stable_and_model_specific():
    from synthface.personas.persona import PersonaSpec, persona_id, persona_profile

    a = persona_id("sha-a", PersonaSpec(7))
    assert a == persona_id("sha-a", PersonaSpec(7)) and re.fullmatch(r"p-[0-9a-f]{20}", a)
    assert a != persona_id("sha-b", PersonaSpec(7)) != persona_id("sha-a", PersonaSpec(8))
    assert persona_id("sha-a", PersonaSpec(7, 9, "fine")) != a
    first, again = persona_profile(a, "female"), persona_profile(a, "female")
    assert first == again and first.name in first.profile and "fictional" in first.profile
    assert persona_profile(persona_id("sha-a", PersonaSpec(8)), "female") != first


def test_names_and_pronouns_follow_the_presentation():
    """A face read as female gets a female-read name and she/her, male likewise, unsure a neutral
    name and they/them; the name dictionary agrees with every name drawn."""
    from synthface.attributes.labels import name_presentation, persona_first_names
    from synthface.personas.persona import PersonaSpec, persona_id, persona_profile

    neutral = set(persona_first_names()["uncertain"])
    for seed in range(40):
        pid = persona_id("sha-a", PersonaSpec(seed))
        female, male, unsure = (persona_profile(pid, p) for p in ("female", "male", "uncertain"))
        assert name_presentation(female.name.split()[0]) == "female" and female.pronouns == "she/her"
        assert name_presentation(male.name.split()[0]) == "male" and male.pronouns == "he/him"
        assert unsure.name.split()[0] in neutral and unsure.pronouns == "they/them"
        assert "(she/her)" in female.profile and "(they/them)" in unsure.profile
    with pytest.raises(SynthfaceError, match="unknown presentation"):
        persona_profile(pid, "robot")


def test_variants_keep_coarse_and_middle_styles_and_vary_fine_ones(tiny_model):
    from synthface.generator.sampling import load_generator, style_band
    from synthface.personas.latents import ImageSpec, image_ws, synthesise
    from synthface.personas.persona import PersonaSpec

    G = load_generator(str(tiny_model))
    specs = [ImageSpec(PersonaSpec(5), v) for v in range(3)] + [ImageSpec(PersonaSpec(6), 1)]
    ws = image_ws(G, specs, psi=0.7)
    fine_start, _ = style_band("fine", G.num_ws, G.img_resolution)
    assert torch.equal(ws[1, :fine_start], ws[0, :fine_start]) and torch.equal(ws[2, :fine_start], ws[0, :fine_start])
    assert not torch.equal(ws[1, fine_start:], ws[0, fine_start:])
    assert not torch.equal(ws[1, fine_start:], ws[2, fine_start:])
    images = synthesise(G, ws, specs)
    assert (images[1] - images[0]).abs().mean() > 1e-3
    assert specs[0].noise_seed is None and specs[1].noise_seed != specs[2].noise_seed
    # An image does not depend on the batch it was made in (z per seed, noise per image).
    alone = synthesise(G, image_ws(G, specs[1:2], psi=0.7), specs[1:2])
    assert torch.allclose(alone[0], images[1], atol=1e-4)
    # Variant 0 is exactly the generator's own constant-noise image of that seed.
    from synthface.generator.seeds import z_from_seeds

    assert torch.allclose(images[0], G(z_from_seeds([5], G.z_dim), psi=0.7, noise_mode="const")[0], atol=1e-5)


def test_mixed_persona_takes_the_crossover_band_from_its_style_parent(tiny_model):
    from synthface.generator.sampling import load_generator, mix_styles, style_band
    from synthface.generator.seeds import z_from_seeds
    from synthface.personas.latents import ImageSpec, image_ws
    from synthface.personas.persona import PersonaSpec
    from synthface.personas.pipeline import GenerateOptions, plan_personas

    G = load_generator(str(tiny_model))
    plan = plan_personas(GenerateOptions(model="x", out=None, mix="1-2:10", crossover="coarse"))
    assert plan == [PersonaSpec(1, 10, "coarse"), PersonaSpec(2, 10, "coarse")]
    ws = image_ws(G, [ImageSpec(plan[0], 0)], psi=0.7)
    expected = mix_styles(G.mapping(z_from_seeds([1], G.z_dim), psi=0.7),
                          G.mapping(z_from_seeds([10], G.z_dim), psi=0.7), style_band("coarse", G.num_ws, 64))
    assert torch.equal(ws, expected)
    with pytest.raises(SynthfaceError, match="SOURCE_SEEDS:STYLE_SEEDS"):
        plan_personas(GenerateOptions(model="x", out=None, mix="1-2"))
    with pytest.raises(SynthfaceError, match="--count"):
        plan_personas(GenerateOptions(model="x", out=None))


def test_dataset_rows_hold_the_exact_signed_bytes_and_verify(dataset, tiny_model):
    import datasets
    import pyarrow.parquet as pq

    from synthface.personas.persona import checkpoint_sha256
    from synthface.provenance import ManifestStore, trust_anchors_pem, verify_image

    out, report = dataset
    assert report.personas == 6 and report.images == 12 and report.card_written
    shards = sorted((out / "data").glob("*.parquet"))
    assert [s.name for s in shards] == [f"train-0000{i}-of-00003.parquet" for i in range(3)]
    raw_bytes = [cell["bytes"] for s in shards for cell in pq.read_table(s).column("image").to_pylist()]

    rows = datasets.load_dataset(str(out), split="train", cache_dir=_cache(out))
    rows = rows.cast_column("image", datasets.Image(decode=False))
    assert [row["image"]["bytes"] for row in rows] == raw_bytes
    anchors = trust_anchors_pem()
    sha = checkpoint_sha256(tiny_model)
    for row in rows:
        data = row["image"]["bytes"]
        # Byte identity with what c2pa signed: the manifest store it returned is embedded verbatim.
        sidecar = (out / "manifests" / f"{row['image_id']}.c2pa").read_bytes()
        assert sidecar in data
        report_ = verify_image(data, anchors)
        assert report_.ok, report_.summary_line()
        assert report_.ai_generated and report_.data_hash == "match"
        assert report_.manifest_label == row["c2pa_manifest_label"]
        assert report_.watermark_payload == row["watermark_payload"]
        assert report_.synthface["persona_id"] == row["persona_id"] and report_.synthface["seed"] == row["seed"]
        assert row["checkpoint_sha256"] == sha and row["generator_id"] == "tiny-gen"
        assert np.asarray(row["w"]).shape == (10, 32) and row["name"] and row["created_at"].endswith("+00:00")
    assert sorted({row["seed"] for row in rows}) == list(range(6))
    assert [row["variant"] for row in rows] == [0, 1] * 6
    # Decoded rows load as images; streaming gives the same bytes.
    decoded = datasets.load_dataset(str(out), split="train", cache_dir=_cache(out))
    assert decoded[0]["image"].size == (64, 64)
    streamed = datasets.load_dataset(str(out), split="train", streaming=True)
    streamed = streamed.cast_column("image", datasets.Image(decode=False))
    assert [row["image"]["bytes"] for row in streamed] == raw_bytes
    # A stripped copy (re-encoded) still finds its manifest through the watermark and the sidecar store.
    pixels = Image.open(io.BytesIO(raw_bytes[0]))
    buffer = io.BytesIO()
    pixels.save(buffer, format="PNG")
    stripped = verify_image(buffer.getvalue(), anchors, ManifestStore(out / "manifests"))
    assert stripped.manifest == "store" and stripped.watermark_found


def test_detect_and_verify_take_the_dataset_folder_row_by_row(dataset, tmp_path):
    """What a user checks right after generate-personas is the folder it wrote: its shards' rows are
    the signed files, so both commands read them, and a bad shard is reported without stopping."""
    import json
    import shutil

    import pyarrow as pa
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from synthface.cli import app

    out, _ = dataset
    runner = CliRunner()
    verified = runner.invoke(app, ["verify", str(out), "--json"])
    assert verified.exit_code == 0, verified.output
    reports = [json.loads(line) for line in verified.stdout.splitlines()]
    assert len(reports) == 12 and all(r["signature_valid"] and r["signer_trusted"] for r in reports)
    assert reports[5]["source"] == f"{out / 'data' / 'train-00001-of-00003.parquet'}[1]"  # 4 rows a shard
    detected = runner.invoke(app, ["detect", str(out / "data"), "--json", "--no-classifier"])
    assert detected.exit_code == 0, detected.output
    rows = [json.loads(line) for line in detected.stdout.splitlines() if line.startswith("{")]
    assert [r["verdict"] for r in rows] == ["synthetic (signed)"] * 12
    assert rows[0]["c2pa"]["persona"] is not None and rows[0]["c2pa"]["status"] == "trusted"

    mixed = tmp_path / "mixed"
    shutil.copytree(out / "data", mixed)
    (mixed / "broken.parquet").write_bytes(b"PAR1 this is not a parquet file")
    pq.write_table(pa.table({"name": ["x"]}), mixed / "names.parquet")
    result = runner.invoke(app, ["detect", str(mixed), "--no-classifier"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    verdicts = [line.split("  ")[0] for line in result.stdout.splitlines()[1:-1]]
    assert verdicts.count("synthetic (signed)") == 12 and verdicts.count("error") == 2
    assert "broken.parquet" in result.stdout and "not a readable parquet shard" in result.stdout
    assert "names.parquet" in result.stdout and "no image column" in result.stdout


def test_w_column_regenerates_the_image(dataset, tiny_model):
    import datasets

    from synthface.generator.images import to_uint8
    from synthface.generator.sampling import load_generator

    out, _ = dataset
    G = load_generator(str(tiny_model))
    row = datasets.load_dataset(str(out), split="train", cache_dir=_cache(out))[0]
    ws = torch.from_numpy(np.asarray(row["w"], dtype=np.float16)).float()[None]
    again = to_uint8(G.synthesis(ws, noise_mode="const"))[0].astype(int)
    # float16 w and the invisible watermark move pixels by a few levels at most.
    assert np.abs(again - np.asarray(row["image"], dtype=int)).mean() < 4


def test_card_has_the_metadata_and_sections_the_hub_needs(dataset):
    from huggingface_hub import DatasetCard

    out, _ = dataset
    card = DatasetCard.load(out / "README.md")
    data = card.data.to_dict()
    assert {"synthetic", "ai-generated", "c2pa"} <= set(data["tags"])
    assert data["annotations_creators"] == ["machine-generated"] and data["license"] == "other"
    assert data["size_categories"] == ["n<1K"] and data["pretty_name"] and data["language"] == ["en"]
    assert data["license_link"] == "LICENSE.md" and "non-commercial" in (out / "LICENSE.md").read_text()
    assert "task_categories" not in data  # training is notAllowed (the default), so no training task is advertised
    assert data["configs"][0]["data_files"][0]["path"] == "data/train-*.parquet"
    info = data["dataset_info"]
    assert info["splits"] == [{"name": "train", "num_bytes": info["dataset_size"], "num_examples": 12}]
    assert info["download_size"] == sum(p.stat().st_size for p in (out / "data").glob("*.parquet"))
    assert {"name": "image", "dtype": "image"} in info["features"]
    for phrase in ("synthface verify", "Impersonation", "Fake profiles", "synthface detect", "biases",
                   "non-commercial research", "No memorisation guard", "12 **AI-generated**", "## Who is in it",
                   "not identities", "| uncertain | 6 | 100.0% |", "no face that dlib could find"):
        assert phrase in card.text, phrase


def test_the_cards_reproduce_command_runs_and_its_ca_verifies(signing_home, tiny_model, tmp_path, monkeypatch):
    """The card's "Reproduce it with" command makes the same personas; `--ai-training allowed` reaches every
    manifest and the card; `verify --trust-anchor signer-ca.pem` trusts the signer where nothing else does."""
    import re
    import shlex

    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from synthface.cli import app

    first = tmp_path / "first"
    runner = CliRunner()
    result = runner.invoke(app, ["generate-personas", "--model", str(tiny_model), "--out", str(first), "--count", "3",
                                 "--no-guard", "--workers", "0", "--ai-training", "allowed"])
    assert result.exit_code == 0, result.output
    card = (first / "README.md").read_text()
    command = re.search(r"```bash\n(synthface generate-personas [^\n]*)\n```", card).group(1)
    assert "--ai-training allowed" in command and "task_categories" in card
    again = tmp_path / "again"
    args = shlex.split(command.replace("--out DIR", f"--out {again}"))[1:]
    assert runner.invoke(app, [*args, "--workers", "0"]).exit_code == 0

    def rows(folder):
        return pq.read_table(sorted((folder / "data").glob("*.parquet"))[0], columns=["persona_id", "name",
                                                                                      "watermark_payload"]).to_pylist()

    assert rows(again) == rows(first)
    monkeypatch.setenv("SYNTHFACE_HOME", str(tmp_path / "a-verifier-elsewhere"))  # does not trust our CA
    image = tmp_path / "one.png"
    image.write_bytes(pq.read_table(sorted((first / "data").glob("*.parquet"))[0]).column("image")[0].as_py()["bytes"])
    untrusted = runner.invoke(app, ["verify", str(image), "--json"])
    trusted = runner.invoke(app, ["verify", str(image), "--json", "--trust-anchor", str(first / "signer-ca.pem")])
    assert '"signer_trusted": false' in untrusted.output and '"signer_trusted": true' in trusted.output
    assert '"training_mining": "allowed"' in trusted.output


def test_choosing_seeds_by_how_faces_read(signing_home, tmp_path):
    """--filter keeps only faces read so, with fitting names; --balance splits female/male evenly; the card
    and a resumed run agree; a filter nothing passes stops with one line."""
    import datasets

    from synthface.attributes.labels import name_presentation
    from synthface.personas.pipeline import generate_personas
    from synthface.pretrained import default_generator_spec

    bundled = default_generator_spec()
    out = tmp_path / "women"
    generate_personas(_options(bundled, out, count=4, variants=1, filter="gender=female"))
    rows = datasets.load_dataset(str(out), split="train", cache_dir=_cache(out))
    assert rows["perceived_gender"] == ["female"] * 4 and all(p >= 0.5 for p in rows["p_female"])
    assert all(name_presentation(name.split()[0]) == "female" for name in rows["name"])
    assert rows["pronouns"] == ["she/her"] * 4 and "only faces read as female" in (out / "README.md").read_text()
    even = tmp_path / "even"
    generate_personas(_options(bundled, even, count=6, variants=1, balance="gender"))
    rows = datasets.load_dataset(str(even), split="train", cache_dir=_cache(even))
    assert sorted(rows["perceived_gender"]) == ["female"] * 3 + ["male"] * 3
    card = (even / "README.md").read_text()
    assert "| female | 3 | 50.0% |" in card and "--balance gender" in card


def test_a_choice_nothing_passes_and_bad_choices_fail_clearly(signing_home, tiny_model, tmp_path):
    from synthface.personas.pipeline import generate_personas

    with pytest.raises(SynthfaceError, match="only 0 of the 2 personas wanted"):  # random weights: no face
        generate_personas(_options(tiny_model, tmp_path / "a", count=2, filter="gender=female"))
    with pytest.raises(SynthfaceError, match="gender=female, gender=male or gender=uncertain"):
        generate_personas(_options(tiny_model, tmp_path / "b", filter="age=old"))
    with pytest.raises(SynthfaceError, match="not both"):
        generate_personas(_options(tiny_model, tmp_path / "c", filter="gender=male", balance="gender"))
    with pytest.raises(SynthfaceError, match="do not combine with --mix"):
        generate_personas(_options(tiny_model, tmp_path / "d", count=None, mix="1:2", balance="gender"))


def test_resume_keeps_finished_shards_and_refuses_to_mix_runs(signing_home, tiny_model, tmp_path):
    from synthface.personas.pipeline import generate_personas

    out = tmp_path / "ds"
    generate_personas(_options(tiny_model, out))
    shards = sorted((out / "data").glob("*.parquet"))
    kept = {s: s.read_bytes() for s in shards}
    shards[1].unlink()
    (out / "README.md").unlink()
    (out / "data" / ".train-00001-of-00003.parquet.abc.tmp").write_bytes(b"half a shard")  # a killed write

    with pytest.raises(SynthfaceError, match="--resume"):
        generate_personas(_options(tiny_model, out))
    report = generate_personas(_options(tiny_model, out, resume=True))
    assert report.shards_written == [1] and report.shards_skipped == [0, 2] and report.card_written
    assert shards[0].read_bytes() == kept[shards[0]] and shards[2].read_bytes() == kept[shards[2]]
    assert shards[1].is_file() and (out / "README.md").is_file()
    with pytest.raises(SynthfaceError, match="different run"):
        generate_personas(_options(tiny_model, out, psi=0.5, resume=True))


def test_a_stopped_run_is_not_a_dataset_until_it_is_finished(signing_home, tiny_model, tmp_path):
    """Killed after its first shard: `load_dataset` refuses the folder (naming what to do) instead of
    loading one shard as if it were all, `verify` says how many shards are missing and exits 1."""
    import datasets
    from typer.testing import CliRunner

    from synthface.cli import app
    from synthface.personas import pipeline

    out = tmp_path / "ds"
    real_write = pipeline._write_one_shard

    def killed_after_the_first(run, index, pool, bar):
        if index > 0:
            raise KeyboardInterrupt
        return real_write(run, index, pool, bar)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "_write_one_shard", killed_after_the_first)
        with pytest.raises(KeyboardInterrupt):
            pipeline.generate_personas(_options(tiny_model, out))
    assert len(list((out / "data").glob("*.parquet"))) == 1
    assert "--resume" in (out / "README.md").read_text()
    with pytest.raises(FileNotFoundError, match="UNFINISHED"):
        datasets.load_dataset(str(out), split="train", cache_dir=_cache(out))
    result = CliRunner().invoke(app, ["verify", str(out), "--key-dir", str(signing_home / "keys")])
    assert result.exit_code == 1 and "incomplete: 1 of 3 shards" in result.output

    pipeline.generate_personas(_options(tiny_model, out, resume=True))
    assert len(datasets.load_dataset(str(out), split="train", cache_dir=_cache(out))) == 12
    assert "incomplete" not in CliRunner().invoke(app, ["verify", str(out)]).output


def test_two_ranks_write_the_same_dataset_as_one_process(signing_home, tiny_model, tmp_path):
    import datasets

    from synthface.personas.pipeline import generate_personas

    single, split = tmp_path / "single", tmp_path / "ranks"
    generate_personas(_options(tiny_model, single))
    first = generate_personas(_options(tiny_model, split, rank=1, world_size=2))
    assert first.shards_written == [1] and not first.card_written
    second = generate_personas(_options(tiny_model, split, rank=0, world_size=2))
    assert second.shards_written == [0, 2] and second.card_written
    def card_without_sizes(folder):  # shard byte counts differ by a few bytes (timestamps, manifest ids)
        return re.sub(r"(num_bytes|download_size|dataset_size): \d+", "", (folder / "README.md").read_text())

    assert card_without_sizes(single) == card_without_sizes(split)

    def content(folder):
        rows = datasets.load_dataset(str(folder), split="train", cache_dir=_cache(folder))
        variable = {"image", "created_at", "c2pa_manifest_label"}
        return [({k: v for k, v in row.items() if k not in variable}, np.asarray(row["image"]).tobytes())
                for row in rows]

    assert content(single) == content(split)


def test_a_regenerated_folder_is_not_served_from_the_datasets_cache(signing_home, tiny_model, tmp_path):
    """`datasets` keys a local folder's cache by its name and its card's YAML: the card's
    dataset_info (shard byte counts) is what tells two same-named datasets apart."""
    import shutil

    import datasets

    from synthface.personas.pipeline import generate_personas

    cache = str(tmp_path / "shared-cache")
    first, second = tmp_path / "a" / "ds", tmp_path / "b" / "ds"
    generate_personas(_options(tiny_model, first, count=2, shard_size=2))
    generate_personas(_options(tiny_model, second, count=3, seed_start=100, shard_size=2))
    assert sorted(datasets.load_dataset(str(first), split="train", cache_dir=cache)["seed"]) == [0, 0, 1, 1]
    assert sorted(set(datasets.load_dataset(str(second), split="train", cache_dir=cache)["seed"])) == [100, 101, 102]
    shutil.rmtree(first)  # regenerated in place, same count and shard layout, other seeds
    generate_personas(_options(tiny_model, first, count=2, seed_start=50, shard_size=2))
    assert sorted(set(datasets.load_dataset(str(first), split="train", cache_dir=cache)["seed"])) == [50, 51]


def test_bad_inputs_fail_with_one_line(signing_home, tiny_model, tmp_path):
    from typer.testing import CliRunner

    from synthface.cli import app
    from synthface.generator import Generator
    from synthface.personas.pipeline import generate_personas

    small = tmp_path / "small"
    Generator(**{**TINY, "resolution": 32}).save_pretrained(small)
    with pytest.raises(SynthfaceError, match="at least 64 px"):
        generate_personas(_options(small, tmp_path / "a"))
    with pytest.raises(SynthfaceError, match="build-guard"):
        generate_personas(_options(tiny_model, tmp_path / "b", guard=True))
    runner = CliRunner()
    result = runner.invoke(app, ["generate-personas", "--model", str(tmp_path / "missing"), "--out",
                                 str(tmp_path / "c"), "--count", "2"])
    assert result.exit_code == 2 and "does not exist" in result.output
    result = runner.invoke(app, ["generate-personas", "--model", str(tiny_model), "--out", str(tmp_path / "d"),
                                 "--no-guard", "--mix", "1:2", "--crossover", "99"])
    assert result.exit_code == 2 and "crossover" in result.output
    assert not (tmp_path / "d" / "data").exists()


def _processes_with(marker: str) -> list[int]:
    """Pids of live processes whose environment carries `marker` (Linux /proc)."""
    import os

    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as handle:
                if marker.encode() in handle.read():
                    with open(f"/proc/{entry}/stat") as stat:
                        if stat.read().split(") ")[-1][0] != "Z":  # a zombie holds no memory
                            found.append(int(entry))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not __import__("os").path.isdir("/proc"), reason="needs Linux /proc")
def test_killing_generate_personas_leaves_no_signing_worker_behind(signing_home, tiny_model, tmp_path):
    """kill -9 of the main process: its signing workers (which hold the key) end within seconds."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import uuid

    marker = f"SYNTHFACE_TEST_RUN={uuid.uuid4().hex}"
    env = {**os.environ, "SYNTHFACE_HOME": str(signing_home), marker.split("=")[0]: marker.split("=")[1]}
    main = subprocess.Popen([sys.executable, "-m", "synthface.cli", "generate-personas", "--model", str(tiny_model),
                             "--count", "100000", "--workers", "2", "--no-guard", "--out", str(tmp_path / "ds")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(_processes_with(marker)) < 3 and time.monotonic() < deadline:  # main + forkserver + workers
            time.sleep(0.2)
        assert len(_processes_with(marker)) >= 3, "the signing pool never started"
        time.sleep(1.0)  # let the workers take jobs
        os.kill(main.pid, signal.SIGKILL)
        main.wait()
        deadline = time.monotonic() + 10
        while _processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _processes_with(marker) == []
    finally:
        for pid in _processes_with(marker):
            os.kill(pid, signal.SIGKILL)
