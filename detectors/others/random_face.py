"""The distilled StyleGAN2 from the `random-face` wheel (1024 px faces), run through OpenVINO.

random-face ships MobileStyleGAN (a StyleGAN2 distilled for CPUs, trained on FFHQ) as
OpenVINO IR files. Its own loader uses an OpenVINO API that current releases removed,
so the IR files are compiled here with `openvino.Core` directly. These are the
photoreal 1024 px faces trust-and-safety analysts meet on sock-puppet profiles.
"""

from __future__ import annotations

import numpy as np

from detectors.others.wheel_files import wheel_file
from synthface.errors import SynthfaceError

STYLE_DIM = 512
MEAN_STYLE_SAMPLES = 4096


class RandomFace:
    """Mapping and synthesis networks compiled for the CPU, with the mean style for truncation."""

    def __init__(self) -> None:
        try:
            import openvino as ov
        except ImportError:
            raise SynthfaceError("pypi:random-face needs OpenVINO; run `pip install openvino`") from None
        core = ov.Core()
        mapping = core.read_model(wheel_file("random_face", "random-face", "data/MappingNetwork.xml"))
        synthesis = core.read_model(wheel_file("random_face", "random-face", "data/SynthesisNetwork.xml"))
        mapping.reshape({"var": [-1, STYLE_DIM]})  # any batch: the mean style below, then one face at a time
        self._mapping = core.compile_model(mapping, "CPU")
        self._synthesis = core.compile_model(synthesis, "CPU")
        latents = np.random.default_rng(0).standard_normal((MEAN_STYLE_SAMPLES, STYLE_DIM)).astype(np.float32)
        self.mean_style = self._mapping({"var": latents})["style"].mean(axis=0, keepdims=True)

    def image(self, seed: int, psi: float) -> np.ndarray:
        """uint8 1024x1024x3 RGB face for `seed`, truncated towards the mean style by `psi`."""
        latent = np.random.default_rng(seed).standard_normal((1, STYLE_DIM)).astype(np.float32)
        style = self._mapping({"var": latent})["style"]
        style = self.mean_style + psi * (style - self.mean_style)
        pixels = self._synthesis({"style": style.astype(np.float32)})["img"][0]
        return np.clip(pixels * 127.5 + 128, 0, 255).astype(np.uint8).transpose(1, 2, 0)
