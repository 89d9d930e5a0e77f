"""Residual discriminator with minibatch standard deviation (StyleGAN2's "resnet" D).

fromRGB at full resolution, then one residual block per level halving the
resolution (anti-aliased), then an epilogue at 4x4 that appends the minibatch
standard deviation (so D can see a lack of variety, which fights mode collapse)
and maps to one logit per image.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from torch import nn

from synthface.generator.layers import EqualConv2d, EqualLinear
from synthface.generator.networks import channels_at, check_resolution
from synthface.limits import DISCRIMINATOR_CONFIG
from synthface.modeling import SelfDescribingModel


class DiscriminatorBlock(nn.Module):
    """conv3x3 -> conv3x3 (down) with a 1x1 (down) skip; the sum is scaled by 1/sqrt(2)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv0 = EqualConv2d(in_channels, in_channels, 3)
        self.conv1 = EqualConv2d(in_channels, out_channels, 3, down=True)
        self.skip = EqualConv2d(in_channels, out_channels, 1, bias=False, activation=False, down=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.skip(x)
        x = self.conv1(self.conv0(x))
        return (x + skip) * (1.0 / math.sqrt(2.0))


class MinibatchStd(nn.Module):
    """Append the mean standard deviation over groups of `group_size` consecutive samples.

    Groups are formed from *consecutive* samples so that a batch made of fakes
    followed by reals (one D pass for both) never mixes the two in a group.
    """

    def __init__(self, group_size: int = 4, num_features: int = 1) -> None:
        super().__init__()
        self.group_size = group_size
        self.num_features = num_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        group = min(self.group_size, n)
        if n % group != 0:
            group = math.gcd(n, group)
        f = self.num_features
        y = x.reshape(n // group, group, f, c // f, h, w).float()
        y = (y - y.mean(dim=1, keepdim=True)).square().mean(dim=1)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # [n/group, f]
        y = y.reshape(n // group, 1, f, 1, 1).expand(-1, group, -1, h, w).reshape(n, f, h, w)
        return torch.cat([x, y.to(x.dtype)], dim=1)


class Discriminator(
    nn.Module,
    SelfDescribingModel,
    library_name="synthface",
    tags=["synthface", "stylegan2", "discriminator"],
):
    """Image [N, C, H, W] in [-1, 1] -> realness logit [N]."""

    config_limits: ClassVar[dict[str, tuple[float, float]]] = DISCRIMINATOR_CONFIG

    def __init__(
        self,
        resolution: int = 64,
        img_channels: int = 3,
        channel_base: int = 4096,
        channel_max: int = 256,
        mbstd_group_size: int = 4,
    ) -> None:
        super().__init__()
        log2 = check_resolution(resolution)
        self.img_resolution = resolution
        self.img_channels = img_channels
        top = channels_at(resolution, channel_base, channel_max)
        self.from_rgb = EqualConv2d(img_channels, top, 1)
        blocks = []
        for res in [2**i for i in range(log2, 2, -1)]:
            blocks.append(
                DiscriminatorBlock(
                    channels_at(res, channel_base, channel_max), channels_at(res // 2, channel_base, channel_max)
                )
            )
        self.blocks = nn.Sequential(*blocks)
        c4 = channels_at(4, channel_base, channel_max)
        self.mbstd = MinibatchStd(mbstd_group_size)
        self.conv = EqualConv2d(c4 + 1, c4, 3)
        self.fc = EqualLinear(c4 * 16, c4, activation=True)
        self.out = EqualLinear(c4, 1)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.from_rgb(img))
        x = self.conv(self.mbstd(x))
        return self.out(self.fc(x.flatten(1))).squeeze(1)
