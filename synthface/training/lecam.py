"""LeCam regularisation of the discriminator (Tseng et al., CVPR 2021), for small datasets.

On a few thousand to a few tens of thousands of photos D learns the training set by
heart: its real and fake logits drift apart, and ADA's overfitting signal climbs and the
augmentation probability with it. ADA fights that by hiding the photos; LeCam fights it in D's outputs:
it keeps moving averages of D's mean logit on reals and on fakes and penalises real
logits above the fake anchor and fake logits below the real anchor,

    R = E[relu(D(x) - anchor_fake)^2] + E[relu(anchor_real - D(G(z)))^2],

which bounds how far apart D can push the two sets (the paper relates it to a
LeCam divergence that is more robust to few samples). It complements ADA rather than
replacing it. Off by default (`lecam_weight` 0): StyleGAN2-ADA itself has no such term.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from synthface.training.distributed import DistInfo, sync_buffer_mean


class LeCamAnchors:
    """Moving averages of D's mean real and fake logits, and the penalty that uses them.

    The anchors start at the first batch's means (a warm-started D's logits are far from 0,
    where a zero start would penalise hard for the first hundred or so steps) and are the
    same on every process (the batch means are averaged over them first).
    """

    def __init__(self, decay: float = 0.99, device: torch.device | None = None) -> None:
        self.decay = decay
        self.real = torch.zeros([], device=device)
        self.fake = torch.zeros([], device=device)
        self.started = False

    def update(self, real_logits: torch.Tensor, fake_logits: torch.Tensor, dist: DistInfo) -> None:
        """Fold this step's (detached) mean logits, averaged over processes, into the anchors.

        Stays on the device: no host round trip in the middle of D's step.
        """
        means = torch.stack([real_logits.detach().float().mean(), fake_logits.detach().float().mean()])
        sync_buffer_mean(means, dist)
        if not self.started:
            self.real.copy_(means[0])
            self.fake.copy_(means[1])
            self.started = True
            return
        self.real.lerp_(means[0], 1 - self.decay)
        self.fake.lerp_(means[1], 1 - self.decay)

    def penalty(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        """R above: zero while real logits stay under the fake anchor and fake ones over the real."""
        return (F.relu(real_logits.float() - self.fake).square().mean()
                + F.relu(self.real - fake_logits.float()).square().mean())

    def state_dict(self) -> dict:
        return {"real": self.real.clone(), "fake": self.fake.clone(), "started": self.started}

    def load_state_dict(self, state: dict) -> None:
        self.real.copy_(state["real"])
        self.fake.copy_(state["fake"])
        self.started = bool(state["started"])
