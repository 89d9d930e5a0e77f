"""The detector: a fully-convolutional patch CNN plus a spectral baseline, calibrated and combined.

Why fully convolutional: a GAN's traces are local and high-frequency (upsampling
artefacts, texture statistics). Resizing an image to a fixed input size would erase
exactly those, so the CNN scores every patch at the image's native resolution (its
receptive field is ~40 px) and the image's logit is the mean patch logit. A 64 px avatar
and a 1024 px photo go through the same weights.

Everything the detector needs to turn pixels into a probability -- CNN weights, the
spectral head's standardisation and weights, both calibrators and the combiner -- is a
tensor in one `model.safetensors`, next to `config.json`, so it saves and loads like
the generator (locally or from the Hub) and nothing is ever unpickled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from detectors.calibration import PlattCalibrator
from detectors.spectral import feature_length, linear_logits, spectral_features
from synthface.errors import SynthfaceError
from synthface.modeling import SelfDescribingModel

MIN_SIDE = 16
# Images are batched by size up to this many pixels per forward pass (memory stays bounded
# for 1024 px photos while 64 px avatars still go through in large batches).
_PIXELS_PER_BATCH = 64 * 64 * 128
# Larger images are scored tile by tile (the patch logits are averaged over all tiles), so a
# 4000 px photo needs no more memory than a 512 px one.
_TILE = 512


@dataclass
class DetectorScores:
    """Per-image scores; the probabilities are calibrated, `probability` is the combined one."""

    cnn_logit: np.ndarray
    spectral_logit: np.ndarray
    cnn_probability: np.ndarray
    spectral_probability: np.ndarray
    probability: np.ndarray


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

    def combine(self, cnn_logit: np.ndarray, spectral_logit: np.ndarray) -> np.ndarray:
        """Combined calibrated probability from the two raw logits (a logistic stack, weights >= 0)."""
        w_cnn, w_spec, bias = self.combiner.tolist()
        stacked = w_cnn * np.asarray(cnn_logit) + w_spec * np.asarray(spectral_logit) + bias
        return PlattCalibrator(1.0, 0.0)(stacked)

    # --- scoring ------------------------------------------------------------------------------
    @torch.no_grad()
    def cnn_logits_uint8(self, images: list[np.ndarray]) -> np.ndarray:
        """CNN logits of uint8 HWC RGB images of any sizes (grouped by size into batches)."""
        self.eval()
        out = np.zeros(len(images), dtype=np.float32)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, image in enumerate(images):
            by_shape.setdefault(image.shape, []).append(index)
        for shape, indices in by_shape.items():
            if shape[0] * shape[1] > _TILE * _TILE:
                for index in indices:
                    out[index] = self._tiled_logit(images[index])
                continue
            per_batch = max(1, _PIXELS_PER_BATCH // (shape[0] * shape[1]))
            for start in range(0, len(indices), per_batch):
                chunk = indices[start:start + per_batch]
                batch = torch.from_numpy(np.stack([images[i] for i in chunk])).permute(0, 3, 1, 2)
                out[chunk] = self(batch.float() / 127.5 - 1.0).numpy()
        return out

    def _tiled_logit(self, image: np.ndarray) -> float:
        """Mean patch logit over the whole image, computed on tiles of at most _TILE x _TILE px."""
        height, width = image.shape[:2]
        total, count = 0.0, 0
        for top in range(0, height, _TILE):
            for left in range(0, width, _TILE):
                tile = image[top:top + _TILE, left:left + _TILE]
                if min(tile.shape[:2]) < MIN_SIDE:
                    continue
                batch = torch.from_numpy(np.ascontiguousarray(tile)).permute(2, 0, 1)[None]
                batch = batch.float() / 127.5 - 1.0
                logits = self.patch_logits(batch)
                total += float(logits.sum())
                count += logits.numel()
        return total / max(count, 1)

    def spectral_logits_uint8(self, images: list[np.ndarray]) -> np.ndarray:
        if not images:
            return np.zeros(0, dtype=np.float32)
        features = np.stack([spectral_features(image, self.spectral_bins) for image in images])
        return linear_logits(features, self.spectral_head()).astype(np.float32)

    def score_images(self, images: list[np.ndarray]) -> DetectorScores:
        """Calibrated scores for uint8 HxWx3 RGB images (each at least 16x16 px)."""
        for image in images:
            if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise SynthfaceError("the detector scores uint8 RGB images (H x W x 3)")
            if min(image.shape[:2]) < MIN_SIDE:
                raise SynthfaceError(
                    f"image of {image.shape[1]}x{image.shape[0]} px is too small to score (min {MIN_SIDE} px)"
                )
        cnn = self.cnn_logits_uint8(images)
        spec = self.spectral_logits_uint8(images)
        cal_cnn, cal_spec = self.calibrators()
        return DetectorScores(
            cnn_logit=cnn,
            spectral_logit=spec,
            cnn_probability=cal_cnn(cnn),
            spectral_probability=cal_spec(spec),
            probability=self.combine(cnn, spec),
        )


def load_detector(spec: str | Path) -> SynthDetector:
    """A trained detector from a folder (config.json + model.safetensors), a run folder or a Hub id."""
    path = Path(spec).expanduser()
    if (path / "detector" / "config.json").is_file():
        path = path / "detector"
    if not path.is_dir():
        from synthface.hub import resolve_model

        path = resolve_model(str(spec))
    if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
        raise SynthfaceError(f"{spec} is not a detector folder (needs config.json and model.safetensors)")
    try:
        model = SynthDetector.from_pretrained(str(path))
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SynthfaceError(f"cannot load detector from {spec}: {first}") from None
    if not model.is_fitted:
        raise SynthfaceError(f"detector {spec} was never calibrated; finish `synthface train-detector` first")
    return model.eval()
