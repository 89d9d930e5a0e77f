"""synthface.hub against the loopback Hub: publish datasets and models, load them back unchanged."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from synthface.errors import SynthfaceError

DATASET_CARD = """---
license: other
tags: [synthetic, ai-generated]
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*.parquet
---
# Test personas
"""


def _png(seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", pnginfo=None)
    return buffer.getvalue() + b"\x00signed-tail"  # bytes a re-encode would drop


def _dataset_folder(root):
    import datasets

    images = [_png(i) for i in range(5)]
    features = datasets.Features({"persona_id": datasets.Value("string"), "image": datasets.Image()})
    rows = {"persona_id": [f"p{i}" for i in range(5)], "image": [{"bytes": b, "path": None} for b in images]}
    (root / "data").mkdir(parents=True)
    datasets.Dataset.from_dict(rows, features=features).to_parquet(root / "data/train-00000-of-00001.parquet")
    (root / "README.md").write_text(DATASET_CARD)
    return images


def test_dataset_round_trip_keeps_image_bytes(hub_server, tmp_path):
    import datasets

    from synthface.hub import detect_repo_type, publish_folder

    folder = tmp_path / "personas"
    images = _dataset_folder(folder)
    assert detect_repo_type(folder) == "dataset"
    url = publish_folder(folder, "user/personas")
    assert url == f"{hub_server.url}/datasets/user/personas"

    loaded = datasets.load_dataset("user/personas", split="train")
    loaded = loaded.cast_column("image", datasets.Image(decode=False))
    assert [row["image"]["bytes"] for row in loaded] == images
    assert loaded["persona_id"] == [f"p{i}" for i in range(5)]
    streamed = datasets.load_dataset("user/personas", split="train", streaming=True)
    streamed = streamed.cast_column("image", datasets.Image(decode=False))
    assert [row["image"]["bytes"] for row in streamed] == images
    assert hub_server.unknown_requests == []


def _tiny_model_class():
    """A stand-in with the generator's save/load surface (config.json + model.safetensors)."""
    from huggingface_hub import PyTorchModelHubMixin

    class Tiny(torch.nn.Module, PyTorchModelHubMixin):
        def __init__(self, z_dim: int = 4, w_dim: int = 3):
            super().__init__()
            self.z_dim, self.w_dim = z_dim, w_dim
            self.linear = torch.nn.Linear(z_dim, w_dim)

    return Tiny


def test_model_round_trip_gives_identical_weights_and_a_card(hub_server, tmp_path):
    from huggingface_hub import ModelCard

    from synthface.hub import publish_folder, resolve_model

    Tiny = _tiny_model_class()
    torch.manual_seed(0)
    model = Tiny(z_dim=4, w_dim=3)
    model.save_pretrained(tmp_path / "model")
    (tmp_path / "model" / "metrics.json").write_text(json.dumps({"fid": 123.4}))
    publish_folder(tmp_path / "model", "user/tiny-gen", private=True)

    card = ModelCard((tmp_path / "model" / "README.md").read_text())
    assert card.data.library_name == "synthface" and "stylegan" in card.data.tags
    assert "Impersonation" in card.text and "non-commercial research" in card.text and "123.4" in card.text

    loaded = Tiny.from_pretrained("user/tiny-gen")
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
    local = resolve_model("user/tiny-gen")
    assert json.loads((local / "config.json").read_text()) == {"z_dim": 4, "w_dim": 3}
    assert resolve_model(tmp_path / "model") == tmp_path / "model"


def test_real_generator_round_trip_gives_identical_images(hub_server, tmp_path):
    generator_module = pytest.importorskip("synthface.generator")
    Generator = generator_module.Generator
    torch.manual_seed(0)
    G = Generator(resolution=16, z_dim=8, w_dim=8, mapping_layers=2, channel_base=64, channel_max=16)
    G.save_pretrained(tmp_path / "gen")
    from synthface.hub import publish_folder, resolve_model

    publish_folder(tmp_path / "gen", "user/gen")
    loaded = Generator.from_pretrained(str(resolve_model("user/gen")))
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert torch.equal(G(z, psi=0.7, noise_mode="const"), loaded(z, psi=0.7, noise_mode="const"))


def test_a_published_generator_with_its_discriminator_starts_a_fine_tuning_run(hub_server, tmp_path):
    """The trainer's export carries D; on the Hub its card says how to fine-tune, and --init-from
    with the repo id loads both networks exactly."""
    pytest.importorskip("synthface.generator")
    from huggingface_hub import ModelCard

    from synthface.generator import Discriminator, Generator
    from synthface.hub import publish_folder
    from synthface.training.config import TrainConfig
    from synthface.training.trainer import Trainer, export_generator

    torch.manual_seed(0)
    sizes = {"resolution": 16, "channel_base": 64, "channel_max": 16}
    G = Generator(z_dim=8, w_dim=8, mapping_layers=2, **sizes)
    D = Discriminator(**sizes).to(memory_format=torch.channels_last)  # as the CPU trainer holds it
    export_generator(G, tmp_path / "gen", D)
    publish_folder(tmp_path / "gen", "user/gen-with-d")
    card = ModelCard((tmp_path / "gen" / "README.md").read_text())
    assert "--init-from user/gen-with-d" in card.text

    config = TrainConfig(data="unused", out=str(tmp_path / "run"), init_from="user/gen-with-d", device="cpu",
                         progress=False)
    trainer = Trainer(config)
    used = trainer.config
    assert (used.resolution, used.z_dim, used.channel_max, used.d_warmup_kimg) == (16, 8, 16, 0.0)
    for mine, theirs in ((trainer.G_ema, G), (trainer.D, D)):
        for name, tensor in theirs.state_dict().items():
            assert torch.equal(mine.state_dict()[name], tensor), name


def test_unknown_or_bad_inputs_give_one_line_errors(hub_server, tmp_path, monkeypatch):
    from synthface.hub import publish_folder, resolve_model

    with pytest.raises(SynthfaceError, match="neither a local folder nor a reachable") as missing:
        resolve_model("user/does-not-exist")
    assert "\n" not in str(missing.value)
    with pytest.raises(SynthfaceError, match="does not exist"):
        resolve_model(str(tmp_path / "nowhere" / "model"))

    (tmp_path / "empty").mkdir()
    with pytest.raises(SynthfaceError, match="--repo-type"):
        publish_folder(tmp_path / "empty", "user/x")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    (broken / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{trunc")
    with pytest.raises(SynthfaceError, match="model.safetensors"):
        publish_folder(broken, "user/x")

    folder = tmp_path / "personas"
    _dataset_folder(folder)
    with pytest.raises(SynthfaceError, match="token was refused"):
        publish_folder(folder, "user/personas", token="hf_not_a_real_token")
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(SynthfaceError, match="no Hugging Face token"):
        publish_folder(folder, "user/personas")


def test_a_folder_holding_private_keys_is_not_published(hub_server, tmp_path, key_dir):
    import shutil

    from synthface.hub import publish_folder

    folder = tmp_path / "personas"
    _dataset_folder(folder)
    shutil.copytree(key_dir, folder / "keys")
    with pytest.raises(SynthfaceError, match=r"private keys \(keys/ca.key, keys/signer.key\)"):
        publish_folder(folder, "user/leaky")
    assert ("dataset", "user/leaky") not in hub_server.store.repos
    for name in ("ca.key", "signer.key"):
        (folder / "keys" / name).unlink()
    (folder / "notes.txt").write_bytes(b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n")
    with pytest.raises(SynthfaceError, match=r"notes.txt"):
        publish_folder(folder, "user/leaky")
    (folder / "notes.txt").unlink()
    assert publish_folder(folder, "user/leaky").endswith("user/leaky")  # certificates alone are public


def test_cli_publish(hub_server, tmp_path):
    import typer
    from typer.testing import CliRunner

    from synthface.hub import commands

    app = typer.Typer()
    commands.register(app)
    app.command("noop")(lambda: None)  # keep typer in multi-command mode, as in synthface.cli
    folder = tmp_path / "personas"
    _dataset_folder(folder)
    ok = CliRunner().invoke(app, ["publish", str(folder), "--repo", "user/cli-personas", "--private"])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout.strip() == f"{hub_server.url}/datasets/user/cli-personas"  # stderr has the bars
    assert hub_server.store.repos[("dataset", "user/cli-personas")].private

    bad = CliRunner().invoke(app, ["publish", str(folder), "--repo", "user/x", "--repo-type", "space"])
    assert bad.exit_code == 2 and "--repo-type" in bad.output
