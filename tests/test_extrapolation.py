"""Drift extrapolation: exact weight arithmetic, the anchor's D and kimg, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from extrapolate_generator import export_extrapolation, extrapolate_generator
from tiny_generators import check_exported_generator, run_script, save_tiny_generator

from synthface.errors import SynthfaceError
from synthface.generator.sampling import load_generator


def test_the_step_is_anchor_plus_gamma_times_anchor_minus_the_mean(tmp_path: Path) -> None:
    anchor = save_tiny_generator(tmp_path / "anchor", seed=0, kimg=10)
    continuations = [save_tiny_generator(tmp_path / f"c{i}", seed=i, kimg=20) for i in (1, 2, 3)]
    start = load_generator(anchor).state_dict()
    ends = [load_generator(folder).state_dict() for folder in continuations]
    stepped = extrapolate_generator(anchor, continuations, gamma=0.5).state_dict()
    for name, tensor in stepped.items():
        if tensor.is_floating_point():
            mean = torch.stack([end[name].double() for end in ends]).mean(0)
            expected = (start[name].double() + 0.5 * (start[name].double() - mean)).float()
            torch.testing.assert_close(tensor, expected, rtol=2e-6, atol=1e-6)  # mean kept in fp32
    assert not torch.equal(stepped["mapping_net.w_avg"], start["mapping_net.w_avg"])
    # One continuation is its own mean.
    single = extrapolate_generator(anchor, continuations[:1], gamma=1.0).state_dict()
    name = "mapping_net.w_avg"
    torch.testing.assert_close(single[name], 2 * start[name] - ends[0][name], rtol=2e-6, atol=1e-6)


def test_the_script_writes_a_loadable_generator_with_the_anchors_d_and_kimg(tmp_path: Path) -> None:
    anchor = save_tiny_generator(tmp_path / "anchor", seed=0, kimg=3080.0, with_d=True)
    c1 = save_tiny_generator(tmp_path / "c1", seed=1, kimg=3090.0, with_d=True)
    c2 = save_tiny_generator(tmp_path / "c2", seed=2, kimg=3090.0, with_d=True)
    out = run_script(["extrapolate_generator.py", str(c1), str(c2), "--anchor", str(anchor),
                                   "--gamma", "0.75", "--out", str(tmp_path / "stepped")])
    assert out.returncode == 0, (out.stdout + out.stderr)
    metrics = check_exported_generator(tmp_path / "stepped", d_from=anchor)
    assert metrics == {"extrapolated_from": "anchor, gamma 0.75 away from the mean of 2 continuation(s)",
                       "kimg": 3080.0}


def test_bad_gamma_mixed_architectures_and_missing_folders_are_refused(tmp_path: Path) -> None:
    anchor = save_tiny_generator(tmp_path / "anchor", seed=0, kimg=1)
    other = save_tiny_generator(tmp_path / "other", seed=1, kimg=2, channel_max=16)
    same = save_tiny_generator(tmp_path / "same", seed=2, kimg=2)
    for gamma in (0.0, -1.0, float("nan")):
        with pytest.raises(SynthfaceError, match="--gamma must be a positive number"):
            export_extrapolation(anchor, [same], gamma, tmp_path / "out")
    with pytest.raises(SynthfaceError, match="another architecture"):
        export_extrapolation(anchor, [other], 1.0, tmp_path / "out")
    with pytest.raises(SynthfaceError, match="at least one continuation"):
        export_extrapolation(anchor, [], 1.0, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    out = run_script(["extrapolate_generator.py", str(tmp_path / "missing"), "--anchor", str(anchor),
                                   "--out", str(tmp_path / "out")])
    assert out.returncode != 0 and "missing" in (out.stdout + out.stderr)
    assert not (tmp_path / "out").exists()
