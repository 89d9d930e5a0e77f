"""G's weight average: its half-life (`ema_kimg`, --ema-kimg), the ramp for a young G, and the CLI knob."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from test_training import tiny_config

from synthface.generator import Discriminator, Generator
from synthface.training.distributed import DistInfo
from synthface.training.losses import GANObjective

SINGLE = DistInfo(rank=0, world_size=1, local_rank=0)


def objective_with(tmp_path: Path, **overrides) -> GANObjective:
    config = tiny_config(tmp_path, tmp_path / "run", **overrides).resolve_defaults(on_gpu=False)
    G = Generator(**config.generator_kwargs())
    D = Discriminator(**config.discriminator_kwargs())
    return GANObjective(config, G, D, copy.deepcopy(G).eval(), torch.device("cpu"), SINGLE)


def ema_share_of_the_old_average(objective: GANObjective, images_trained: int) -> float:
    """One EMA update with G's weights at 1 and the average's at 0: what is left of the old average."""
    with torch.no_grad():
        for p in objective.G.parameters():
            p.fill_(1.0)
        for p in objective.G_ema.parameters():
            p.fill_(0.0)
    objective.update_ema(images_trained)
    weight = next(objective.G_ema.parameters()).detach()
    return 1.0 - float(weight.flatten()[0])


def test_the_average_halves_its_distance_to_g_once_per_half_life(tmp_path: Path) -> None:
    objective = objective_with(tmp_path, batch=8, ema_kimg=0.4)  # 400 images: 50 steps of 8
    assert ema_share_of_the_old_average(objective, 10**6) == pytest.approx(0.5 ** (8 / 400), rel=1e-5)


def test_the_default_half_life_grows_with_the_batch(tmp_path: Path) -> None:
    assert tiny_config(tmp_path, tmp_path, batch=128).resolve_defaults(on_gpu=False).ema_kimg == 40
    assert tiny_config(tmp_path, tmp_path, batch=128, ema_kimg=10).resolve_defaults(on_gpu=False).ema_kimg == 10


def test_a_young_g_is_followed_faster(tmp_path: Path) -> None:
    objective = objective_with(tmp_path, batch=8, ema_kimg=10)
    # After 1,000 images the ramp (5%) caps the half-life at 50 images instead of 10,000.
    assert ema_share_of_the_old_average(objective, 1000) == pytest.approx(0.5 ** (8 / 50), rel=1e-5)


def test_train_command_passes_ema_kimg_and_refuses_a_non_positive_one(tmp_path: Path, monkeypatch) -> None:
    from typer.testing import CliRunner

    import synthface.training.trainer as trainer
    from synthface.cli import app

    seen = {}

    def capture(config, resume=False):
        seen["ema_kimg"] = config.ema_kimg
        raise SystemExit(0)

    monkeypatch.setattr(trainer, "train", capture)
    out = tmp_path / "r"
    CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--out", str(out), "--ema-kimg", "2.5"])
    assert seen == {"ema_kimg": 2.5}
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--out", str(out), "--ema-kimg", "0"])
    assert result.exit_code != 0
    assert "--ema-kimg 0: give a positive half-life in kimg" in result.output
    assert not out.exists()
