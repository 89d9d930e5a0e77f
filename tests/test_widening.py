"""Widening a trained network: same function before training, more channels to learn with after."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from synthface.errors import SynthfaceError
from synthface.generator import Discriminator, Generator
from synthface.training.trainer import Trainer, train
from synthface.training.widening import check_widening, load_widened, widths
from tests.test_training import make_blob_folder, tiny_config

NARROW = dict(resolution=16, channel_base=128, channel_max=32)
WIDE = dict(resolution=16, channel_base=256, channel_max=32)


def _perturbed(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Random values in every tensor (biases and noise strengths start at zero, which hides bugs)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in module.state_dict().values():
            if tensor.is_floating_point():
                tensor.add_(0.3 * torch.randn(tensor.shape, generator=generator))
    return module


def test_the_width_schedule_grows_only_the_fine_layers() -> None:
    assert widths(16, 128, 32) == {4: 32, 8: 16, 16: 8}
    assert widths(16, 256, 32) == {4: 32, 8: 32, 16: 16}


def test_a_widened_generator_draws_the_same_images() -> None:
    torch.manual_seed(0)
    narrow = _perturbed(Generator(z_dim=16, w_dim=16, mapping_layers=2, **NARROW), 1).eval()
    wide = Generator(z_dim=16, w_dim=16, mapping_layers=2, **WIDE).eval()
    assert load_widened(wide, narrow.state_dict())
    assert wide.synthesis_net.blocks[2].conv1.conv.weight.shape == (16, 16, 3, 3)
    z = torch.randn(6, 16)
    with torch.no_grad():
        torch.testing.assert_close(wide(z, psi=0.7), narrow(z, psi=0.7), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(wide(z, fused=True), narrow(z, fused=True), rtol=1e-5, atol=1e-5)
    # The new channels are not dead: the zero weights that read them get gradients at once.
    wide.train()
    wide(z).square().mean().backward()
    reader = wide.synthesis_net.blocks[2].conv1.conv.weight  # 16 px: 8 trained inputs, 8 new
    assert reader.grad[:8, 8:].abs().sum() > 0


def test_a_widened_discriminator_gives_the_same_logits() -> None:
    torch.manual_seed(0)
    narrow = _perturbed(Discriminator(**NARROW), 2)
    wide = Discriminator(**WIDE)
    assert load_widened(wide, narrow.state_dict())
    images = torch.randn(8, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(wide(images), narrow(images), rtol=1e-5, atol=1e-5)


def test_widening_refuses_to_narrow_or_touch_the_4x4_epilogue() -> None:
    with pytest.raises(SynthfaceError, match="would narrow the --init-from model's 8 px layers .32 -> 16"):
        check_widening(16, (256, 32), (128, 32))
    with pytest.raises(SynthfaceError, match=r"changes the 4x4 width \(32 -> 64\), .*; keep --channel-max 32"):
        check_widening(16, (256, 32), (256, 64))
    check_widening(16, (128, 32), (256, 32))


def test_a_warm_start_with_a_larger_channel_base_widens_and_trains(tmp_path: Path, monkeypatch) -> None:
    """`train --init-from M --channel-base 2x` starts where M was (same images) and then trains
    the wider networks; the new run's config and export record the wider architecture."""
    monkeypatch.setenv("SYNTHFACE_CACHE", str(tmp_path / "cache"))
    blobs = make_blob_folder(tmp_path / "blobs")
    torch.set_num_threads(1)
    first = tmp_path / "first"
    train(tiny_config(blobs, first, kimg=0.016, channel_base=128))
    narrow = Generator.from_pretrained(first / "generator").eval()

    config = tiny_config(blobs, tmp_path / "wide", init_from=str(first), kimg=0.032, z_dim=None, w_dim=None,
                         mapping_layers=None, resolution=None, channel_max=None)
    trainer = Trainer(config)
    assert (trainer.config.channel_base, trainer.config.channel_max, trainer.config.z_dim) == (256, 32, 32)
    z = torch.randn(4, 32)
    with torch.no_grad():
        torch.testing.assert_close(trainer.G_ema.eval()(z), narrow(z), rtol=1e-5, atol=1e-5)
    trainer.run()
    exported = json.loads((tmp_path / "wide" / "generator" / "config.json").read_text())
    assert exported["channel_base"] == 256
    wide = Generator.from_pretrained(tmp_path / "wide" / "generator").eval()
    with torch.no_grad():
        assert not torch.allclose(wide(z), narrow(z), atol=1e-3)  # it trained on from there

    with pytest.raises(SynthfaceError, match="a warm start can only widen"):
        Trainer(tiny_config(blobs, tmp_path / "narrower", init_from=str(first), channel_base=64))
