"""The detector: a fully-convolutional patch CNN plus a spectral baseline, calibrated and combined.

Why fully convolutional: a GAN's traces are local and high-frequency (upsampling
artefacts, texture statistics). Resizing an image to a fixed input size would erase
exactly those, so the CNN scores every patch at the image's native resolution (its
receptive field is ~40 px) and the image's logit is the mean patch logit. A 64 px avatar
and a 1024 px photo go through the same weights. (An image larger than the scale the CNN
learned at is also scored at that scale; see `detectors.scoring`.)

Everything the detector needs to turn pixels into a probability -- CNN weights, the
spectral head's standardisation and weights, both calibrators and the combiner -- is a
tensor in one `model.safetensors`, next to `config.json`, so it saves and loads like
the generator (locally or from the Hub) and nothing is ever unpickled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from detectors.calibration import PlattCalibrator
from detectors.scoring import (
    MIN_SIDE,
    DetectorHeads,
    DetectorScores,
    batches_by_shape,
    check_images,
    default_working_side,
    image_tiles,
    resolve_detector_folder,
    score_with_working_views,
)
from detectors.spectral import feature_length
from synthface.errors import SynthfaceError
from synthface.modeling import SelfDescribingModel

__all__ = ["MIN_SIDE", "DetectorScores", "SynthDetector", "load_detector"]

def _conv_block(in_channels: int, out_channels: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class SynthDetector(
    nn.Module,
    SelfDescribingModel,
    library_name="synthface",
    tags=["synthface", "gan-detection", "image-classification", "ai-generated-image-detection"],
    pipeline_tag="image-classification",
):
    """Patch CNN + spectral head; `score_images` gives calibrated probabilities of "synthetic".

    Constructor arguments are the config (saved to config.json). `widths`/`strides` define
    the CNN; early layers keep full resolution so the finest pixel statistics survive.
    """

    def __init__(
        self,
        widths: list[int] | None = None,
        strides: list[int] | None = None,
        spectral_bins: int = 32,
        threshold: float = 0.5,
        train_resolution: int = 64,
        crop_size: int = 32,
        working_side: int | None = None,
    ) -> None:
        super().__init__()
        widths = list(widths or [24, 32, 48, 64, 96, 96])
        strides = list(strides or [1, 1, 2, 1, 2, 1])
        if len(widths) != len(strides) or not widths:
            raise ValueError("widths and strides must be non-empty lists of the same length")
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be between 0 and 1, not {threshold}")
        self.widths, self.strides = widths, strides
        self.spectral_bins = spectral_bins
        self.threshold = float(threshold)
        self.train_resolution = train_resolution
        self.crop_size = crop_size
        # Larger images are also scored scaled to this shorter side (see detectors.scoring).
        self.working_side = working_side
        layers, channels = [], 3
        for width, stride in zip(widths, strides, strict=True):
            layers.append(_conv_block(channels, width, stride))
            channels = width
        self.features = nn.Sequential(*layers)
        self.patch_head = nn.Conv2d(channels, 1, 1)
        dims = feature_length(spectral_bins)
        self.register_buffer("spectral_mean", torch.zeros(dims))
        self.register_buffer("spectral_scale", torch.ones(dims))
        self.register_buffer("spectral_coef", torch.zeros(dims))
        self.register_buffer("spectral_intercept", torch.zeros(1))
        # Platt (slope, offset) for the CNN and the spectral logit; combiner (w_cnn, w_spectral, bias).
        self.register_buffer("calibration_cnn", torch.tensor([1.0, 0.0]))
        self.register_buffer("calibration_spectral", torch.tensor([1.0, 0.0]))
        self.register_buffer("combiner", torch.tensor([1.0, 0.0, 0.0]))
        self.register_buffer("fitted", torch.zeros(1))

    # --- CNN ---------------------------------------------------------------------------------
    def patch_logits(self, images: torch.Tensor) -> torch.Tensor:
        """float [N, 3, H, W] in [-1, 1] -> logit map [N, h, w] (one logit per receptive-field patch)."""
        return self.patch_head(self.features(images))[:, 0]

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Image logits [N]: the mean of the patch logits."""
        return self.patch_logits(images).mean(dim=(1, 2))

    # --- heads --------------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted.item() > 0)

    def spectral_head(self) -> dict[str, np.ndarray]:
        return {
            "mean": self.spectral_mean.numpy(),
            "scale": self.spectral_scale.numpy(),
            "coef": self.spectral_coef.numpy(),
            "intercept": self.spectral_intercept.numpy(),
        }

    def set_heads(
        self,
        spectral: dict[str, np.ndarray],
        cnn_calibration: PlattCalibrator,
        spectral_calibration: PlattCalibrator,
        combiner: tuple[float, float, float],
    ) -> None:
        """Install the fitted spectral head, calibrators and combiner (after training)."""
        self.spectral_mean.copy_(torch.as_tensor(spectral["mean"]))
        self.spectral_scale.copy_(torch.as_tensor(spectral["scale"]))
        self.spectral_coef.copy_(torch.as_tensor(spectral["coef"]))
        self.spectral_intercept.copy_(torch.as_tensor(spectral["intercept"]))
        self.calibration_cnn.copy_(torch.tensor([cnn_calibration.slope, cnn_calibration.offset]))
        self.calibration_spectral.copy_(
            torch.tensor([spectral_calibration.slope, spectral_calibration.offset]))
        self.combiner.copy_(torch.tensor(list(combiner), dtype=torch.float32))
        self.fitted.fill_(1.0)

    def calibrators(self) -> tuple[PlattCalibrator, PlattCalibrator]:
        cnn, spec = self.calibration_cnn.tolist(), self.calibration_spectral.tolist()
        return PlattCalibrator(cnn[0], cnn[1]), PlattCalibrator(spec[0], spec[1])

    def heads(self) -> DetectorHeads:
        cnn_calibration, spectral_calibration = self.calibrators()
        return DetectorHeads(self.spectral_bins, self.spectral_head(), cnn_calibration, spectral_calibration,
                             tuple(self.combiner.tolist()))  # type: ignore[arg-type]

    def combine(self, cnn_logit: np.ndarray, spectral_logit: np.ndarray) -> np.ndarray:
        """Combined calibrated probability from the two raw logits (a logistic stack, weights >= 0)."""
        return self.heads().combine(cnn_logit, spectral_logit)

    # --- scoring ------------------------------------------------------------------------------
    @torch.no_grad()
    def cnn_logits_uint8(self, images: list[np.ndarray]) -> np.ndarray:
        """CNN logits of uint8 HWC RGB images of any sizes (grouped by size into batches)."""
        self.eval()
        out = np.zeros(len(images), dtype=np.float32)
        for tiled, indices in batches_by_shape(images):
            if tiled:
                out[indices[0]] = self._tiled_logit(images[indices[0]])
                continue
            batch = torch.from_numpy(np.stack([images[i] for i in indices])).permute(0, 3, 1, 2)
            out[indices] = self(batch.float() / 127.5 - 1.0).numpy()
        return out

    def _tiled_logit(self, image: np.ndarray) -> float:
        """Mean patch logit over the whole image, computed on tiles of at most TILE x TILE px."""
        total, count = 0.0, 0
        for tile in image_tiles(image):
            batch = torch.from_numpy(tile.copy()).permute(2, 0, 1)[None]  # a copy: tiles of read-only arrays
            logits = self.patch_logits(batch.float() / 127.5 - 1.0)
            total += float(logits.sum())
            count += logits.numel()
        return total / max(count, 1)

    def spectral_logits_uint8(self, images: list[np.ndarray]) -> np.ndarray:
        return self.heads().spectral_logits(images)

    def score_images(self, images: list[np.ndarray], working_views: bool = True) -> DetectorScores:
        """Calibrated scores for uint8 HxWx3 RGB images (each at least 16x16 px).

        Images larger than the working side are also scored scaled down to it, and the higher
        probability counts (see `detectors.scoring`); `working_views=False` scores only natively.
        """
        check_images(images)
        heads = self.heads()
        side = default_working_side(self.working_side, self.train_resolution)
        return score_with_working_views(lambda views: heads.scores(views, self.cnn_logits_uint8(views)),
                                        images, side if working_views else None)


def load_detector(spec: str | Path) -> SynthDetector:
    """A trained detector from a folder (config.json + model.safetensors), a run folder or a Hub id."""
    path = resolve_detector_folder(spec)
    try:
        model = SynthDetector.from_pretrained(str(path))
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SynthfaceError(f"cannot load detector from {spec}: {first}") from None
    if not model.is_fitted:
        raise SynthfaceError(f"detector {spec} was never calibrated; finish `synthface train-detector` first")
    return model.eval()
