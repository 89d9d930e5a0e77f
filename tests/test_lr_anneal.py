"""--lr-anneal-kimg: both learning rates fall linearly to 0 over a run's last kimg, resumable."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_training import make_blob_folder, tiny_config

from synthface.training.trainer import Trainer, lr_anneal_share


@pytest.fixture
def blobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "cache"))
    return make_blob_folder(tmp_path / "blobs")


def test_share_is_full_until_the_anneal_window_then_falls_linearly() -> None:
    total = 10_000
    assert lr_anneal_share(0, total, 0.0) == 1.0  # off
    assert lr_anneal_share(5_000, total, 4.0) == 1.0  # before the last 4 kimg
    assert lr_anneal_share(6_000, total, 4.0) == 1.0
    assert lr_anneal_share(8_000, total, 4.0) == pytest.approx(0.5)
    assert lr_anneal_share(9_968, total, 4.0) == pytest.approx(0.008)  # the last batch of 32 still moves
    assert lr_anneal_share(total, total, 4.0) == 0.0
    assert lr_anneal_share(total + 64, total, 4.0) == 0.0  # a resume past --kimg never goes negative


def record_rates(trainer: Trainer) -> tuple[list[float], list[float]]:
    """The shares the trainer hands to each optimiser, step by step."""
    g_rates: list[float] = []
    d_rates: list[float] = []
    objective = trainer.objective
    scale_g, scale_d = objective.scale_g_lr, objective.scale_d_lr
    objective.scale_g_lr = lambda share: (g_rates.append(share), scale_g(share))
    objective.scale_d_lr = lambda share: (d_rates.append(share), scale_d(share))
    return g_rates, d_rates


def test_a_run_anneals_both_learning_rates_over_its_last_kimg(blobs: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    trainer = Trainer(tiny_config(blobs, tmp_path / "anneal", kimg=0.048, lr_anneal_kimg=0.032))
    g_rates, d_rates = record_rates(trainer)
    trainer.run()
    expected = [1.0, 1.0, 1.0, 0.75, 0.5, 0.25]  # batch 8: 48 images, the last 32 of them annealed
    assert d_rates == pytest.approx(expected) and g_rates == pytest.approx(expected)
    objective = trainer.objective
    assert objective.opt_G.param_groups[0]["lr"] == pytest.approx(objective.g_lr * 0.25)
    assert objective.opt_D.param_groups[0]["lr"] == pytest.approx(objective.d_lr * 0.25)


def test_anneal_multiplies_a_warm_starts_g_ramp(blobs: Path, tmp_path: Path) -> None:
    """G's ramp-up after a warm start and the final anneal overlap in a short run: G gets their product."""
    from synthface.training.trainer import train

    torch.set_num_threads(1)
    first = tmp_path / "first"
    train(tiny_config(blobs, first, kimg=0.008))
    trainer = Trainer(tiny_config(blobs, tmp_path / "both", init_from=str(first), g_lr_rampup_kimg=0.016,
                                  lr_anneal_kimg=0.032, kimg=0.032))
    g_rates, d_rates = record_rates(trainer)
    trainer.run()
    assert d_rates == pytest.approx([1.0, 0.75, 0.5, 0.25])
    assert g_rates == pytest.approx([0.5, 0.75, 0.5, 0.25])  # ramp 0.5, 1, 1, 1 times the anneal


def test_a_resumed_run_follows_the_same_schedule(blobs: Path, tmp_path: Path) -> None:
    from synthface.training.trainer import train

    torch.set_num_threads(1)
    run = tmp_path / "resumed"
    train(tiny_config(blobs, run, kimg=0.024, lr_anneal_kimg=0.032))  # a first leg, checkpointed at 24 images
    trainer = Trainer(tiny_config(blobs, run, kimg=0.048, lr_anneal_kimg=0.032), resume=True)
    g_rates, d_rates = record_rates(trainer)
    trainer.run()
    assert d_rates == pytest.approx([0.75, 0.5, 0.25]) and g_rates == d_rates


def test_train_command_refuses_a_negative_anneal(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthface.cli import app

    out = tmp_path / "r"
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--out", str(out), "--lr-anneal-kimg", "-5"])
    assert result.exit_code != 0
    assert "--lr-anneal-kimg -5: give 0 (constant rates) or a positive kimg" in result.output
    assert not out.exists()
