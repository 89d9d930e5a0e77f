"""The memorisation guard: no persona may be a copy of a face the generator was trained on.

With the model we store a compact bank of the training images' features (PCA-reduced,
float16, safetensors) and a distance threshold. Every generated image's nearest-neighbour
distance to the bank (the image or its mirror: training used x-flips) is checked; images
closer than the threshold are dropped. The threshold is calibrated on the training set
itself: the low quantile (default 1%) of the distances between each real image and its
nearest *other* real image. A copy sits far below that line; an ordinary new face sits
above it about as often as a fresh real photo would.

Two feature spaces, chosen when the guard is built:

* ``pixels`` (default): the image area-averaged to 16x16, centred and scaled to unit
  norm. A copy keeps its layout and colours, so it stays close here even when shifted by
  a pixel, mirrored or re-compressed; brightness and contrast changes cancel out
  (`benchmarks/guard_quality.py` measures copies caught and faces dropped). Microseconds per image.
* ``inception``: TF-Inception pool features (the FID network) at a small upsampling
  (`input_size`, 75 px minimum, averaging the last feature map over space, which at
  299 px is exactly the FID feature). Perceptual, but ~30 ms per image on a CPU core,
  and on a 400-image bank it caught only 20 of 100 shifted, re-compressed copies (57 at
  75 px; the pixel space caught all 100): texture changes move these features more than
  they move the layout.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from synthface.errors import SynthfaceError

GUARD_FILE = "memorisation_guard.safetensors"
FEATURES = ("pixels", "inception")
DEFAULT_FEATURE = "pixels"
DEFAULT_INPUT_SIZE = 107  # Inception input side
DEFAULT_PIXEL_SIDE = 16
DEFAULT_PCA_DIM = 64
DEFAULT_QUANTILE = 0.01
DUPLICATE_FRACTION = 0.25  # nearest-neighbour distances under this x median are duplicate photos
MIN_INPUT_SIZE = 75
FORMAT_VERSION = "3"
READABLE_FORMATS = ("2", "3")  # format 2 files predate the pixel feature: always Inception


class PixelEmbedder:
    """Area-averaged thumbnail, centred and unit-norm: a cheap space where copies stay close."""

    def __init__(self, side: int = DEFAULT_PIXEL_SIDE) -> None:
        if not 4 <= side <= 64:
            raise SynthfaceError(f"guard pixel side must be between 4 and 64, got {side}")
        self.input_size = side  # the thumbnail side; named as InceptionEmbedder's input side

    @property
    def version(self) -> str:
        return f"pixels/area-{self.input_size}/centred-unit-norm/v1"

    def __call__(self, images_uint8_nchw: torch.Tensor | np.ndarray, progress: bool = False) -> np.ndarray:
        """float32 [N, C * side * side] of uint8 NCHW images."""
        images = _checked_images(images_uint8_nchw)
        thumbs = torch.nn.functional.interpolate(images.float(), size=(self.input_size, self.input_size), mode="area")
        flat = thumbs.flatten(1)
        flat = flat - flat.mean(dim=1, keepdim=True)
        return (flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-6)).numpy()


def _checked_images(images_uint8_nchw: torch.Tensor | np.ndarray) -> torch.Tensor:
    images = torch.as_tensor(images_uint8_nchw)
    if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] not in (1, 3):
        raise SynthfaceError(f"the guard needs uint8 [N, 1|3, H, W] images, got {images.dtype} "
                             f"{tuple(images.shape)}")
    return images


def make_embedder(feature: str, input_size: int | None = None) -> PixelEmbedder | InceptionEmbedder:
    """The embedder of a guard feature space; `input_size` is the thumbnail or Inception input side."""
    if feature == "pixels":
        return PixelEmbedder(input_size or DEFAULT_PIXEL_SIDE)
    if feature == "inception":
        return InceptionEmbedder(input_size or DEFAULT_INPUT_SIZE)
    raise SynthfaceError(f"unknown guard feature {feature!r}; use one of {', '.join(FEATURES)}")


class InceptionEmbedder:
    """TF-Inception pool features at a chosen input size (global mean of the last feature map)."""

    def __init__(self, input_size: int = DEFAULT_INPUT_SIZE, batch_size: int = 64) -> None:
        if not MIN_INPUT_SIZE <= input_size <= 299:
            raise SynthfaceError(f"guard input size must be between {MIN_INPUT_SIZE} and 299, got {input_size}")
        self.input_size = input_size
        self.batch_size = batch_size
        self._layers: list[torch.nn.Module] | None = None

    @property
    def version(self) -> str:
        from synthface.metrics.inception import PREPROCESS_VERSION, inception_weights_digest

        return f"{PREPROCESS_VERSION}/{inception_weights_digest()}/guard-mean-pool-{self.input_size}"

    def _network_layers(self) -> list[torch.nn.Module]:
        if self._layers is None:
            from synthface.metrics.inception import load_inception

            network = load_inception("cpu")
            try:
                children = dict(network.net.layers.named_children())
            except AttributeError:
                raise SynthfaceError("the installed FID Inception network has an unexpected layout") from None
            self._layers = [module for name, module in children.items() if name != "pool2"]
        return self._layers

    @torch.inference_mode()
    def _batch(self, images_uint8: torch.Tensor) -> torch.Tensor:
        from synthface.metrics.inception import tf_legacy_bilinear_resize

        x = images_uint8.to(torch.float32)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = (tf_legacy_bilinear_resize(x, self.input_size) - 128.0) / 128.0
        x = x.contiguous(memory_format=torch.channels_last)  # faster oneDNN convs, as in metrics
        for layer in self._network_layers():
            x = layer(x)
        return x.mean(dim=(2, 3))

    def __call__(self, images_uint8_nchw: torch.Tensor | np.ndarray, progress: bool = False) -> np.ndarray:
        """float32 [N, 2048] features of uint8 NCHW images."""
        images = _checked_images(images_uint8_nchw)
        out = np.empty((images.shape[0], 2048), dtype=np.float32)
        with tqdm(total=len(out), unit="img", desc="guard features", disable=not progress) as bar:
            for start in range(0, len(out), self.batch_size):
                batch = images[start : start + self.batch_size]
                out[start : start + len(batch)] = self._batch(batch).numpy()
                bar.update(len(batch))
        return out


def prepare_bank(bank: torch.Tensor, bank_residual: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """float32 bank rows with the residual norm as one more coordinate, and their squared norms.

    With the residual as a coordinate, the guard's distance (below) is a plain Euclidean
    distance, so one matmul gives all of it; the guard computes this once, not per batch.
    """
    augmented = torch.cat([bank.to(torch.float32), bank_residual.to(torch.float32)[:, None]], dim=1)
    return augmented, augmented.square().sum(dim=1)


def nearest_distances(queries: torch.Tensor, bank: torch.Tensor, query_residual: torch.Tensor,
                      bank_residual: torch.Tensor, exclude_self: bool = False, chunk: int = 1024,
                      prepared: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each query to its nearest bank row, and that row's index.

    The distance is Euclidean in PCA space plus the difference of the residual norms
    (the part of each feature outside the PCA subspace): a lower bound of the true
    feature distance that, unlike PCA alone, does not let an image far off the face
    manifold project onto a training face. With `exclude_self` the queries are the
    bank itself and row i never matches i. `prepared` is `prepare_bank(bank, bank_residual)`.
    """
    bank_aug, bank_sq = prepared if prepared is not None else prepare_bank(bank, bank_residual)
    dists, index = [], []
    for start in range(0, queries.shape[0], chunk):
        q = torch.cat([queries[start : start + chunk].to(torch.float32),
                       query_residual[start : start + chunk].to(torch.float32)[:, None]], dim=1)
        d2 = torch.addmm(bank_sq[None, :], q, bank_aug.T, alpha=-2.0).add_(q.square().sum(dim=1, keepdim=True))
        if exclude_self:
            rows = torch.arange(q.shape[0])
            d2[rows, rows + start] = float("inf")
        best, where = d2.min(dim=1)
        dists.append(best.clamp_min(0).sqrt())
        index.append(where)
    return torch.cat(dists).numpy(), torch.cat(index).numpy()


@dataclass
class GuardCheck:
    """Distances of a batch to the nearest training image, and which of them are too close."""

    distances: np.ndarray
    nearest: np.ndarray
    flagged: np.ndarray


@dataclass
class MemorisationGuard:
    """A PCA-reduced float16 feature bank of the training images and the copy threshold."""

    bank: torch.Tensor  # float16 [N, d]
    residual: torch.Tensor  # float16 [N]: norm of each training feature outside the PCA subspace
    mean: torch.Tensor  # float32 [2048]
    components: torch.Tensor  # float32 [d, 2048]
    threshold: float
    input_size: int = DEFAULT_INPUT_SIZE
    info: dict = field(default_factory=dict)
    feature: str = "inception"
    _embedder: PixelEmbedder | InceptionEmbedder | None = field(default=None, repr=False)
    _prepared: tuple[torch.Tensor, torch.Tensor] | None = field(default=None, repr=False)

    @property
    def embedder(self) -> PixelEmbedder | InceptionEmbedder:
        if self._embedder is None:
            self._embedder = make_embedder(self.feature, self.input_size)
        return self._embedder

    def project(self, features: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """2048-d features -> (PCA coordinates, residual norms), float32."""
        return project(torch.from_numpy(features), self.mean, self.components)

    def check(self, images_uint8_nchw: torch.Tensor | np.ndarray) -> GuardCheck:
        """Embed a batch and its mirror images and compare both to the bank (the closer one counts)."""
        images = _checked_images(images_uint8_nchw)
        both = self.embedder(torch.cat([images, images.flip(-1)]))
        reduced, residual = self.project(both)
        if self._prepared is None:
            self._prepared = prepare_bank(self.bank, self.residual)
        distances, nearest = nearest_distances(reduced, self.bank, residual, self.residual, prepared=self._prepared)
        count = len(images)
        mirrored = distances[count:] < distances[:count]
        distances = np.where(mirrored, distances[count:], distances[:count])
        nearest = np.where(mirrored, nearest[count:], nearest[:count])
        return GuardCheck(distances, nearest, distances < self.threshold)

    def save(self, path: str | Path) -> Path:
        from safetensors.torch import save_file

        from synthface.io_utils import atomic_path

        metadata = {
            "format": FORMAT_VERSION,
            "threshold": repr(float(self.threshold)),
            "feature_space": self.feature,
            "input_size": str(self.input_size),
            "info": json.dumps(self.info, sort_keys=True),
        }
        tensors = {"bank": self.bank, "residual": self.residual, "mean": self.mean, "components": self.components}
        tensors = {name: value.contiguous() for name, value in tensors.items()}
        path = Path(path)
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=metadata)
        return path

    @classmethod
    def load(cls, path: str | Path) -> MemorisationGuard:
        from safetensors import SafetensorError, safe_open

        path = Path(path)
        try:
            with safe_open(str(path), framework="pt") as handle:
                metadata = handle.metadata() or {}
                names = ("bank", "residual", "mean", "components")
                tensors = {name: handle.get_tensor(name) for name in names}
        except (OSError, SafetensorError) as exc:
            raise SynthfaceError(f"cannot read memorisation guard {path} ({exc}); rebuild it with "
                                 "`synthface build-guard`") from None
        except KeyError as exc:
            raise SynthfaceError(f"memorisation guard {path} lacks tensor {exc}; rebuild it") from None
        try:
            if metadata.get("format") not in READABLE_FORMATS:
                raise ValueError("format")
            threshold = float(metadata["threshold"])
            input_size = int(metadata["input_size"])
            feature = metadata.get("feature_space", "inception")
            if feature not in FEATURES:
                raise ValueError("feature")
            info = json.loads(metadata.get("info", "{}"))
        except (KeyError, ValueError):
            raise SynthfaceError(f"memorisation guard {path} has unreadable metadata; rebuild it") from None
        bank, mean, components = tensors["bank"], tensors["mean"], tensors["components"]
        residual = tensors["residual"]
        if bank.ndim != 2 or components.shape != (bank.shape[1], mean.shape[0]) or residual.shape != (len(bank),):
            raise SynthfaceError(f"memorisation guard {path} has inconsistent shapes; rebuild it")
        return cls(bank, residual, mean.float(), components.float(), threshold, input_size, info, feature)


def near_copies(images_uint8_nchw: torch.Tensor, jpeg_quality: int = 75) -> torch.Tensor:
    """The copies the guard promises to catch: shifted 1 px, every other one mirrored, re-saved as JPEG.

    Roughly what a memorising generator emits for a training photo; the tests and
    benchmarks/guard_quality.py measure the guard against these.
    """
    import io

    from PIL import Image

    out = []
    for index, image in enumerate(_checked_images(images_uint8_nchw)):
        pixels = np.roll(image.permute(1, 2, 0).numpy(), 1, axis=1)
        if index % 2:
            pixels = pixels[:, ::-1]
        if pixels.shape[2] == 1:
            pixels = pixels[..., 0]
        buffer = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, "JPEG", quality=jpeg_quality)
        decoded = np.array(Image.open(buffer))
        out.append(torch.from_numpy(decoded.reshape(*decoded.shape[:2], -1)).permute(2, 0, 1))
    return torch.stack(out)


def guard_path(model_dir: str | Path) -> Path:
    return Path(model_dir) / GUARD_FILE


def load_guard(model_dir: str | Path) -> MemorisationGuard | None:
    """The guard stored with a model, or None if it has none."""
    path = guard_path(model_dir)
    return MemorisationGuard.load(path) if path.is_file() else None


def project(features: torch.Tensor, mean: torch.Tensor, components: torch.Tensor
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """PCA coordinates and the norm of what PCA leaves out, for [N, 2048] features."""
    centred = features - mean
    coords = centred @ components.T
    residual = (centred - coords @ components).norm(dim=1)
    return coords, residual


def calibrate_threshold(reduced: torch.Tensor, residual: torch.Tensor, quantile: float,
                        mirrored: tuple[torch.Tensor, torch.Tensor] | None = None) -> tuple[float, dict]:
    """The `quantile` of nearest-other-image distances among distinct real images.

    With `mirrored` (the projected mirror images), each image's distance is the closer of
    itself and its mirror to any *other* image, as `check` measures generated ones.
    Duplicates -- pairs closer than DUPLICATE_FRACTION of the median distance -- are not
    distinct images and are left out, or they would pull the line down to where copies no
    longer reach it. Face sets hold many: the same press photo in two crops, consecutive
    frames. In our 18,020 faces 1.4% of images have one, in a mode well apart from distinct
    faces (pixel distances < 0.14 against a median of 0.54), and the 1% quantile *with*
    them was 0.07, under which not one shifted, re-compressed copy fell (they sit at 0.1-0.23).
    """
    prepared = prepare_bank(reduced, residual)
    distances, _ = nearest_distances(reduced, reduced, residual, residual, exclude_self=True, prepared=prepared)
    if mirrored is not None:
        flipped, _ = nearest_distances(mirrored[0], reduced, mirrored[1], residual, exclude_self=True,
                                       prepared=prepared)
        distances = np.minimum(distances, flipped)
    median = float(np.median(distances))
    distinct = distances[distances > DUPLICATE_FRACTION * median]
    if len(distinct) < 2:
        raise SynthfaceError("the training images are all duplicates of each other; cannot calibrate")
    threshold = float(np.quantile(distinct, quantile))
    stats = {"nn_distance_median": median, "nn_distance_min": float(distinct.min()),
             "duplicates_excluded": int(len(distances) - len(distinct))}
    return threshold, stats


def build_guard(
    images_uint8_nchw: torch.Tensor,
    *,
    pca_dim: int = DEFAULT_PCA_DIM,
    quantile: float = DEFAULT_QUANTILE,
    feature: str = DEFAULT_FEATURE,
    input_size: int | None = None,
    source: str = "",
    progress: bool = True,
) -> MemorisationGuard:
    """Embed the training images (and their mirrors), reduce with PCA, and calibrate the copy threshold."""
    from sklearn.decomposition import PCA

    count = int(images_uint8_nchw.shape[0])
    if count < 3:
        raise SynthfaceError(f"the guard needs at least 3 training images, got {count}")
    if not 0 < quantile < 0.5:
        raise SynthfaceError(f"guard quantile must be between 0 and 0.5, got {quantile}")
    embedder = make_embedder(feature, input_size)
    images = _checked_images(images_uint8_nchw)
    features = embedder(images, progress=progress)
    mirror_features = embedder(images.flip(-1), progress=progress)
    dim = max(1, min(pca_dim, count - 1, features.shape[1]))
    pca = PCA(n_components=dim, svd_solver="full" if count <= 4096 else "randomized", random_state=0)
    pca.fit(features)
    mean = torch.from_numpy(pca.mean_.astype(np.float32))
    components = torch.from_numpy(pca.components_.astype(np.float32))
    coords, residual = project(torch.from_numpy(features), mean, components)
    reduced, residual = coords.to(torch.float16), residual.to(torch.float16)
    mirrored = project(torch.from_numpy(mirror_features), mean, components)
    threshold, stats = calibrate_threshold(reduced, residual, quantile, mirrored)
    info = {
        "source": source,
        "num_images": count,
        "pca_dim": dim,
        "explained_variance": float(pca.explained_variance_ratio_.sum()),
        "quantile": quantile,
        "feature": embedder.version,
        **stats,
    }
    return MemorisationGuard(reduced, residual, mean, components, threshold, embedder.input_size, info, feature,
                             embedder)


def model_folder(model: str | Path) -> Path:
    """A local generator folder to keep the guard in (a Hub id is refused: the download cache is not ours)."""
    from synthface.pretrained import BUNDLED, resolve_model_folder

    if str(model) != BUNDLED and not Path(model).expanduser().exists():
        raise SynthfaceError(f"{model} is not a local generator folder; download the Hub model first and "
                             "pass its folder")
    return resolve_model_folder(model, "generator")


def read_model_config(model: str | Path) -> dict:
    """The generator's config.json (resolution, channels), without loading the weights."""
    path = model_folder(model) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SynthfaceError(f"cannot read {path} ({exc.__class__.__name__}); re-save the model") from None
    if not isinstance(config, dict):
        raise SynthfaceError(f"{path} is not a JSON object; re-save the model")
    return config
