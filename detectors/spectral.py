"""Spectral features: where GAN images differ from photographs in frequency.

Upsampling layers (transposed convolutions, nearest/bilinear upsampling followed by
convolutions) leave periodic traces: excess or missing energy at high frequencies and
peaks on the frequency axes at fractions of the sampling rate (Durall et al. 2020,
Frank et al. 2020). The azimuthal average of the log power spectrum summarises the
first, the on-axis profile keeps the second (averaging over all angles would dilute it).
Frequencies are normalised to the Nyquist rate, so a 32 px thumbnail and a 1024 px photo
give vectors of the same length and meaning. Pure numpy: scoring needs no scipy/sklearn.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
# Profiles are computed from the central square of at most this side: enough frequency
# resolution for `bins` radial bins, and a 1024 px photo costs no more than a 256 px one.
MAX_SIDE = 256
MIN_SIDE = 16


@lru_cache(maxsize=16)
def _bin_layout(height: int, width: int, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bin index of every rfft2 coefficient for the azimuthal and the on-axis profiles (-1: unused)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    radius = np.sqrt(fy**2 + fx**2) / 0.5  # 1.0 = Nyquist
    index = np.minimum((radius * bins).astype(np.int64), bins - 1)
    ring = np.where((radius > 0) & (radius <= 1.0), index, -1)
    # "On the axes": within one frequency step of fx = 0 or fy = 0 (the horizontal/vertical lines).
    on_axis = (np.abs(fy) <= 1.0 / height) | (np.abs(fx) <= 1.0 / width)
    axis = np.where(on_axis & (ring >= 0), ring, -1)
    ring_counts = np.bincount(ring[ring >= 0], minlength=bins).astype(np.float64)
    axis_counts = np.bincount(axis[axis >= 0], minlength=bins).astype(np.float64)
    return ring, axis, np.maximum(ring_counts, 1.0), np.maximum(axis_counts, 1.0)


@lru_cache(maxsize=16)
def _window(height: int, width: int) -> np.ndarray:
    return np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)


def feature_length(bins: int) -> int:
    return 2 * bins


def spectral_features(image: np.ndarray, bins: int = 32) -> np.ndarray:
    """Feature vector (length 2 * bins) of one uint8 HxWx3 (or HxW) image.

    First half: azimuthally averaged log power per radial band; second half: the same
    on the frequency axes minus the azimuthal average (how much the axes stand out).
    Both are centred on the image's own mean log power, so overall contrast cancels out.
    """
    pixels = np.asarray(image, dtype=np.float32)
    gray = pixels @ _LUMA if pixels.ndim == 3 else pixels
    height, width = gray.shape
    if min(height, width) < MIN_SIDE:
        raise ValueError(f"image of {width}x{height} px is too small for spectral features (min {MIN_SIDE})")
    side_h, side_w = min(height, MAX_SIDE), min(width, MAX_SIDE)
    top, left = (height - side_h) // 2, (width - side_w) // 2
    gray = gray[top:top + side_h, left:left + side_w]
    gray = (gray - gray.mean()) * _window(side_h, side_w)
    power = np.log(np.abs(np.fft.rfft2(gray)) ** 2 + 1e-3)
    ring, axis, ring_counts, axis_counts = _bin_layout(side_h, side_w, bins)
    ring_profile = np.bincount(ring[ring >= 0], weights=power[ring >= 0], minlength=bins) / ring_counts
    axis_profile = np.bincount(axis[axis >= 0], weights=power[axis >= 0], minlength=bins) / axis_counts
    features = np.concatenate([ring_profile - ring_profile.mean(), axis_profile - ring_profile])
    return features.astype(np.float32)


def batch_features(images: list[np.ndarray] | np.ndarray, bins: int = 32) -> np.ndarray:
    """Stacked features [N, 2 * bins] of uint8 HWC images (a list may mix sizes)."""
    return np.stack([spectral_features(image, bins) for image in images]) if len(images) else np.zeros(
        (0, feature_length(bins)), np.float32
    )


def fit_linear_head(features: np.ndarray, labels: np.ndarray, c: float = 1.0) -> dict[str, np.ndarray]:
    """Standardise and fit an L2 logistic regression; returns plain arrays (no pickled estimator).

    Linear on purpose: each weight says which frequency band pushes towards "synthetic",
    which is what makes this baseline explainable (and a check on the CNN).
    """
    from sklearn.linear_model import LogisticRegression

    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale = np.where(scale > 1e-6, scale, 1.0)
    model = LogisticRegression(C=c, max_iter=2000, class_weight="balanced")
    model.fit((features - mean) / scale, labels)
    return {
        "mean": mean.astype(np.float32),
        "scale": scale.astype(np.float32),
        "coef": model.coef_[0].astype(np.float32),
        "intercept": np.asarray(model.intercept_, dtype=np.float32).reshape(1),
    }


def linear_logits(features: np.ndarray, head: dict[str, np.ndarray]) -> np.ndarray:
    """Logit of "synthetic" for each feature row, from the arrays `fit_linear_head` returned."""
    standardised = (features - head["mean"]) / head["scale"]
    return standardised @ head["coef"] + head["intercept"][0]
