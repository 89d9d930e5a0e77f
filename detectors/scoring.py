"""From canonical face views to calibrated scores and an outcome, without torch.

Why a numpy forward pass: importing torch takes ~1.8 s on our 2-core CPU, nearly the whole
2 s budget `detect` has for one image from a cold start. Scoring needs only inference of a
small conv net (3x3 convs with batch norm folded in, ReLU, a spatial mean, a linear head), so
`NumpyDetector` reads the very same `config.json` + `model.safetensors` (through safetensors'
numpy loader) and runs that pass with BLAS matmuls. Training and evaluation keep the torch
`SynthDetector`; a test checks that both give the same scores. `DetectorHeads` (calibration,
thresholds, familiarity) is shared by both.

Three outcomes, not two: `threshold_synthetic` is set on held-out real photos so that at most
`target_fpr` of them reach it; `threshold_real` so that few held-out generated faces fall below
it. In between, and for any image whose features lie further from the training data than
`ood_limit` (an unfamiliar kind of image, where a confident score means little), the answer is
"uncertain". For trust-and-safety work calling a real person's photo synthetic is the worst
error, so doubt is said out loud instead of rounded to a guess.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.calibration import PlattCalibrator
from detectors.outcomes import LIKELY_SYNTHETIC, NO_EVIDENCE, UNCERTAIN
from synthface.errors import SynthfaceError

BATCH_NORM_EPS = 1e-5  # torch.nn.BatchNorm2d's default, which the trained model used
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"



@dataclass
class FaceScores:
    """Per canonical view: raw logit, calibrated probability of "synthetic", familiarity distance."""

    logit: np.ndarray
    probability: np.ndarray
    distance: np.ndarray  # Mahalanobis distance of the view's features from the training views'


@dataclass(frozen=True)
class DetectorHeads:
    """Everything after the network: calibration, decision thresholds, familiarity statistics."""

    calibration: PlattCalibrator
    threshold_real: float
    threshold_synthetic: float
    target_fpr: float
    feature_mean: np.ndarray
    feature_precision: np.ndarray
    ood_limit: float

    def distances(self, features: np.ndarray) -> np.ndarray:
        centred = np.asarray(features, np.float64) - self.feature_mean
        squared = np.einsum("ni,ij,nj->n", centred, self.feature_precision.astype(np.float64), centred)
        return np.sqrt(np.maximum(squared, 0.0))

    def scores(self, logits: np.ndarray, features: np.ndarray) -> FaceScores:
        return FaceScores(np.asarray(logits, np.float32), self.calibration(logits), self.distances(features))

    def outcome(self, probability: float, distance: float) -> tuple[str, str]:
        """(outcome, reason) for one face."""
        if distance > self.ood_limit:
            return UNCERTAIN, (f"unfamiliar image: feature distance {distance:.1f} > {self.ood_limit:.1f}, "
                               f"so p={probability:.2f} is not trusted")
        if probability >= self.threshold_synthetic:
            return LIKELY_SYNTHETIC, f"classifier p={probability:.2f} >= {self.threshold_synthetic:.2f}"
        if probability < self.threshold_real:
            return NO_EVIDENCE, f"classifier p={probability:.2f} < {self.threshold_real:.2f}"
        return UNCERTAIN, (f"classifier p={probability:.2f} between {self.threshold_real:.2f} and "
                           f"{self.threshold_synthetic:.2f}")

    def summary(self) -> dict[str, float]:
        """The decision settings, as `detect --json` shows them."""
        return {"threshold_real": round(self.threshold_real, 4),
                "threshold_synthetic": round(self.threshold_synthetic, 4),
                "target_fpr": round(self.target_fpr, 6), "ood_limit": round(self.ood_limit, 3)}


class NumpyDetector:
    """A trained `SynthDetector` scored with numpy: same files, same numbers, no torch import."""

    def __init__(self, config: dict, tensors: dict[str, np.ndarray]) -> None:
        self.working_size = int(config["working_size"])
        self.convs: list[tuple[np.ndarray, np.ndarray, int]] = []
        for index, stride in enumerate(config["strides"]):
            prefix = f"features.{index}."
            weight = tensors[prefix + "0.weight"].astype(np.float32)  # [out, in, 3, 3]
            gamma, beta = tensors[prefix + "1.weight"], tensors[prefix + "1.bias"]
            mean, var = tensors[prefix + "1.running_mean"], tensors[prefix + "1.running_var"]
            scale = gamma / np.sqrt(var + BATCH_NORM_EPS)
            folded = (weight * scale[:, None, None, None]).transpose(2, 3, 1, 0)  # [3, 3, in, out]
            self.convs.append((np.ascontiguousarray(folded), (beta - mean * scale).astype(np.float32), int(stride)))
        self.head_weight = tensors["patch_head.weight"][0, :, 0, 0].astype(np.float32)
        self.head_bias = float(tensors["patch_head.bias"][0])
        low, high = (float(v) for v in tensors["thresholds"])
        self.heads = DetectorHeads(
            PlattCalibrator(*map(float, tensors["calibration"])), low, high, float(tensors["target_fpr"][0]),
            tensors["feature_mean"].astype(np.float64), tensors["feature_precision"].astype(np.float64),
            float(tensors["ood_limit"][0]),
        )

    @staticmethod
    def _conv3x3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
        """3x3 conv, zero padding 1, NHWC, as nine shifted matmuls (no 9x im2col buffer), + bias, ReLU."""
        batch, height, width, _ = x.shape
        out_h, out_w = (height - 1) // stride + 1, (width - 1) // stride + 1
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
        out = np.zeros((batch * out_h * out_w, weight.shape[3]), dtype=np.float32)
        for dy in range(3):
            for dx in range(3):
                window = padded[:, dy:dy + stride * (out_h - 1) + 1:stride, dx:dx + stride * (out_w - 1) + 1:stride]
                out += window.reshape(-1, window.shape[3]) @ weight[dy, dx]
        out += bias
        np.maximum(out, 0.0, out=out)
        return out.reshape(batch, out_h, out_w, -1)

    def logits_and_features(self, views: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 [N, S, S, 3] canonical views -> raw logits [N], pooled features [N, C]."""
        x = np.asarray(views).astype(np.float32) / 127.5 - 1.0
        for weight, bias, stride in self.convs:
            x = self._conv3x3(x, weight, bias, stride)
        features = x.mean(axis=(1, 2))
        return features @ self.head_weight + self.head_bias, features

    def score_views(self, views: np.ndarray) -> FaceScores:
        logits, features = self.logits_and_features(views)
        return self.heads.scores(logits, features)


def load_numpy_detector(spec: str | Path) -> NumpyDetector:
    """A trained detector (folder, run folder, Hub id or "bundled") ready to score, without importing torch."""
    from safetensors.numpy import load_file

    from synthface.limits import DETECTOR_CONFIG, check_config
    from synthface.pretrained import resolve_model_folder

    path = resolve_model_folder(spec, "detector")
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
        check_config(config, DETECTOR_CONFIG, "detector")
        try:
            tensors = load_file(str(path / WEIGHTS_FILE))
        except (OSError, ValueError):
            raise
        except Exception as exc:  # noqa: BLE001 - safetensors' own error type for a damaged file
            raise ValueError(f"model.safetensors is unreadable ({str(exc).splitlines()[0]})") from None
        if not float(tensors.get("fitted", np.zeros(1))[0]) > 0:
            raise SynthfaceError(f"detector {spec} was never calibrated; finish `synthface train-detector` first")
        detector = NumpyDetector(config, tensors)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SynthfaceError(f"cannot load detector from {spec}: {first} (is it a synthface detector of this "
                             "version? retrain or update it)") from None
    return detector
