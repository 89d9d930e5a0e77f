"""Building blocks shared by the generator and the discriminator.

Every weight uses the *equalised learning rate* trick of the StyleGAN family: the
parameter is stored with unit variance and scaled by He's constant at run time, so
Adam sees every layer on the same footing. Activations are leaky ReLU scaled by
sqrt(2) to keep signal variance constant through depth.

Resampling is anti-aliased with the binomial [1, 3, 3, 1] filter. Its separable 2x
upsampling kernel equals bilinear interpolation, which PyTorch implements with a
fast native kernel; downsampling uses a depthwise 4x4 blur before a strided conv.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

LRELU_GAIN = math.sqrt(2.0)
LRELU_SLOPE = 0.2


def lrelu(x: torch.Tensor) -> torch.Tensor:
    """Leaky ReLU with the variance-preserving gain used throughout StyleGAN."""
    return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN


def add_channel_bias(x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x + bias per channel, with the same values, but fast for channels_last tensors.

    In channels_last memory a [C] bias broadcast over a narrow C (16 channels at 64 px) is
    a short inner loop that PyTorch's CPU add does not vectorise; in bf16 it ran 10x
    slower than a multiply of the same shape. Tiling the bias along W turns it into one
    long contiguous row per image line (4.5 ms -> 0.5 ms per call at batch 64, 16x64x64).
    """
    bias = bias.to(x.dtype)
    n, c, h, w = x.shape
    if x.device.type != "cpu" or x.is_contiguous() or not x.is_contiguous(memory_format=torch.channels_last):
        return x + bias.view(1, -1, 1, 1)
    rows = x.permute(0, 2, 3, 1).reshape(n, h, w * c)  # a view: channels_last is NHWC in memory
    return (rows + bias.repeat(w)).view(n, h, w, c).permute(0, 3, 1, 2)


def binomial_filter_2d(device: torch.device | None = None) -> torch.Tensor:
    """The normalised 4x4 outer product of [1, 3, 3, 1]."""
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0], device=device)
    kernel = taps[:, None] * taps[None, :]
    return kernel / kernel.sum()


class Blur(nn.Module):
    """Depthwise [1,3,3,1] low-pass filter with explicit padding (before a strided conv)."""

    def __init__(self, channels: int, pad: tuple[int, int]) -> None:
        super().__init__()
        self.channels = channels
        self.pad = pad
        kernel = binomial_filter_2d()[None, None].repeat(channels, 1, 1, 1)
        self.register_buffer("kernel", kernel, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p0, p1 = self.pad
        x = F.pad(x, [p0, p1, p0, p1])
        return F.conv2d(x, self.kernel.to(x.dtype), groups=self.channels)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Anti-aliased 2x upsampling: bilinear interpolation is the separable [1,3,3,1]/4 filter."""
    return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)


class EqualLinear(nn.Module):
    """Fully connected layer with equalised learning rate and an optional lrelu.

    `lr_multiplier` slows a layer down (the mapping network uses 0.01) by storing
    weights divided by it and scaling back at run time.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        bias_init: float = 0.0,
        lr_multiplier: float = 1.0,
        activation: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.weight_gain
        bias = self.bias * self.bias_gain if self.bias is not None else None
        x = F.linear(x, weight.to(x.dtype), bias.to(x.dtype) if bias is not None else None)
        return lrelu(x) if self.activation else x


class EqualConv2d(nn.Module):
    """Plain (unmodulated) conv with equalised learning rate, used by the discriminator.

    `down=True` blurs and then convolves with stride 2, the anti-aliased way to halve
    the resolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: bool = True,
        down: bool = False,
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)
        self.activation = activation
        self.down = down
        if down:
            # Filter taps 4, stride 2: pad so that blur + strided conv gives exactly H/2.
            total = (4 - 2) + (kernel_size - 1)
            self.blur = Blur(in_channels, ((total + 1) // 2, total // 2))
            self.padding = 0
        else:
            self.padding = kernel_size // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = (self.weight * self.weight_gain).to(x.dtype)
        bias = self.bias.to(x.dtype) if self.bias is not None else None  # added inside the conv: no extra pass
        if self.down:
            x = self.blur(x)
            x = F.conv2d(x, weight, bias, stride=2)
        else:
            x = F.conv2d(x, weight, bias, padding=self.padding)
        return lrelu(x) if self.activation else x


class ModulatedConv2d(nn.Module):
    """Style-modulated (and optionally demodulated) convolution, StyleGAN2's core op.

    Two mathematically equal ways to run it:

    * ``fused=False`` (default): scale the *activations* by the style, run one ordinary
      convolution with the shared weight for the whole batch, then scale the output
      by the demodulation coefficients. One big GEMM, which is what CPUs and GPUs are
      fast at; this is how training runs.
    * ``fused=True``: build a per-sample weight and run a grouped convolution (the
      reference formulation). Kept for comparison in benchmarks and tests.

    `up=True` upsamples 2x with the anti-aliasing filter before the convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        w_dim: int,
        demodulate: bool = True,
        up: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.up = up
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.weight_gain = 1.0 / math.sqrt(in_channels * kernel_size * kernel_size)

    def forward(self, x: torch.Tensor, w: torch.Tensor, fused: bool = False) -> torch.Tensor:
        styles = self.affine(w)  # [N, in]
        weight = self.weight * self.weight_gain  # [out, in, k, k]
        if self.up:
            x = upsample2x(x)
        pad = self.kernel_size // 2
        if fused:
            return self._forward_grouped(x, styles, weight, pad)
        x = x * styles.to(x.dtype)[:, :, None, None]
        x = F.conv2d(x, weight.to(x.dtype), padding=pad)
        if self.demodulate:
            # sum_{i,k} (w_oik * s_i)^2 = sum_i s_i^2 * (sum_k w_oik^2): a tiny matmul.
            energy = styles.square() @ weight.square().sum(dim=[2, 3]).t()  # [N, out]
            x = x * torch.rsqrt(energy + 1e-8).to(x.dtype)[:, :, None, None]
        return x

    def _forward_grouped(
        self, x: torch.Tensor, styles: torch.Tensor, weight: torch.Tensor, pad: int
    ) -> torch.Tensor:
        batch, channels, height, width = x.shape
        per_sample = weight[None] * styles[:, None, :, None, None]  # [N, out, in, k, k]
        if self.demodulate:
            per_sample = per_sample * torch.rsqrt(per_sample.square().sum(dim=[2, 3, 4]) + 1e-8)[
                :, :, None, None, None
            ]
        per_sample = per_sample.reshape(batch * self.out_channels, channels, *weight.shape[2:])
        out = F.conv2d(x.reshape(1, batch * channels, height, width), per_sample.to(x.dtype),
                       padding=pad, groups=batch)
        return out.reshape(batch, self.out_channels, *out.shape[2:])


NOISE_MODES = ("random", "const", "none")


class NoiseInjection(nn.Module):
    """Per-pixel Gaussian noise with a learned strength (stochastic detail: hair, pores).

    `noise_mode`: "random" draws fresh noise, "const" uses a fixed buffer stored with
    the model (deterministic images), "none" disables it.
    """

    def __init__(self, resolution: int) -> None:
        super().__init__()
        self.strength = nn.Parameter(torch.zeros([]))
        self.register_buffer("noise_const", torch.randn(1, 1, resolution, resolution))

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        if noise_mode == "random":
            # Drawn in fp32 whatever x's dtype, so a bf16 run draws the same noise as an fp32 one.
            noise = torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device)
            return x + noise.to(x.dtype) * self.strength.to(x.dtype)
        if noise_mode == "const":
            return x + self.noise_const.to(x.dtype) * self.strength.to(x.dtype)
        if noise_mode == "none":
            return x
        raise ValueError(f"noise_mode must be one of {NOISE_MODES}, not {noise_mode!r}")
