"""Turning a trained detector into probabilities, without torch: what `synthface detect` runs.

Why a second forward pass: importing torch takes ~1.8 s on our 2-core CPU, nearly the
whole 2 s budget `detect` has for one image. Scoring needs only inference of a small
conv net (3x3 convs with batch norm folded in, ReLU, a 1x1 head, a mean over patches)
plus the numpy spectral head, so `NumpyDetector` reads the very same `config.json` +
`model.safetensors` (through safetensors' numpy loader) and runs that pass with BLAS
matmuls. Training and evaluation keep the torch `SynthDetector`; a test checks that
both give the same scores. The heads (spectral, calibrators, combiner) are shared code.

Why a second view of large images: the CNN learned the generators' traces at the scale of its
training views (faces of 32-128 px). A 1024 px face from a StyleGAN2 has much smoother pixel
statistics at its own resolution, and the bundled detector flagged only 13 of 100 such faces
there, against 100 of 100 once the same faces were also shown at 128 px (and 1 of 200 held-out
real photos at the same sizes, as at 128 px itself; `benchmarks/detect_native_sizes.py`). So an
image whose shorter side exceeds the detector's `working_side` is scored twice, at its own
resolution (where a generator's native traces live) and scaled to `working_side`, and the higher
probability counts. Images at or below the working side -- avatars, and all training and
evaluation images -- are scored exactly as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from detectors.calibration import PlattCalibrator
from detectors.spectral import MIN_SIDE, linear_logits, spectral_features
from synthface.errors import SynthfaceError

# Images are batched by size up to this many pixels per forward pass (memory stays bounded
# for 1024 px photos while 64 px avatars still go through in large batches).
PIXELS_PER_BATCH = 64 * 64 * 128
# Larger images are scored tile by tile (the patch logits are averaged over all tiles), so a
# 4000 px photo needs no more memory than a 512 px one.
TILE = 512
BATCH_NORM_EPS = 1e-5  # torch.nn.BatchNorm2d's default, which the trained model used
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass
class DetectorScores:
    """Per-image scores; the probabilities are calibrated, `probability` is the combined one."""

    cnn_logit: np.ndarray
    spectral_logit: np.ndarray
    cnn_probability: np.ndarray
    spectral_probability: np.ndarray
    probability: np.ndarray
    # Shorter side, in px, of the view each score comes from (the image's own, or `working_side`).
    scored_side: np.ndarray

    def take(self, mask: np.ndarray, other: DetectorScores, indices: np.ndarray) -> None:
        """Replace the scores of images `indices[mask]` by `other`'s scores at `mask` (every field)."""
        for field in fields(self):
            getattr(self, field.name)[indices[mask]] = getattr(other, field.name)[mask]


@dataclass
class DetectorHeads:
    """Everything after the CNN: spectral linear head, the two Platt calibrators and the combiner."""

    spectral_bins: int
    spectral: dict[str, np.ndarray]
    cnn_calibration: PlattCalibrator
    spectral_calibration: PlattCalibrator
    combiner: tuple[float, float, float]

    def spectral_logits(self, images: list[np.ndarray]) -> np.ndarray:
        if not images:
            return np.zeros(0, dtype=np.float32)
        features = np.stack([spectral_features(image, self.spectral_bins) for image in images])
        return linear_logits(features, self.spectral).astype(np.float32)

    def combine(self, cnn_logit: np.ndarray, spectral_logit: np.ndarray) -> np.ndarray:
        """Combined calibrated probability from the two raw logits (a logistic stack, weights >= 0)."""
        w_cnn, w_spec, bias = self.combiner
        stacked = w_cnn * np.asarray(cnn_logit) + w_spec * np.asarray(spectral_logit) + bias
        return PlattCalibrator(1.0, 0.0)(stacked)

    def scores(self, images: list[np.ndarray], cnn_logits: np.ndarray) -> DetectorScores:
        spectral = self.spectral_logits(images)
        return DetectorScores(
            cnn_logit=cnn_logits,
            spectral_logit=spectral,
            cnn_probability=self.cnn_calibration(cnn_logits),
            spectral_probability=self.spectral_calibration(spectral),
            probability=self.combine(cnn_logits, spectral),
            scored_side=np.array([min(image.shape[:2]) for image in images], dtype=np.int64),
        )


def check_images(images: list[np.ndarray]) -> None:
    """Raise `SynthfaceError` unless every image is uint8 HxWx3 and at least MIN_SIDE px a side."""
    for image in images:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise SynthfaceError("the detector scores uint8 RGB images (H x W x 3)")
        if min(image.shape[:2]) < MIN_SIDE:
            raise SynthfaceError(
                f"image of {image.shape[1]}x{image.shape[0]} px is too small to score (min {MIN_SIDE} px)"
            )


def batches_by_shape(images: list[np.ndarray]) -> list[tuple[bool, list[int]]]:
    """Index groups to score together: (tiled, indices). Same-size images share a batch."""
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        by_shape.setdefault(image.shape, []).append(index)
    groups: list[tuple[bool, list[int]]] = []
    for shape, indices in by_shape.items():
        pixels = shape[0] * shape[1]
        if pixels > TILE * TILE:
            groups.extend((True, [index]) for index in indices)
            continue
        per_batch = max(1, PIXELS_PER_BATCH // pixels)
        groups.extend((False, indices[start:start + per_batch]) for start in range(0, len(indices), per_batch))
    return groups


def image_tiles(image: np.ndarray) -> list[np.ndarray]:
    """TILE x TILE pieces of a large image (edge pieces smaller; slivers under MIN_SIDE dropped)."""
    height, width = image.shape[:2]
    tiles = []
    for top in range(0, height, TILE):
        for left in range(0, width, TILE):
            tile = image[top:top + TILE, left:left + TILE]
            if min(tile.shape[:2]) >= MIN_SIDE:
                tiles.append(tile)
    return tiles


def scaled_to_shorter_side(image: np.ndarray, side: int) -> np.ndarray:
    """`image` resized (Lanczos) so its shorter side is `side` px, aspect kept; unchanged if it already is."""
    height, width = image.shape[:2]
    if min(height, width) == side:
        return image
    from PIL import Image

    factor = side / min(height, width)
    size = (max(side, round(width * factor)), max(side, round(height * factor)))
    return np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def working_view(image: np.ndarray, working_side: int) -> np.ndarray | None:
    """`image` scaled down so its shorter side is `working_side`; None if it is not larger."""
    return scaled_to_shorter_side(image, working_side) if min(image.shape[:2]) > working_side else None


def score_with_working_views(
    score: Callable[[list[np.ndarray]], DetectorScores],
    images: list[np.ndarray],
    working_side: int | None,
) -> DetectorScores:
    """`score` each image at its own size and, when larger, at `working_side`; keep the higher probability."""
    native = score(images)
    if not working_side:
        return native
    views = [working_view(image, working_side) for image in images]
    indices = np.array([index for index, view in enumerate(views) if view is not None], dtype=np.int64)
    if len(indices) == 0:
        return native
    scaled = score([views[index] for index in indices])
    native.take(scaled.probability > native.probability[indices], scaled, indices)
    return native


def default_working_side(working_side: int | None, train_resolution: int) -> int:
    """The scale large images are also scored at: as configured, else twice the training resolution."""
    return int(working_side) if working_side else 2 * int(train_resolution)


def resolve_detector_folder(spec: str | Path) -> Path:
    """A detector folder from a folder, a training run folder (its `detector/`) or a Hub id."""
    path = Path(spec).expanduser()
    if (path / "detector" / CONFIG_FILE).is_file():
        path = path / "detector"
    if not path.is_dir():
        from synthface.hub import resolve_model

        path = resolve_model(str(spec))
    if not (path / CONFIG_FILE).is_file() or not (path / WEIGHTS_FILE).is_file():
        raise SynthfaceError(f"{spec} is not a detector folder (needs {CONFIG_FILE} and {WEIGHTS_FILE})")
    return path


class NumpyDetector:
    """A trained `SynthDetector` scored with numpy: same files, same numbers, no torch import."""

    def __init__(self, config: dict, tensors: dict[str, np.ndarray]) -> None:
        self.threshold = float(config.get("threshold", 0.5))
        self.working_side = default_working_side(config.get("working_side"), config.get("train_resolution", 64))
        self.convs: list[tuple[np.ndarray, np.ndarray, int]] = []
        for index, stride in enumerate(config["strides"]):
            prefix = f"features.{index}."
            weight = tensors[prefix + "0.weight"].astype(np.float32)  # [out, in, 3, 3]
            gamma, beta = tensors[prefix + "1.weight"], tensors[prefix + "1.bias"]
            mean, var = tensors[prefix + "1.running_mean"], tensors[prefix + "1.running_var"]
            scale = gamma / np.sqrt(var + BATCH_NORM_EPS)
            folded = (weight * scale[:, None, None, None]).transpose(2, 3, 1, 0)  # [3, 3, in, out]
            self.convs.append((np.ascontiguousarray(folded), (beta - mean * scale).astype(np.float32), int(stride)))
        self.head_weight = tensors["patch_head.weight"][:, :, 0, 0].T.astype(np.float32)  # [channels, 1]
        self.head_bias = tensors["patch_head.bias"].astype(np.float32)
        self.heads = DetectorHeads(
            spectral_bins=int(config.get("spectral_bins", 32)),
            spectral={key: tensors[f"spectral_{key}"] for key in ("mean", "scale", "coef", "intercept")},
            cnn_calibration=PlattCalibrator(*map(float, tensors["calibration_cnn"])),
            spectral_calibration=PlattCalibrator(*map(float, tensors["calibration_spectral"])),
            combiner=tuple(float(value) for value in tensors["combiner"]),  # type: ignore[arg-type]
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

    def patch_logits(self, images_uint8: np.ndarray) -> np.ndarray:
        """uint8 [N, H, W, 3] -> patch logits [N, h, w], as `SynthDetector.patch_logits`."""
        x = images_uint8.astype(np.float32) / 127.5 - 1.0
        for weight, bias, stride in self.convs:
            x = self._conv3x3(x, weight, bias, stride)
        return (x @ self.head_weight)[..., 0] + self.head_bias[0]

    def cnn_logits_uint8(self, images: list[np.ndarray]) -> np.ndarray:
        out = np.zeros(len(images), dtype=np.float32)
        for tiled, indices in batches_by_shape(images):
            if tiled:
                logits = [self.patch_logits(tile[None]) for tile in image_tiles(images[indices[0]])]
                out[indices[0]] = sum(float(piece.sum()) for piece in logits) / max(sum(p.size for p in logits), 1)
            else:
                out[indices] = self.patch_logits(np.stack([images[i] for i in indices])).mean(axis=(1, 2))
        return out

    def score_images(self, images: list[np.ndarray], working_views: bool = True) -> DetectorScores:
        """Calibrated scores for uint8 HxWx3 RGB images (each at least 16x16 px); see the module doc."""
        check_images(images)
        return score_with_working_views(lambda views: self.heads.scores(views, self.cnn_logits_uint8(views)),
                                        images, self.working_side if working_views else None)


def load_numpy_detector(spec: str | Path) -> NumpyDetector:
    """A trained detector (folder, run folder or Hub id) ready to score, without importing torch."""
    from safetensors.numpy import load_file

    path = resolve_detector_folder(spec)
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
        tensors = load_file(str(path / WEIGHTS_FILE))
        detector = NumpyDetector(config, tensors)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SynthfaceError(f"cannot load detector from {spec}: {first}") from None
    if not float(tensors.get("fitted", np.zeros(1))[0]) > 0:
        raise SynthfaceError(f"detector {spec} was never calibrated; finish `synthface train-detector` first")
    return detector
