"""One optimisation step of the StyleGAN2 objective.

* D: non-saturating logistic loss on fakes and (augmented) reals, with lazy R1
  every `r1_interval` steps (the penalty scaled by the interval), and LeCam's anchor
  penalty on every step when `lecam_weight` > 0 (lecam.py).
* G: non-saturating logistic loss through the same augmentation, with lazy
  path-length regularisation every `pl_interval` steps and style-mixing (p = 0.9).

Speed: G runs forward once per step. D's update uses the detached fakes, and G's
update re-scores the same fakes with D's parameters frozen, so no second G
forward is needed. Fakes and reals go through D in one concatenated pass (the
minibatch-stddev groups never straddle the two halves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from synthface.generator import Discriminator, Generator
from synthface.training.augment import AdaptiveAugment, augment
from synthface.training.config import TrainConfig
from synthface.training.distributed import DistInfo, all_reduce_sum, average_gradients, sync_buffer_mean
from synthface.training.lecam import LeCamAnchors
from synthface.training.precision import autocast


@dataclass
class StepStats:
    """Losses and diagnostics of one step (for the progress bar and metrics.jsonl)."""

    loss_g: float
    loss_d: float
    d_real: float
    d_fake: float
    r1: float | None = None
    pl: float | None = None


def requires_grad(module: torch.nn.Module, flag: bool) -> None:
    for param in module.parameters():
        param.requires_grad_(flag)


class GANObjective:
    """Holds the networks, optimisers and regulariser state; `step()` trains one batch."""

    def __init__(
        self,
        config: TrainConfig,
        G: Generator,
        D: Discriminator,
        G_ema: Generator,
        device: torch.device,
        dist_info: DistInfo,
    ) -> None:
        self.config = config
        self.G, self.D, self.G_ema = G, D, G_ema
        self.device = device
        self.dist = dist_info
        # Lazy regularisation: scale lr and betas as if the regulariser ran every step.
        g_ratio = config.pl_interval / (config.pl_interval + 1) if config.pl_weight > 0 else 1.0
        d_ratio = config.r1_interval / (config.r1_interval + 1) if config.r1_gamma else 1.0
        b1, b2 = config.betas
        self.opt_G = torch.optim.Adam(
            G.parameters(), lr=config.g_lr * g_ratio, betas=(b1**g_ratio, b2**g_ratio), eps=1e-8
        )
        self.opt_D = torch.optim.Adam(
            D.parameters(), lr=config.d_lr * d_ratio, betas=(b1**d_ratio, b2**d_ratio), eps=1e-8
        )
        self.g_lr = config.g_lr * g_ratio
        self.ada = AdaptiveAugment(
            target=config.ada_target,
            speed_kimg=config.ada_kimg,
            p=config.augment_p,
            fixed=config.augment != "ada",
        )
        self.pl_mean = torch.zeros([], device=device)
        self.lecam = LeCamAnchors(device=device)
        self.precision = config.precision or "fp32"

    # ----------------------------------------------------------------- helpers
    def _augment(self, images: torch.Tensor) -> torch.Tensor:
        return augment(images, self.ada.p) if self.config.augment != "none" else images

    def _sample_ws(self, batch: int, update_w_avg: bool = True) -> torch.Tensor:
        """Mapping with style mixing: past a random crossover, styles come from a second z."""
        G = self.G
        z = torch.randn(batch, G.z_dim, device=self.device)
        ws = G.mapping(z, update_w_avg=update_w_avg)
        if self.config.style_mixing_prob > 0 and float(torch.rand([])) < self.config.style_mixing_prob:
            crossover = int(torch.randint(1, G.num_ws, []))
            ws2 = G.mapping(torch.randn(batch, G.z_dim, device=self.device))
            ws = torch.cat([ws[:, :crossover], ws2[:, crossover:]], dim=1)
        return ws

    def _autocast(self) -> torch.autocast:
        """The networks' convolutions in the run's precision (the mapping network stays fp32)."""
        return autocast(self.device.type, self.precision)

    # ----------------------------------------------------------------- step
    def step(self, reals: torch.Tensor, step_index: int, train_G: bool = True) -> StepStats:
        """One D update and (unless `train_G` is False: a warm start's D warm-up) one G update on a
        batch of reals (float, [-1, 1])."""
        cfg = self.config
        batch = reals.shape[0]
        # Lazy regularisers on the last step of each interval, so that the rows metrics.jsonl keeps every
        # --log-every steps (a multiple of 10 by default) can show them: step_index + 1 is the row's step.
        do_r1 = bool(cfg.r1_gamma) and step_index % cfg.r1_interval == cfg.r1_interval - 1
        do_pl = cfg.pl_weight > 0 and step_index % cfg.pl_interval == cfg.pl_interval - 1

        # Generator forward, once.
        requires_grad(self.G, train_G)
        with torch.set_grad_enabled(train_G):
            ws = self._sample_ws(batch, update_w_avg=train_G)
            with self._autocast():
                fakes = self.G.synthesis(ws, noise_mode="random")

        # ---- D: fakes (detached) and reals in one pass.
        requires_grad(self.D, True)
        reals = reals.detach().requires_grad_(do_r1)
        with self._autocast():
            both = torch.cat([self._augment(fakes.detach().float()), self._augment(reals)])
            logits = self.D(both).float()
        fake_logits, real_logits = logits[:batch], logits[batch:]
        self.ada.accumulate(real_logits)
        loss_d = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        if cfg.lecam_weight > 0:
            self.lecam.update(real_logits, fake_logits, self.dist)
            loss_d = loss_d + cfg.lecam_weight * self.lecam.penalty(real_logits, fake_logits)
        r1_value = None
        if do_r1:
            (grad,) = torch.autograd.grad(real_logits.sum(), reals, create_graph=True)
            r1 = grad.float().square().sum(dim=[1, 2, 3]).mean()
            loss_d = loss_d + r1 * (cfg.r1_gamma / 2) * cfg.r1_interval
            r1_value = float(r1.detach())
        self.opt_D.zero_grad(set_to_none=True)
        loss_d.backward()
        average_gradients(list(self.D.parameters()), self.dist)
        self.opt_D.step()

        # ---- G: the same fakes scored by the updated, frozen D.
        requires_grad(self.D, False)
        pl_value = None
        if train_G:
            with self._autocast():
                gen_logits = self.D(self._augment(fakes.float())).float()
            loss_g = F.softplus(-gen_logits).mean()
            self.opt_G.zero_grad(set_to_none=True)
            loss_g.backward()
            if do_pl:
                pl_value = self._path_length_backward(batch)
            average_gradients(list(self.G.parameters()), self.dist)
            self.opt_G.step()
        else:
            loss_g = F.softplus(-fake_logits.detach()).mean()  # what G would face, before D's update
        sync_buffer_mean(self.G.mapping_net.w_avg, self.dist)

        if step_index % cfg.ada_interval == cfg.ada_interval - 1:
            sums = all_reduce_sum([self.ada.sign_sum, float(self.ada.count)], self.dist, self.device)
            self.ada.update(batch * cfg.ada_interval * self.dist.world_size, sums[0], int(sums[1]))

        stats = all_reduce_sum(
            [float(loss_g.detach()), float(loss_d.detach()), float(real_logits.detach().mean()),
             float(fake_logits.detach().mean())],
            self.dist,
            self.device,
        )
        n = self.dist.world_size
        return StepStats(stats[0] / n, stats[1] / n, stats[2] / n, stats[3] / n, r1_value, pl_value)

    def _path_lengths(self, batch: int, create_graph: bool) -> tuple[torch.Tensor, float]:
        """Per-sample |J^T y| of the synthesis for random image-space directions y, and their mean
        over all processes (`create_graph`: for the penalty's backward, which also tracks w_avg)."""
        ws = self._sample_ws(batch, update_w_avg=create_graph)
        with self._autocast():
            images = self.G.synthesis(ws, noise_mode="random").float()
        h, w = images.shape[2], images.shape[3]
        noise = torch.randn_like(images) / math.sqrt(h * w)
        (grad,) = torch.autograd.grad((images * noise).sum(), ws, create_graph=create_graph)
        lengths = grad.float().square().sum(dim=2).mean(dim=1).sqrt()
        mean_length = all_reduce_sum([float(lengths.detach().mean())], self.dist, self.device)[0]
        return lengths, mean_length / self.dist.world_size

    def measure_path_length(self, batches: int = 8) -> float:
        """Set the path-length mean to the generator's own (a warm start's G is far from zero)."""
        requires_grad(self.G, True)  # the graph to ws runs through G's mapping; no parameter gets a grad
        pl_batch = max(self.config.batch // self.config.pl_batch_shrink, 1)
        means = [self._path_lengths(pl_batch, create_graph=False)[1] for _ in range(batches)]
        self.pl_mean.fill_(sum(means) / len(means))
        return float(self.pl_mean)

    def _path_length_backward(self, batch: int) -> float:
        """Accumulate the path-length penalty's gradient into G (lazy, every pl_interval)."""
        cfg = self.config
        lengths, mean_length = self._path_lengths(max(batch // cfg.pl_batch_shrink, 1), create_graph=True)
        self.pl_mean.copy_(self.pl_mean.lerp(torch.tensor(mean_length, device=self.device), cfg.pl_decay))
        penalty = (lengths - self.pl_mean).square().mean()
        (penalty * cfg.pl_weight * cfg.pl_interval).backward()
        return float(penalty.detach())

    def scale_g_lr(self, scale: float) -> None:
        """G's learning rate as a share of its configured one (a warm start's ramp-up)."""
        for group in self.opt_G.param_groups:
            group["lr"] = self.g_lr * scale

    @torch.no_grad()
    def update_ema(self, images_trained: int) -> None:
        """Exponential moving average of G's weights (the generator we ship).

        `images_trained` is how many images G has trained on in all. The ramp shortens the half-life
        while that is small, so the average can follow a young G's fast changes; a G warm-started
        from a trained model has long passed it.
        """
        cfg = self.config
        ema_nimg = cfg.ema_kimg * 1000
        if cfg.ema_rampup:
            ema_nimg = min(ema_nimg, images_trained * cfg.ema_rampup)
        beta = 0.5 ** (self.config.batch / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict:
        return {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "ada": self.ada.state_dict(),
            "pl_mean": self.pl_mean.detach().clone(),
            "lecam": self.lecam.state_dict(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        self.ada.load_state_dict(state["ada"])
        self.pl_mean.copy_(state["pl_mean"])
        if "lecam" in state:  # checkpoints from before LeCam existed start its anchors afresh
            self.lecam.load_state_dict(state["lecam"])
