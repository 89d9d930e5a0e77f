"""Snapshot averaging: the mean of exported generators is exact, loads, and refuses mixed models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from average_generators import average_generators, export_average
from tiny_generators import check_exported_generator, run_script, save_tiny_generator

from synthface.errors import SynthfaceError
from synthface.generator.sampling import load_generator


def test_the_average_is_the_mean_of_every_float_tensor(tmp_path: Path) -> None:
    folders = [save_tiny_generator(tmp_path / f"kimg-{k}", seed=k, kimg=k) for k in (1, 2, 3)]
    states = [load_generator(folder).state_dict() for folder in folders]
    mean = average_generators(folders).state_dict()
    for name, tensor in mean.items():
        if tensor.is_floating_point():
            expected = torch.stack([state[name].double() for state in states]).mean(0).float()
            torch.testing.assert_close(tensor, expected, rtol=0, atol=0)
    assert not torch.equal(mean["mapping_net.w_avg"], states[0]["mapping_net.w_avg"])


def test_the_exported_average_loads_samples_and_keeps_the_newest_d(tmp_path: Path) -> None:
    old = save_tiny_generator(tmp_path / "kimg-5", seed=0, kimg=5.0, with_d=True)
    new = save_tiny_generator(tmp_path / "kimg-7", seed=1, kimg=7.0, with_d=True)
    out = run_script(["average_generators.py", str(new), str(old), "--out", str(tmp_path / "mean")])
    assert out.returncode == 0, (out.stdout + out.stderr)
    metrics = check_exported_generator(tmp_path / "mean", d_from=new)
    assert metrics == {"averaged_from": "2 milestones, 5-7 kimg", "kimg": 7.0}


def test_mixed_architectures_and_single_folders_are_refused(tmp_path: Path) -> None:
    a = save_tiny_generator(tmp_path / "a", seed=0, kimg=1)
    b = save_tiny_generator(tmp_path / "b", seed=1, kimg=2, channel_max=16)
    with pytest.raises(SynthfaceError, match="another architecture"):
        export_average([a, b], tmp_path / "mean")
    with pytest.raises(SynthfaceError, match="at least two"):
        export_average([a], tmp_path / "mean")
    assert not (tmp_path / "mean").exists()
    out = run_script(["average_generators.py", str(a), str(tmp_path / "missing"), "--out",
                                   str(tmp_path / "mean")])
    assert out.returncode != 0 and "missing" in (out.stdout + out.stderr)
