"""Grow a trained generator and discriminator to wider layers without changing what they compute.

Why: the CPU default widths (channel_base 1024) leave 16 feature maps at 64 px, and the bundled
generator stopped improving at that size (FID-2k 26.3-27.8 from 1,400 to 1,950 kimg over three
runs). Training a wider network from scratch would throw away some six hours of CPU training;
widening the trained one keeps it and gives the extra channels to the layers that lacked them.

How (a Net2Net-style widening with zero-initialised fan-in): every tensor keeps its trained values
in its leading corner. The new output channels of a layer start from the fresh network's random
initialisation, so they compute new features from the start; the weights from new input channels
into old outputs are zero, so the old outputs, and through them the image (or the realness
logit), are exactly what they were. Those zero weights receive gradients at once (their inputs are
not zero), so the new features join in as training goes on.

Two details keep the function exact under this codebase's conventions:

* Equalised learning rate scales a stored weight by 1/sqrt(fan_in) at run time, so when a layer's
  inputs grow from c to c' its trained weights are stored times sqrt(c'/c).
* Demodulation divides by the energy of the modulated weights over the inputs; zero weights add
  nothing to it, so the old outputs are normalised as before.

The discriminator's 4x4 epilogue (minibatch standard deviation averaged over all channels, and a
fully connected layer over the flattened 4x4 maps) cannot be widened exactly, so its width must
stay: with channel_max unchanged, a larger channel_base only widens the finer resolutions.
"""

from __future__ import annotations

import math

import torch

from synthface.errors import SynthfaceError
from synthface.generator.networks import channels_at, check_resolution


def widths(resolution: int, channel_base: int, channel_max: int) -> dict[int, int]:
    """Feature maps per resolution, 4 px up to `resolution`."""
    return {2**i: channels_at(2**i, channel_base, channel_max) for i in range(2, check_resolution(resolution) + 1)}


def check_widening(resolution: int, old: tuple[int, int], new: tuple[int, int]) -> None:
    """Refuse a (channel_base, channel_max) change that would narrow a layer or touch the 4x4 width."""
    before, after = widths(resolution, *old), widths(resolution, *new)
    narrower = [res for res in before if after[res] < before[res]]
    if narrower:
        raise SynthfaceError(
            f"--channel-base {new[0]} --channel-max {new[1]} would narrow the --init-from model's {narrower[0]} px "
            f"layers ({before[narrower[0]]} -> {after[narrower[0]]} channels); a warm start can only widen: "
            f"use a channel base of at least {old[0]}")
    if after[4] != before[4]:
        raise SynthfaceError(
            f"--channel-base {new[0]} --channel-max {new[1]} changes the 4x4 width ({before[4]} -> {after[4]}), "
            f"which a trained discriminator's epilogue cannot take; keep --channel-max {old[1]}")


def widen_state(trained: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The wider network's state: `trained` values embedded in `fresh` (the wider network's own init).

    Dimension 0 of every weight is its outputs and dimension 1 its inputs (fan-in), as in all of
    synthface's layers; 1-D tensors (biases, style biases) are per output.
    """
    if trained.keys() != fresh.keys():
        missing = sorted(set(fresh) ^ set(trained))
        raise SynthfaceError(f"cannot widen: the networks differ in more than width ({missing[0]})")
    state = {}
    for name, new in fresh.items():
        old = trained[name]
        if old.shape == new.shape:
            state[name] = old.clone()
            continue
        if old.ndim != new.ndim or any(a > b for a, b in zip(old.shape, new.shape, strict=True)):
            raise SynthfaceError(f"cannot widen {name} from {list(old.shape)} to {list(new.shape)}")
        widened = new.detach().clone()
        scale = 1.0
        if old.ndim >= 2 and new.shape[1] > old.shape[1]:
            widened[: old.shape[0], old.shape[1]:] = 0  # old outputs ignore the new inputs
            scale = math.sqrt(new.shape[1] / old.shape[1])  # undo the smaller 1/sqrt(fan_in) gain
        widened[tuple(slice(0, size) for size in old.shape)] = old * scale
        state[name] = widened
    return state


def load_widened(module: torch.nn.Module, trained: dict[str, torch.Tensor]) -> bool:
    """Load `trained` into `module`, widening where shapes grew; True when any tensor was widened."""
    fresh = module.state_dict()
    grown = any(trained[name].shape != tensor.shape for name, tensor in fresh.items() if name in trained)
    module.load_state_dict(widen_state(trained, fresh) if grown else trained, strict=True)
    return grown
