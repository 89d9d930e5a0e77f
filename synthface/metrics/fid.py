"""Frechet Inception Distance between two Gaussians fitted to Inception features.

FID = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)).

The delicate term is tr((S1 S2)^(1/2)). We compute it the way published FID code
does (``scipy.linalg.sqrtm`` of the product, in float64), so our numbers compare with
theirs, and guard its known failure modes:

* a singular product (fewer samples than dimensions) can make ``sqrtm`` non-finite:
  retry with a tiny ``eps * I`` added to both covariances, as the reference code does;
* round-off gives a complex result; small imaginary parts are dropped, and if they
  are large we fall back to the symmetric form tr((A^1/2 B A^1/2)^1/2) computed with
  ``eigh``, which is exact for the positive semi-definite matrices we have.

When raw features are at hand and there are fewer samples than dimensions, the
covariances have rank < n and an exact, cheaper identity applies: with
S1 = A^T A and S2 = B^T B (A, B the centred features / sqrt(n-1)), the eigenvalues of
S1 S2 are those of (A B^T)(A B^T)^T, so tr((S1 S2)^(1/2)) is the nuclear norm of
A B^T, an n1 x n2 matrix. That is what :func:`fid_from_features` uses for small sets.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg

from synthface.errors import SynthfaceError

# Largest |imag| of sqrtm's result (relative to its largest |real|) that is still round-off.
_IMAG_TOLERANCE = 1e-3


@dataclass(frozen=True)
class GaussianStats:
    """Mean and covariance (float64) of a feature set, plus how many samples made them."""

    mu: np.ndarray
    sigma: np.ndarray
    count: int

    @classmethod
    def from_features(cls, features: np.ndarray) -> GaussianStats:
        features = _as_2d(features, "features")
        if features.shape[0] < 2:
            raise SynthfaceError(f"need at least 2 feature vectors for a covariance, got {features.shape[0]}")
        features = features.astype(np.float64, copy=False)
        mu = features.mean(axis=0)
        sigma = np.cov(features, rowvar=False)
        return cls(mu=mu, sigma=sigma, count=int(features.shape[0]))


def _as_2d(features: np.ndarray, name: str) -> np.ndarray:
    features = np.asarray(features)
    if features.ndim != 2:
        raise SynthfaceError(f"{name} must be a 2-D [N, D] array, got shape {features.shape}")
    if not np.isfinite(features).all():
        raise SynthfaceError(f"{name} contain NaN or infinite values; the images or network went wrong")
    return features


def _trace_sqrt_product_symmetric(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr((S1 S2)^1/2) = tr((S1^1/2 S2 S1^1/2)^1/2), via eigh on symmetric PSD matrices."""
    values, vectors = np.linalg.eigh((sigma1 + sigma1.T) / 2)
    root1 = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    middle = root1 @ sigma2 @ root1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    return float(np.sqrt(np.clip(eig, 0.0, None)).sum())


def _trace_sqrt_product_sqrtm(sigma1: np.ndarray, sigma2: np.ndarray, eps: float) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns about singular products; we check ourselves
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            offset = np.eye(sigma1.shape[0]) * eps
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if not np.isfinite(covmean).all():
        return _trace_sqrt_product_symmetric(sigma1, sigma2)
    if np.iscomplexobj(covmean):
        scale = max(float(np.abs(covmean.real).max()), 1e-12)
        if float(np.abs(covmean.imag).max()) > _IMAG_TOLERANCE * scale:
            return _trace_sqrt_product_symmetric(sigma1, sigma2)
        covmean = covmean.real
    return float(np.trace(covmean))


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    eps: float = 1e-6,
    method: Literal["sqrtm", "symmetric"] = "sqrtm",
) -> float:
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), computed in float64.

    ``method="sqrtm"`` is the standard computation (with the fallbacks described in the
    module docstring); ``"symmetric"`` uses only symmetric eigendecompositions.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    sigma1, sigma2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    dim = mu1.shape[0]
    if mu2.shape != (dim,) or sigma1.shape != (dim, dim) or sigma2.shape != (dim, dim):
        raise SynthfaceError(
            f"FID statistics do not match: mu {mu1.shape} / {mu2.shape}, "
            f"sigma {sigma1.shape} / {sigma2.shape}"
        )
    for name, value in (("mu1", mu1), ("mu2", mu2), ("sigma1", sigma1), ("sigma2", sigma2)):
        if not np.isfinite(value).all():
            raise SynthfaceError(f"FID statistic {name} contains NaN or infinite values")
    if method == "sqrtm":
        trace_covmean = _trace_sqrt_product_sqrtm(sigma1, sigma2, eps)
    elif method == "symmetric":
        trace_covmean = _trace_sqrt_product_symmetric(sigma1, sigma2)
    else:
        raise SynthfaceError(f"unknown FID method {method!r}; use sqrtm or symmetric")
    diff = mu1 - mu2
    return _non_negative(float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_covmean))


def _non_negative(value: float) -> float:
    """FID is a squared distance; clip round-off below zero, but never hide a real failure."""
    if value < -1e-3:
        raise SynthfaceError(f"FID came out negative ({value:.6g}): the statistics are numerically broken")
    return max(value, 0.0)


def stats_distance(stats1: GaussianStats, stats2: GaussianStats, eps: float = 1e-6) -> float:
    """FID between two fitted Gaussians."""
    return frechet_distance(stats1.mu, stats1.sigma, stats2.mu, stats2.sigma, eps=eps)


def fid_from_features(
    features1: np.ndarray, features2: np.ndarray, method: Literal["auto", "lowrank", "sqrtm"] = "auto"
) -> float:
    """FID between two raw feature sets [N1, D] and [N2, D].

    ``auto`` uses the exact low-rank identity (nuclear norm of A B^T) when both sets
    have fewer samples than dimensions, and the standard covariance route otherwise.
    """
    features1, features2 = _as_2d(features1, "features1"), _as_2d(features2, "features2")
    if features1.shape[1] != features2.shape[1]:
        raise SynthfaceError(f"feature sizes differ: {features1.shape[1]} vs {features2.shape[1]}")
    n1, n2, dim = features1.shape[0], features2.shape[0], features1.shape[1]
    if min(n1, n2) < 2:
        raise SynthfaceError(f"FID needs at least 2 samples per set, got {n1} and {n2}")
    if method == "auto":
        method = "lowrank" if max(n1, n2) < dim else "sqrtm"
    if method == "sqrtm":
        return stats_distance(GaussianStats.from_features(features1), GaussianStats.from_features(features2))
    if method != "lowrank":
        raise SynthfaceError(f"unknown FID method {method!r}; use auto, lowrank or sqrtm")
    a = features1.astype(np.float64)
    b = features2.astype(np.float64)
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    a = (a - mu1) / np.sqrt(n1 - 1)
    b = (b - mu2) / np.sqrt(n2 - 1)
    trace_covmean = float(np.linalg.svd(a @ b.T, compute_uv=False).sum())
    diff = mu1 - mu2
    return _non_negative(float(diff @ diff + np.sum(a * a) + np.sum(b * b) - 2.0 * trace_covmean))
