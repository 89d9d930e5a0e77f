"""The detector: a small CNN that scores the canonical face view, with its calibration,
decision thresholds and familiarity statistics, all in one `model.safetensors`.

Why this shape: every image reaches the network as the same upright face square at the same
working size (`synthface.faces`), so the network only has to learn what synthesis leaves in a
face, not where or how large the face is. Early layers keep full resolution so fine pixel
statistics survive; the image's logit is a linear head on the spatial mean of the last
features (the mean of per-patch logits), and that same mean feature vector measures how
familiar an image is (`detectors.scoring.DetectorHeads`).

Everything needed to go from pixels to a verdict -- weights, the Platt calibrator, the two
thresholds chosen for a target false-positive rate on real photos, and the familiarity
statistics -- is a tensor next to `config.json`, so the detector saves and loads like the
generator (locally or from the Hub) and nothing is ever unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from detectors.calibration import PlattCalibrator
from detectors.scoring import DetectorHeads, FaceScores
from synthface.errors import SynthfaceError
from synthface.limits import DETECTOR_CONFIG
from synthface.modeling import SelfDescribingModel

__all__ = ["SynthDetector", "load_detector"]


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
    """Canonical-face CNN; constructor arguments are the config (saved to config.json).

    widths/strides: the conv stack. working_size: side of the canonical face view it scores.
    training_sources: {"real": [...], "fake": [...]} source labels it was trained on, so an
    evaluation can tell seen sources from unseen ones.
    """

    config_limits: ClassVar[dict[str, tuple[float, float]]] = DETECTOR_CONFIG
    model_kind: ClassVar[str] = "detector"

    def __init__(
        self,
        widths: list[int] | None = None,
        strides: list[int] | None = None,
        working_size: int = 64,
        training_sources: dict[str, list[str]] | None = None,
    ) -> None:
        super().__init__()
        widths = list(widths or [24, 32, 48, 64, 96, 96])
        strides = list(strides or [1, 1, 2, 1, 2, 1])
        if len(widths) != len(strides) or not widths:
            raise ValueError("widths and strides must be non-empty lists of the same length")
        if not 16 <= working_size <= 512:
            raise ValueError(f"working_size must be from 16 to 512 px, not {working_size}")
        self.widths, self.strides, self.working_size = widths, strides, int(working_size)
        self.training_sources = {key: list(value) for key, value in (training_sources or {}).items()}
        layers, channels = [], 3
        for width, stride in zip(widths, strides, strict=True):
            layers.append(_conv_block(channels, width, stride))
            channels = width
        self.features = nn.Sequential(*layers)
        self.patch_head = nn.Conv2d(channels, 1, 1)
        self.register_buffer("calibration", torch.tensor([1.0, 0.0]))  # Platt slope, offset
        self.register_buffer("thresholds", torch.tensor([0.5, 0.5]))  # p below: no evidence; at/above: synthetic
        self.register_buffer("target_fpr", torch.tensor([0.01]))
        self.register_buffer("feature_mean", torch.zeros(channels))
        self.register_buffer("feature_precision", torch.eye(channels))
        self.register_buffer("ood_limit", torch.tensor([float("inf")]))
        self.register_buffer("fitted", torch.zeros(1))

    def pooled_features(self, images: torch.Tensor) -> torch.Tensor:
        """float [N, 3, S, S] in [-1, 1] -> the spatial mean of the last features, [N, C]."""
        return self.features(images).mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits [N] (the mean patch logit: the 1x1 head commutes with the mean)."""
        return self.logits_from_features(self.pooled_features(images))

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        return features @ self.patch_head.weight[0, :, 0, 0] + self.patch_head.bias[0]

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted.item() > 0)

    def set_heads(self, heads: DetectorHeads) -> None:
        """Install the calibrator, thresholds and familiarity statistics fitted after training."""
        self.calibration.copy_(torch.tensor([heads.calibration.slope, heads.calibration.offset]))
        self.thresholds.copy_(torch.tensor([heads.threshold_real, heads.threshold_synthetic]))
        self.target_fpr.fill_(heads.target_fpr)
        self.feature_mean.copy_(torch.as_tensor(heads.feature_mean, dtype=torch.float32))
        self.feature_precision.copy_(torch.as_tensor(heads.feature_precision, dtype=torch.float32))
        self.ood_limit.fill_(heads.ood_limit)
        self.fitted.fill_(1.0)

    def heads(self) -> DetectorHeads:
        slope, offset = self.calibration.tolist()
        low, high = self.thresholds.tolist()
        return DetectorHeads(PlattCalibrator(slope, offset), low, high, float(self.target_fpr.item()),
                             self.feature_mean.numpy(), self.feature_precision.numpy(), float(self.ood_limit.item()))

    @torch.no_grad()
    def logits_and_features(self, views: np.ndarray, batch: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """Raw logits [N] and pooled features [N, C] of uint8 [N, S, S, 3] canonical views."""
        self.eval()
        logits, features = [], []
        for start in range(0, len(views), batch):
            chunk = torch.from_numpy(np.ascontiguousarray(views[start:start + batch])).permute(0, 3, 1, 2)
            pooled = self.pooled_features(chunk.float() / 127.5 - 1.0)
            features.append(pooled.numpy())
            logits.append(self.logits_from_features(pooled).numpy())
        width = self.patch_head.in_channels
        if not logits:
            return np.zeros(0, np.float32), np.zeros((0, width), np.float32)
        return np.concatenate(logits), np.concatenate(features)

    def score_views(self, views: np.ndarray) -> FaceScores:
        """Calibrated scores and familiarity of canonical views (what `NumpyDetector` computes too)."""
        logits, features = self.logits_and_features(views)
        return self.heads().scores(logits, features)


def load_detector(spec: str | Path) -> SynthDetector:
    """A trained detector from a folder (config.json + model.safetensors), a run folder, a Hub id or "bundled"."""
    from synthface.pretrained import resolve_model_folder

    path = resolve_model_folder(spec, "detector")
    try:
        model = SynthDetector.from_pretrained(str(path), strict=True)
    except (OSError, ValueError, RuntimeError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SynthfaceError(f"cannot load detector from {spec}: {first}") from None
    if not model.is_fitted:
        raise SynthfaceError(f"detector {spec} was never calibrated; finish `synthface train-detector` first")
    return model.eval()
