"""The style-based generator: mapping network, synthesis network, truncation.

Top-down: `Generator` = `MappingNetwork` (z -> w, with a tracked average w) +
`SynthesisNetwork` (learned 4x4 constant, one `SynthesisBlock` per resolution with
two modulated convolutions, per-layer noise and a skip-style toRGB). Synthesis
takes per-layer styles ``ws[N, num_ws, w_dim]`` so coarse, middle and fine styles
of different faces can be mixed at any crossover layer.

The model is self-describing: `save_pretrained(dir)` writes ``config.json`` and
``model.safetensors``; `Generator.from_pretrained(dir_or_hub_id)` reads them back,
from a folder or the Hugging Face Hub.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

from synthface.generator.layers import (
    NOISE_MODES,
    EqualLinear,
    ModulatedConv2d,
    NoiseInjection,
    add_channel_bias,
    lrelu,
    upsample2x,
)
from synthface.limits import GENERATOR_CONFIG
from synthface.modeling import SelfDescribingModel


def channels_at(resolution: int, channel_base: int, channel_max: int) -> int:
    """Feature maps at a resolution: fewer channels where there are more pixels."""
    return int(min(channel_base // resolution, channel_max))


def check_resolution(resolution: int) -> int:
    """Return log2(resolution), refusing anything but a power of two in 32..1024 (or 8, 16 for tests)."""
    log2 = int(round(math.log2(resolution))) if resolution > 0 else -1
    if resolution < 8 or resolution > 1024 or 2**log2 != resolution:
        raise ValueError(f"resolution must be a power of two between 32 and 1024, not {resolution}")
    return log2


class MappingNetwork(nn.Module):
    """z -> w through an MLP with a 100x slower learning rate, and the running mean of w.

    The mean (`w_avg`) is what truncation pulls towards: psi = 0 gives the "average
    face" for every seed.
    """

    def __init__(self, z_dim: int, w_dim: int, num_layers: int, lr_multiplier: float, w_avg_beta: float):
        super().__init__()
        self.w_avg_beta = w_avg_beta
        dims = [z_dim] + [w_dim] * num_layers
        self.layers = nn.Sequential(
            *[
                EqualLinear(dims[i], dims[i + 1], lr_multiplier=lr_multiplier, activation=True)
                for i in range(num_layers)
            ]
        )
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: torch.Tensor, update_w_avg: bool = False) -> torch.Tensor:
        z = z * torch.rsqrt(z.square().mean(dim=1, keepdim=True) + 1e-8)
        w = self.layers(z)
        if update_w_avg:
            with torch.no_grad():
                self.w_avg.copy_(w.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))
        return w


class ToRGB(nn.Module):
    """1x1 modulated conv (no demodulation) from features to image channels."""

    def __init__(self, in_channels: int, img_channels: int, w_dim: int) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, img_channels, 1, w_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(img_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool = False) -> torch.Tensor:
        return add_channel_bias(self.conv(x, w, fused=fused), self.bias)


class StyledConv(nn.Module):
    """Modulated conv + noise + bias + lrelu: one style-controlled layer."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool) -> None:
        super().__init__()
        self.conv = ModulatedConv2d(in_channels, out_channels, 3, w_dim, demodulate=True, up=up)
        self.noise = NoiseInjection(resolution)
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str, fused: bool = False) -> torch.Tensor:
        x = self.conv(x, w, fused=fused)
        x = self.noise(x, noise_mode)
        return lrelu(add_channel_bias(x, self.bias))


class SynthesisBlock(nn.Module):
    """One resolution level: (upsampling) conv, conv, toRGB added to the upsampled image.

    The first block (4x4) starts from a learned constant instead of upsampling.
    `num_ws` counts the styles it consumes; its toRGB style is shared with the next
    block's first conv, as in StyleGAN2.
    """

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int):
        super().__init__()
        self.resolution = resolution
        self.is_first = resolution == 4
        if self.is_first:
            self.const = nn.Parameter(torch.randn(out_channels, 4, 4))
            self.conv0 = None
        else:
            self.conv0 = StyledConv(in_channels, out_channels, w_dim, resolution, up=True)
        self.conv1 = StyledConv(out_channels, out_channels, w_dim, resolution, up=False)
        self.torgb = ToRGB(out_channels, img_channels, w_dim)
        self.num_conv = 1 if self.is_first else 2

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        noise_mode: str,
        fused: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        w_iter = iter(ws.unbind(dim=1))
        if self.conv0 is None:
            x = self.const.to(ws.dtype).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
        else:
            x = self.conv0(x, next(w_iter), noise_mode, fused)
        x = self.conv1(x, next(w_iter), noise_mode, fused)
        rgb = self.torgb(x, next(w_iter), fused)
        img = rgb if img is None else upsample2x(img) + rgb
        return x, img


class SynthesisNetwork(nn.Module):
    """ws -> image, from a learned 4x4 constant up to `resolution`."""

    def __init__(
        self, resolution: int, img_channels: int, w_dim: int, channel_base: int, channel_max: int
    ) -> None:
        super().__init__()
        log2 = check_resolution(resolution)
        self.resolutions = [2**i for i in range(2, log2 + 1)]
        blocks = []
        in_channels = 0
        for res in self.resolutions:
            out_channels = channels_at(res, channel_base, channel_max)
            blocks.append(SynthesisBlock(in_channels, out_channels, w_dim, res, img_channels))
            in_channels = out_channels
        self.blocks = nn.ModuleList(blocks)
        self.num_ws = sum(block.num_conv for block in self.blocks) + 1

    def forward(self, ws: torch.Tensor, noise_mode: str = "random", fused: bool = False) -> torch.Tensor:
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, not {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws:
            raise ValueError(f"ws must have shape [N, {self.num_ws}, w_dim], got {list(ws.shape)}")
        x = img = None
        w_index = 0
        for block in self.blocks:
            block_ws = ws.narrow(1, w_index, block.num_conv + 1)
            x, img = block(x, img, block_ws, noise_mode, fused)
            w_index += block.num_conv
        return img


class Generator(
    nn.Module,
    SelfDescribingModel,
    library_name="synthface",
    tags=["synthface", "stylegan2", "gan", "unconditional-image-generation", "synthetic", "ai-generated"],
    pipeline_tag="unconditional-image-generation",
):
    """StyleGAN2-family generator (pure PyTorch, no compiled ops).

    Every constructor argument is a named knob and is saved to ``config.json``.
    """

    config_limits: ClassVar[dict[str, tuple[float, float]]] = GENERATOR_CONFIG
    model_kind: ClassVar[str] = "generator"

    def __init__(
        self,
        resolution: int = 64,
        img_channels: int = 3,
        z_dim: int = 256,
        w_dim: int = 256,
        mapping_layers: int = 8,
        mapping_lr_multiplier: float = 0.01,
        w_avg_beta: float = 0.995,
        channel_base: int = 4096,
        channel_max: int = 256,
    ) -> None:
        super().__init__()
        if img_channels not in (1, 3):
            raise ValueError(f"img_channels must be 1 (grayscale) or 3 (RGB), not {img_channels}")
        self.z_dim = z_dim
        self.w_dim = w_dim
        self.img_resolution = resolution
        self.img_channels = img_channels
        self.mapping_net = MappingNetwork(z_dim, w_dim, mapping_layers, mapping_lr_multiplier, w_avg_beta)
        self.synthesis_net = SynthesisNetwork(resolution, img_channels, w_dim, channel_base, channel_max)
        self.num_ws = self.synthesis_net.num_ws

    def mapping(
        self,
        z: torch.Tensor,
        psi: float = 1.0,
        cutoff: int | None = None,
        update_w_avg: bool = False,
    ) -> torch.Tensor:
        """z [N, z_dim] -> ws [N, num_ws, w_dim], truncated towards w_avg by `psi`.

        Truncation applies to layers below `cutoff` (all layers when None): a lower
        psi trades diversity for typicality.
        """
        w = self.mapping_net(z, update_w_avg=update_w_avg)
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if psi != 1.0:
            ws = self.truncate(ws, psi, cutoff)
        return ws

    def truncate(self, ws: torch.Tensor, psi: float, cutoff: int | None = None) -> torch.Tensor:
        """Pull ws towards the average w by psi (0: the average face, 1: unchanged)."""
        w_avg = self.mapping_net.w_avg.to(ws.dtype)
        cutoff = self.num_ws if cutoff is None else cutoff
        truncated = w_avg.lerp(ws[:, :cutoff], psi)
        return torch.cat([truncated, ws[:, cutoff:]], dim=1)

    def synthesis(self, ws: torch.Tensor, noise_mode: str = "const", fused: bool = False) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> images [N, C, H, W], roughly in [-1, 1]."""
        return self.synthesis_net(ws, noise_mode=noise_mode, fused=fused)

    def forward(
        self,
        z: torch.Tensor,
        psi: float = 1.0,
        cutoff: int | None = None,
        noise_mode: str = "const",
        fused: bool = False,
    ) -> torch.Tensor:
        return self.synthesis(self.mapping(z, psi=psi, cutoff=cutoff), noise_mode=noise_mode, fused=fused)
