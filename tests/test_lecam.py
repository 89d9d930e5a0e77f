"""LeCam's anchor penalty: its maths, its place in D's loss, and its state across a resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_training import make_blob_folder, read_metrics, tiny_config

from synthface import checkpoints as ckpt
from synthface.training.distributed import DistInfo
from synthface.training.lecam import LeCamAnchors
from synthface.training.trainer import train

SINGLE = DistInfo(rank=0, world_size=1, local_rank=0)


def test_anchors_start_at_the_first_batch_then_move_slowly() -> None:
    anchors = LeCamAnchors(decay=0.9)
    anchors.update(torch.tensor([3.0, 5.0]), torch.tensor([-2.0]), SINGLE)
    assert (float(anchors.real), float(anchors.fake)) == (4.0, -2.0)  # no pull towards 0 at a warm start
    anchors.update(torch.tensor([14.0]), torch.tensor([8.0]), SINGLE)
    assert float(anchors.real) == pytest.approx(0.9 * 4 + 0.1 * 14)
    assert float(anchors.fake) == pytest.approx(0.9 * -2 + 0.1 * 8)


def test_penalty_only_bites_when_real_and_fake_logits_pass_each_others_anchor() -> None:
    anchors = LeCamAnchors()
    anchors.real.fill_(1.0)
    anchors.fake.fill_(-1.0)
    inside_real, inside_fake = torch.tensor([-1.5, -1.0]), torch.tensor([1.0, 2.0])
    assert float(anchors.penalty(inside_real, inside_fake)) == 0.0
    real = torch.tensor([0.0, 2.0], requires_grad=True)  # 1 and 3 above the fake anchor
    fake = torch.tensor([-1.0, 3.0], requires_grad=True)  # 2 below the real anchor, 1 not
    penalty = anchors.penalty(real, fake)
    assert float(penalty.detach()) == pytest.approx((1 + 9) / 2 + (4 + 0) / 2)
    penalty.backward()
    # Descent lowers confident real logits and raises confident fake ones: D's outputs are pulled together.
    assert real.grad.tolist() == pytest.approx([1.0, 3.0]) and fake.grad.tolist() == pytest.approx([-2.0, 0.0])


def test_a_lecam_run_resumes_exactly_and_differs_from_one_without(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "cache"))
    blobs = make_blob_folder(tmp_path / "blobs")
    torch.set_num_threads(1)
    plain, straight, interrupted = tmp_path / "plain", tmp_path / "straight", tmp_path / "interrupted"
    train(tiny_config(blobs, plain))
    train(tiny_config(blobs, straight, lecam_weight=0.5))
    train(tiny_config(blobs, interrupted, lecam_weight=0.5, kimg=0.024))
    train(tiny_config(blobs, interrupted, kimg=0.048), resume=True)  # the run's own setting is kept

    assert json.loads((interrupted / "train_config.json").read_text())["lecam_weight"] == 0.5
    keys = ("loss_g", "loss_d", "d_real", "d_fake", "aug_p")
    rows = lambda run: [[row[k] for k in keys] for row in read_metrics(run)]  # noqa: E731
    assert rows(straight) == rows(interrupted)
    assert rows(straight)[0][2:] == rows(plain)[0][2:]  # same first batch and networks: same logits,
    assert rows(straight)[0][1] > rows(plain)[0][1]  # plus the penalty in D's loss
    assert rows(straight)[1:] != rows(plain)[1:]  # and D (then G) trained differently from there on
    anchors = ckpt.load_state(ckpt.latest_checkpoint(straight))["objective"]["lecam"]
    assert anchors["started"] and float(anchors["real"]) != 0.0 and float(anchors["fake"]) != 0.0


def test_train_command_refuses_a_negative_lecam_weight(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from synthface.cli import app

    out = tmp_path / "r"
    result = CliRunner().invoke(app, ["train", "--data", str(tmp_path), "--out", str(out), "--lecam-weight", "-1"])
    assert result.exit_code != 0
    assert "--lecam-weight -1: give 0 (off) or a positive weight" in result.output
    assert not out.exists()
