"""Calibration: raw detector scores -> probabilities that mean what they say.

A network's logit is a ranking, not a probability: trained on balanced batches with
augmentation it is over- or under-confident on real data. Platt scaling fits
p = sigmoid(a * score + b) on a held-out split (scikit-learn's logistic regression),
which is monotone whenever a >= 0, so it never changes the ranking (AP and ROC-AUC stay
as they were) and always lands in [0, 1]. Only the two numbers are stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PlattCalibrator:
    """p = sigmoid(slope * score + offset), slope >= 0 (monotone non-decreasing)."""

    slope: float = 1.0
    offset: float = 0.0

    def __call__(self, scores: np.ndarray | float) -> np.ndarray:
        z = self.slope * np.asarray(scores, dtype=np.float64) + self.offset
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, without overflow warnings

    def to_dict(self) -> dict[str, float]:
        return {"slope": self.slope, "offset": self.offset}

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> PlattCalibrator:
        return cls(float(data["slope"]), float(data["offset"]))


def fit_platt(scores: np.ndarray, labels: np.ndarray) -> PlattCalibrator:
    """Fit on held-out (score, label) pairs; labels 1 = synthetic.

    If the scores carry no usable signal (the fit would need a negative slope), the slope
    is set to 0: the calibrator then outputs the held-out base rate for every image, which
    is the honest probability for an uninformative score (0.5: the classes are weighed equally).
    """
    from sklearn.linear_model import LogisticRegression

    scores = np.asarray(scores, dtype=np.float64).reshape(-1, 1)
    labels = np.asarray(labels).astype(int)
    if len(np.unique(labels)) < 2:
        raise ValueError("calibration needs held-out images of both classes")
    # Weak regularisation: with well-separated scores an unregularised fit diverges. Balanced class
    # weights: p is the probability under equal priors, whatever the held-out split's class mix was.
    model = LogisticRegression(C=100.0, max_iter=1000, class_weight="balanced").fit(scores, labels)
    slope, offset = float(model.coef_[0, 0]), float(model.intercept_[0])
    if not slope > 0:
        return PlattCalibrator(0.0, 0.0)
    return PlattCalibrator(slope, offset)


def _balanced_weights(labels: np.ndarray) -> np.ndarray:
    """Weights giving each class half the total: the equal-priors view the calibrators are fitted for."""
    positives = max(int(labels.sum()), 1)
    negatives = max(int(len(labels) - labels.sum()), 1)
    return np.where(labels > 0.5, 0.5 / positives, 0.5 / negatives)


def reliability_bins(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per probability bin: mean predicted p, observed fraction synthetic, image count (for the diagram).

    The observed fraction weighs the classes equally, like `fit_platt`, so an evaluation set
    with three times more fakes than reals does not look miscalibrated just for that.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    weights = _balanced_weights(labels)
    index = np.minimum((probabilities * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if mask.any():
            w = weights[mask]
            rows.append({
                "low": b / bins,
                "high": (b + 1) / bins,
                "mean_predicted": float(np.average(probabilities[mask], weights=w)),
                "fraction_synthetic": float(np.average(labels[mask], weights=w)),
                "count": int(mask.sum()),
                "weight": float(w.sum()),
            })
    return rows


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Class-balanced ECE: sum over bins of (bin weight) x |mean predicted - observed fraction|."""
    rows = reliability_bins(probabilities, labels, bins)
    total = sum(row["weight"] for row in rows)
    if total == 0:
        return float("nan")
    return sum(row["weight"] * abs(row["mean_predicted"] - row["fraction_synthetic"]) for row in rows) / total
