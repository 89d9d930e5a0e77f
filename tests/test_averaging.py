"""Snapshot averaging: the mean of exported generators is exact, loads, and refuses mixed models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from synthface.cli import app
from synthface.errors import SynthfaceError
from synthface.generator.discriminator import Discriminator
from synthface.generator.networks import Generator
from synthface.generator.sampling import load_generator
from synthface.pretrained import DISCRIMINATOR_FOLDER
from synthface.training.averaging import average_generators, export_average

TINY = dict(resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=32)


def _milestone(folder: Path, seed: int, kimg: float, with_d: bool = False, **overrides) -> Path:
    torch.manual_seed(seed)
    G = Generator(**{**TINY, **overrides})
    with torch.no_grad():
        G.mapping_net.w_avg.normal_()  # a buffer the mean must cover too, not only parameters
    G.save_pretrained(folder)
    (folder / "metrics.json").write_text(json.dumps({"kimg": kimg}))
    if with_d:
        Discriminator(resolution=16, channel_base=256, channel_max=32).save_pretrained(folder / DISCRIMINATOR_FOLDER)
    return folder


def test_the_average_is_the_mean_of_every_float_tensor(tmp_path: Path) -> None:
    folders = [_milestone(tmp_path / f"kimg-{k}", seed=k, kimg=k) for k in (1, 2, 3)]
    states = [load_generator(folder).state_dict() for folder in folders]
    mean = average_generators(folders).state_dict()
    for name, tensor in mean.items():
        if tensor.is_floating_point():
            expected = torch.stack([state[name].double() for state in states]).mean(0).float()
            torch.testing.assert_close(tensor, expected, rtol=0, atol=0)
    assert not torch.equal(mean["mapping_net.w_avg"], states[0]["mapping_net.w_avg"])


def test_the_exported_average_loads_samples_and_keeps_the_newest_d(tmp_path: Path) -> None:
    old = _milestone(tmp_path / "kimg-5", seed=0, kimg=5.0, with_d=True)
    new = _milestone(tmp_path / "kimg-7", seed=1, kimg=7.0, with_d=True)
    out = CliRunner().invoke(app, ["average-generators", str(new), str(old), "--out", str(tmp_path / "mean")])
    assert out.exit_code == 0, out.output
    G = load_generator(tmp_path / "mean")
    images = G(torch.randn(2, G.z_dim), psi=1.0)
    assert images.shape == (2, 3, 16, 16) and torch.isfinite(images).all()
    metrics = json.loads((tmp_path / "mean" / "metrics.json").read_text())
    assert metrics == {"averaged_from": "2 milestones, 5-7 kimg", "kimg": 7.0}
    d_bytes = (tmp_path / "mean" / DISCRIMINATOR_FOLDER / "model.safetensors").read_bytes()
    assert d_bytes == (new / DISCRIMINATOR_FOLDER / "model.safetensors").read_bytes()
    assert not list(tmp_path.glob(".mean*")), "no temp folder is left behind"


def test_mixed_architectures_and_single_folders_are_refused(tmp_path: Path) -> None:
    a = _milestone(tmp_path / "a", seed=0, kimg=1)
    b = _milestone(tmp_path / "b", seed=1, kimg=2, channel_max=16)
    with pytest.raises(SynthfaceError, match="another architecture"):
        export_average([a, b], tmp_path / "mean")
    with pytest.raises(SynthfaceError, match="at least two"):
        export_average([a], tmp_path / "mean")
    assert not (tmp_path / "mean").exists()
    out = CliRunner().invoke(app, ["average-generators", str(a), str(tmp_path / "missing"), "--out",
                                   str(tmp_path / "mean")])
    assert out.exit_code != 0 and "missing" in out.output
