"""Differentiable augmentation of everything the discriminator sees, with adaptive strength.

With ~18k faces a discriminator memorises the training set within a few hundred
kimg and the generator's signal collapses. Following DiffAugment and ADA, every
image shown to D, real or fake, is augmented with probability `p` per transform and
sample (so G's gradients flow through the same augmentation), and `p` is steered so
that the overfitting heuristic r_t = E[sign(D(real))] stays near a target (0.6).

Augmentations must not "leak" into G's outputs, which is why each is applied with
probability p < 1 rather than always (ADA's argument): the transforms used here are
invertible in distribution for p < ~0.8.
"""

from __future__ import annotations

import torch


def _per_sample(p: float, batch: int, device: torch.device) -> torch.Tensor:
    """Bernoulli(p) mask of shape [batch, 1, 1, 1]."""
    return (torch.rand(batch, 1, 1, 1, device=device) < p).to(torch.float32)


def translate(x: torch.Tensor, mask: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Integer shifts of up to `ratio` of the size, zero-filled, per sample."""
    n, _, h, w = x.shape
    max_dy, max_dx = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-max_dy, max_dy + 1, (n, 1, 1), device=x.device) * mask.view(n, 1, 1).long()
    dx = torch.randint(-max_dx, max_dx + 1, (n, 1, 1), device=x.device) * mask.view(n, 1, 1).long()
    ys = torch.arange(h, device=x.device).view(1, h, 1) - dy  # source row for each target row
    xs = torch.arange(w, device=x.device).view(1, 1, w) - dx
    valid = ((ys >= 0) & (ys < h) & (xs >= 0) & (xs < w)).unsqueeze(1)
    flat = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).view(n, 1, h * w).expand(-1, x.shape[1], -1)
    shifted = x.reshape(n, x.shape[1], h * w).gather(2, flat).view_as(x)
    return shifted * valid.to(x.dtype)


def cutout(x: torch.Tensor, mask: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of `ratio` of the side at a random place, per sample."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    cy = torch.randint(0, h + 1 - ch % 2, (n, 1, 1), device=x.device)
    cx = torch.randint(0, w + 1 - cw % 2, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((rows - cy).abs() < ch / 2) & ((cols - cx).abs() < cw / 2)
    keep = 1.0 - inside.unsqueeze(1).to(x.dtype) * mask.to(x.dtype)
    return x * keep


def color(x: torch.Tensor, p: float) -> torch.Tensor:
    """Brightness, saturation and contrast jitter, each with probability p per sample."""
    n = x.shape[0]
    dev = x.device
    brightness = (torch.rand(n, 1, 1, 1, device=dev) - 0.5) * 0.4 * _per_sample(p, n, dev)
    x = x + brightness.to(x.dtype)
    if x.shape[1] == 3:
        sat = 1.0 + (torch.rand(n, 1, 1, 1, device=dev) - 0.5) * _per_sample(p, n, dev)
        mean = x.mean(dim=1, keepdim=True)
        x = mean + (x - mean) * sat.to(x.dtype)
    contrast = 1.0 + (torch.rand(n, 1, 1, 1, device=dev) - 0.5) * _per_sample(p, n, dev)
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return mean + (x - mean) * contrast.to(x.dtype)


def augment(x: torch.Tensor, p: float) -> torch.Tensor:
    """Apply the full pipeline (colour, translation, cutout) with probability p each."""
    if p <= 0:
        return x
    n = x.shape[0]
    x = color(x, p)
    x = translate(x, _per_sample(p, n, x.device))
    return cutout(x, _per_sample(p, n, x.device))


class AdaptiveAugment:
    """Tracks E[sign(D(real))] and moves p so that it approaches `target`.

    `speed_kimg`: how many thousand images p takes to go from 0 to 1 at full
    pressure (ADA uses 500; shorter runs want faster reactions).
    """

    def __init__(self, target: float = 0.6, speed_kimg: float = 100.0, p: float = 0.0, fixed: bool = False):
        self.target = target
        self.speed_kimg = speed_kimg
        self.p = p
        self.fixed = fixed
        self.sign_sum = 0.0
        self.count = 0
        self.last_rt = 0.0

    def accumulate(self, real_logits: torch.Tensor) -> None:
        """Add a batch of D(real) logits to the running statistic."""
        self.sign_sum += float(real_logits.detach().sign().sum())
        self.count += int(real_logits.numel())

    def update(self, images_since_last: int, sign_sum: float | None = None, count: int | None = None) -> None:
        """Step p by the sign of (r_t - target); callers pass all-reduced sums under DDP."""
        sign_sum = self.sign_sum if sign_sum is None else sign_sum
        count = self.count if count is None else count
        if count > 0:
            self.last_rt = sign_sum / count
            if not self.fixed:
                adjust = (1.0 if self.last_rt > self.target else -1.0) * images_since_last
                self.p = float(min(max(self.p + adjust / (self.speed_kimg * 1000.0), 0.0), 1.0))
        self.sign_sum = 0.0
        self.count = 0

    def state_dict(self) -> dict[str, float]:
        return {"p": self.p, "sign_sum": self.sign_sum, "count": float(self.count), "last_rt": self.last_rt}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.p = float(state["p"])
        self.sign_sum = float(state["sign_sum"])
        self.count = int(state["count"])
        self.last_rt = float(state["last_rt"])
