"""Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel.

Why KID beside FID: FID is biased by the sample count (fewer samples -> larger FID),
so numbers from 5k and 50k samples do not compare; KID's estimator is unbiased, and
averaging it over random subsets also gives a spread (std), which tells whether two
models really differ. Kernel (Binkowski et al., 2018): k(x, y) = (x.y / d + 1)^3.

Per subset of m features from each set, the unbiased estimate is
  sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (m(m-1)) - 2 mean k(x_i, y_j).
It can be slightly negative when the distributions match; that is expected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from synthface.errors import SynthfaceError


@dataclass(frozen=True)
class KIDResult:
    """Mean and standard deviation of the subset estimates, and how they were drawn."""

    mean: float
    std: float
    num_subsets: int
    subset_size: int


def polynomial_kernel(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> np.ndarray:
    """(x.y / d + coef0)^degree for all pairs, in float64."""
    dim = x.shape[1]
    return (x @ y.T / dim + coef0) ** degree


def unbiased_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """One unbiased MMD^2 estimate between equally sized samples x, y [m, d] (m >= 2)."""
    m = x.shape[0]
    k_xx = polynomial_kernel(x, x)
    k_yy = polynomial_kernel(y, y)
    k_xy = polynomial_kernel(x, y)
    within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
    return float(within - 2.0 * k_xy.mean())


def kernel_inception_distance(
    features1: np.ndarray,
    features2: np.ndarray,
    num_subsets: int = 100,
    max_subset_size: int = 1000,
    seed: int = 0,
) -> KIDResult:
    """KID between feature sets [N1, D] and [N2, D], averaged over random subsets.

    Each subset draws ``min(N1, N2, max_subset_size)`` rows from each set without
    replacement; ``seed`` makes the draw reproducible. Computed in float64.
    """
    features1, features2 = np.asarray(features1), np.asarray(features2)
    if features1.ndim != 2 or features2.ndim != 2 or features1.shape[1] != features2.shape[1]:
        raise SynthfaceError(
            f"KID needs [N, D] feature arrays of equal D, got {features1.shape} and {features2.shape}"
        )
    if num_subsets < 1 or max_subset_size < 2:
        raise SynthfaceError(
            f"KID needs num_subsets >= 1 and subset size >= 2, got {num_subsets}, {max_subset_size}"
        )
    subset_size = min(features1.shape[0], features2.shape[0], max_subset_size)
    if subset_size < 2:
        raise SynthfaceError(
            f"KID needs at least 2 samples per set, got {features1.shape[0]} and {features2.shape[0]}"
        )
    x_all = features1.astype(np.float64, copy=False)
    y_all = features2.astype(np.float64, copy=False)
    rng = np.random.default_rng(seed)
    estimates = np.empty(num_subsets, dtype=np.float64)
    for index in range(num_subsets):
        x = x_all[rng.choice(x_all.shape[0], subset_size, replace=False)]
        y = y_all[rng.choice(y_all.shape[0], subset_size, replace=False)]
        estimates[index] = unbiased_mmd2(x, y)
    std = float(estimates.std(ddof=1)) if num_subsets > 1 else 0.0
    return KIDResult(mean=float(estimates.mean()), std=std, num_subsets=num_subsets, subset_size=subset_size)
