"""The training loop: data -> (G, D) steps -> checkpoints, grids and metrics.

Everything a run needs to continue exactly is in its checkpoints (networks, EMA,
optimisers, augmentation state, path-length mean, RNG states, images seen), so a
killed run resumed with `--resume` loses at most one snapshot interval, and a
single-process CPU run resumed from a checkpoint reproduces the uninterrupted
run's losses step for step.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from synthface import checkpoints as ckpt
from synthface.errors import SynthfaceError
from synthface.generator import Discriminator, Generator
from synthface.generator.images import uint8_to_float
from synthface.io_utils import atomic_path, write_text_atomic
from synthface.pretrained import DISCRIMINATOR_FOLDER
from synthface.training import warm_start
from synthface.training.config import TrainConfig
from synthface.training.distributed import DistInfo, any_rank, broadcast_module, init_distributed
from synthface.training.losses import GANObjective, StepStats
from synthface.training.snapshots import write_loss_curve, write_sample_grid


@dataclass
class TrainResult:
    run_dir: Path
    images_seen: int
    steps: int
    generator_dir: Path
    out_of_time: bool = False  # stopped by --max-minutes before --kimg


def pick_device(name: str, dist_info: DistInfo) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SynthfaceError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu")
        device = torch.device("cuda", dist_info.local_rank) if name == "cuda" else torch.device(name)
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
        return device
    if name != "cpu":
        raise SynthfaceError(f"unknown --device {name!r}: use auto, cpu or cuda")
    return torch.device("cpu")


def export_generator(G_ema: Generator, folder: Path, D: Discriminator | None = None,
                     kimg: float | None = None) -> None:
    """Save the EMA generator with save_pretrained, replacing the old export atomically.

    With `D`, its discriminator goes in `discriminator/` beside it, so the folder alone can start
    a new run (`--init-from`) that trains both on (a checkpoint, three times the size, also holds
    the raw G and the optimiser moments).
    `kimg` (how many thousand images the generator has trained on, warm starts included) goes in
    metrics.json, where model cards, FID curves and later warm starts read it.
    """
    from synthface.io_utils import atomic_folder

    with atomic_folder(folder) as tmp:
        G_cpu = copy.deepcopy(G_ema).to("cpu").float()
        G_cpu.save_pretrained(tmp)
        if D is not None:
            D_cpu = copy.deepcopy(D).to("cpu", torch.float32, memory_format=torch.contiguous_format)
            D_cpu.save_pretrained(tmp / DISCRIMINATOR_FOLDER)
            (tmp / DISCRIMINATOR_FOLDER / "README.md").write_text(warm_start.DISCRIMINATOR_README)
        if kimg is not None:
            (tmp / "metrics.json").write_text(json.dumps({"kimg": round(kimg, 3)}, indent=2) + "\n")


class Trainer:
    """Owns one training run (one process; several under torchrun)."""

    def __init__(self, config: TrainConfig, resume: bool = False) -> None:
        self.dist = init_distributed("cuda" if config.device != "cpu" and torch.cuda.is_available() else "cpu")
        self.device = pick_device(config.device, self.dist)
        self.init_model = None
        if config.init_from and not resume:
            self.init_model = warm_start.find_init_model(config.init_from)
            config = warm_start.adopt_architecture(config, self.init_model)
        config = config.resolve_defaults(self.device.type == "cuda")
        if config.batch % self.dist.world_size != 0:
            raise SynthfaceError(
                f"--batch {config.batch} must be divisible by the number of processes ({self.dist.world_size})"
            )
        self.batch_per_rank = config.batch // self.dist.world_size
        self.run_dir = Path(config.out)
        self.metrics_path = self.run_dir / "metrics.jsonl"
        self.resume = resume

        torch.manual_seed(config.seed)
        self.G = Generator(**config.generator_kwargs()).to(self.device)
        self.D = Discriminator(**config.discriminator_kwargs()).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval()
        warmup, rampup = config.d_warmup_kimg, config.g_lr_rampup_kimg
        if self.init_model is not None:
            with_d = warm_start.load_init_weights(self.init_model, self.G, self.G_ema, self.D)
            warmup = (0.0 if with_d else warm_start.DEFAULT_D_WARMUP_KIMG) if warmup is None else warmup
            rampup = (0.0 if with_d else warm_start.DEFAULT_G_LR_RAMPUP_KIMG) if rampup is None else rampup
        config = dataclasses.replace(config, d_warmup_kimg=warmup or 0.0, g_lr_rampup_kimg=rampup or 0.0)
        self.config = config
        broadcast_module(self.G, self.dist)
        broadcast_module(self.D, self.dist)
        broadcast_module(self.G_ema, self.dist)
        if config.channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.objective = GANObjective(config, self.G, self.D, self.G_ema, self.device, self.dist)
        self.images_seen = 0
        self.step_index = 0
        # Per-rank streams: global RNG for the networks' noise, a separate one for data order.
        torch.manual_seed(config.seed * 7919 + 1 + self.dist.rank)
        self.data_rng = torch.Generator().manual_seed(config.seed * 104729 + 2 + self.dist.rank)
        self.images: torch.Tensor | None = None
        self._reference = None
        self._fid_done = 0

    # ------------------------------------------------------------------ data
    def load_data(self) -> None:
        from synthface.data import prepare_images

        cfg = self.config
        if self.dist.enabled and not self.dist.is_main:
            torch.distributed.barrier()  # rank 0 prepares (and caches) first
        prep = prepare_images(
            cfg.data,
            resolution=cfg.resolution,
            crop=cfg.crop,
            channels=cfg.img_channels,
            fit=cfg.fit,
            image_column=cfg.image_column,
            max_images=cfg.max_images,
            progress=cfg.progress and self.dist.is_main,
        )
        if self.dist.enabled and self.dist.is_main:
            torch.distributed.barrier()
        if prep.images.shape[0] < 2:
            raise SynthfaceError(f"data source {cfg.data!r} holds fewer than 2 usable images; give more images")
        self.images = prep.images
        self.prepared = prep
        self.data_info = {"source": prep.source, "images": int(prep.images.shape[0]),
                          "skipped": len(prep.skipped), "cache_key": prep.cache_key}

    def next_batch(self) -> torch.Tensor:
        """Random reals (with replacement), x-flipped half the time when mirroring."""
        assert self.images is not None
        idx = torch.randint(self.images.shape[0], (self.batch_per_rank,), generator=self.data_rng)
        batch = self.images[idx]
        if self.config.mirror:
            flip = torch.rand(self.batch_per_rank, generator=self.data_rng) < 0.5
            batch = torch.where(flip[:, None, None, None], batch.flip(3), batch)
        batch = uint8_to_float(batch).to(self.device, non_blocking=True)
        if self.config.channels_last:
            batch = batch.contiguous(memory_format=torch.channels_last)
        return batch

    # ------------------------------------------------------------- checkpoint
    def state(self) -> dict:
        return {
            "objective": self.objective.state_dict(),
            "images_seen": self.images_seen,
            "step_index": self.step_index,
            "rng": ckpt.rng_state(),
            "data_rng": self.data_rng.get_state(),
        }

    def restore(self, state: dict) -> None:
        self.objective.load_state_dict(state["objective"])
        self.images_seen = int(state["images_seen"])
        self.step_index = int(state["step_index"])
        every = int(self.config.fid_every_kimg * 1000)
        self._fid_done = self.images_seen // every if every > 0 else 0
        if self.dist.rank == 0:
            ckpt.set_rng_state(state["rng"])
            self.data_rng.set_state(state["data_rng"])
        else:
            # Other ranks cannot recover their exact streams from rank 0's file; reseed deterministically.
            torch.manual_seed(self.config.seed * 7919 + 1 + self.dist.rank + self.step_index)
            self.data_rng.manual_seed(self.config.seed * 104729 + 2 + self.dist.rank + self.step_index)
        self._truncate_metrics()

    def _truncate_metrics(self) -> None:
        """Forget metrics logged after the checkpoint we resume from (they will be redone)."""
        if not self.dist.is_main or not self.metrics_path.exists():
            return
        kept = [
            line
            for line in self.metrics_path.read_text().splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= self.step_index
        ]
        write_text_atomic(self.metrics_path, "".join(line + "\n" for line in kept))

    def snapshot(self) -> None:
        """Checkpoint + generator export + sample grid + loss curve (rank 0 only)."""
        if not self.dist.is_main:
            return
        ckpt.save_state(self.state(), ckpt.checkpoint_path(self.run_dir, self.images_seen))
        ckpt.prune_checkpoints(self.run_dir, self.config.keep_checkpoints)
        export_generator(self.G_ema, self.run_dir / "generator", self.D, self.generator_kimg())
        self._export_milestone()
        kimg = self.images_seen / 1000
        grid = self.run_dir / "samples" / f"grid-{kimg:08.2f}kimg.png"
        write_sample_grid(self.G_ema, grid, self.config.grid_seeds)
        with atomic_path(self.run_dir / "samples" / "latest.png") as tmp:
            tmp.write_bytes(grid.read_bytes())
        if self.metrics_path.exists():
            write_loss_curve(self.metrics_path, self.run_dir / "loss.png")

    def generator_kimg(self) -> float:
        """Thousands of images G has trained on: the --init-from model's, plus this run's after its
        D-only warm-up (kimg in file names and metrics.jsonl count every image D saw)."""
        trained = max(self.images_seen - int((self.config.d_warmup_kimg or 0.0) * 1000), 0)
        return (self.config.init_kimg or 0.0) + trained / 1000

    def _export_milestone(self) -> None:
        """Keep the EMA generator of the first snapshot past each multiple of milestone_kimg."""
        from synthface.training.config import DEFAULT_MILESTONE_KIMG

        setting = self.config.milestone_kimg
        every = int((DEFAULT_MILESTONE_KIMG if setting is None else setting) * 1000)
        if every <= 0 or self.images_seen < every:
            return
        folder = self.run_dir / "generators"
        kept = set()
        for path in folder.glob("kimg-*"):
            try:
                kept.add(round(float(path.name.removeprefix("kimg-")) * 1000) // every)
            except ValueError:  # not one of ours
                continue
        if self.images_seen // every not in kept:
            export_generator(self.G_ema, folder / f"kimg-{self.images_seen / 1000:010.3f}", self.D,
                             self.generator_kimg())

    def _fid_due(self) -> bool:
        every = int(self.config.fid_every_kimg * 1000)
        if every <= 0:
            return False
        due = self.images_seen // every
        if due > self._fid_done:
            self._fid_done = due
            return True
        return False

    def _log_fid(self) -> None:
        """FID/KID of the EMA generator against the (cached) training-set statistics."""
        from synthface.metrics import compute_generator_metrics, reference_stats

        if self._reference is None:
            self._reference = reference_stats(self.prepared, device=self.device.type,
                                              progress=self.config.progress)
        result = compute_generator_metrics(self.G_ema, self._reference, num_samples=self.config.fid_samples,
                                           device=self.device.type, progress=self.config.progress)
        row = {"step": self.step_index, "kimg": round(self.images_seen / 1000, 4), "fid": result["fid"],
               "kid_mean": result["kid_mean"], "kid_std": result["kid_std"], "fid_samples": result["num_samples"]}
        with open(self.metrics_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row) + "\n")

    # ------------------------------------------------------------------ loop
    def _log(self, stats: StepStats, img_per_s: float) -> dict:
        row = {
            "step": self.step_index,
            "kimg": round(self.images_seen / 1000, 4),
            "loss_g": stats.loss_g,
            "loss_d": stats.loss_d,
            "d_real": stats.d_real,
            "d_fake": stats.d_fake,
            "r1": stats.r1,
            "pl": stats.pl,
            "aug_p": self.objective.ada.p,
            "ada_rt": self.objective.ada.last_rt,
            "img_per_s": round(img_per_s, 2),
        }
        if self.dist.is_main:
            self.metrics_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.metrics_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")
        return row

    def _start(self) -> None:
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.run_dir / "train_config.json"
        if self.resume:
            newest = ckpt.load_newest_state(self.run_dir)
            if newest is None:
                raise SynthfaceError(f"no checkpoint to resume in {self.run_dir}/checkpoints; start without --resume")
            self.restore(newest[1])
        elif ckpt.latest_checkpoint(self.run_dir) is not None:
            raise SynthfaceError(
                f"{self.run_dir} already holds checkpoints: pass --resume to continue it or pick a new --out"
            )
        elif self.init_model is not None and self.config.pl_weight > 0:
            self.objective.measure_path_length()
        if self.dist.is_main:
            write_text_atomic(config_path, self.config.to_json())

    def run(self) -> TrainResult:
        from tqdm import tqdm

        cfg = self.config
        self._start()
        if self.images is None:
            self.load_data()
        total = int(cfg.kimg * 1000)
        snapshot_every = max(int(cfg.snapshot_kimg * 1000), 1)
        next_snapshot = (self.images_seen // snapshot_every + 1) * snapshot_every
        bar = tqdm(total=total, initial=min(self.images_seen, total), unit="img", unit_scale=True,
                   disable=not (cfg.progress and self.dist.is_main), dynamic_ncols=True,
                   desc=f"train ({self.device.type}, {cfg.precision})")
        last_time, last_images = time.perf_counter(), self.images_seen
        snapshotted_at = -1
        d_warmup_until = int(cfg.d_warmup_kimg * 1000)
        deadline = time.monotonic() + cfg.max_minutes * 60 if cfg.max_minutes else None
        out_of_time = False
        while self.images_seen < total:
            reals = self.next_batch()
            train_G = self.images_seen >= d_warmup_until
            if train_G and cfg.g_lr_rampup_kimg > 0:
                ramp = (self.images_seen - d_warmup_until + cfg.batch) / (cfg.g_lr_rampup_kimg * 1000)
                self.objective.scale_g_lr(min(ramp, 1.0))
            stats = self.objective.step(reals, self.step_index, train_G=train_G)
            self.step_index += 1
            self.images_seen += cfg.batch
            if train_G:
                # G's whole history, the --init-from model's included: a warm start goes on with the
                # full EMA half-life instead of re-running the ramp meant for random weights.
                self.objective.update_ema(round(self.generator_kimg() * 1000))
            bar.update(min(cfg.batch, total - bar.n))
            if self.step_index % cfg.log_every == 0 or self.images_seen >= total:
                now = time.perf_counter()
                rate = (self.images_seen - last_images) / max(now - last_time, 1e-9)
                last_time, last_images = now, self.images_seen
                row = self._log(stats, rate)
                bar.set_postfix(kimg=f"{row['kimg']:.1f}", G=f"{stats.loss_g:.2f}", D=f"{stats.loss_d:.2f}",
                                p=f"{self.objective.ada.p:.2f}", refresh=False)
            if self._fid_due() and self.dist.is_main:
                self._log_fid()
            if self.images_seen >= next_snapshot:
                self.snapshot()
                snapshotted_at = self.images_seen
                next_snapshot = (self.images_seen // snapshot_every + 1) * snapshot_every
            # Checked after a step, so every leg moves; every rank asks, so all stop at the same step.
            if (deadline is not None and self.images_seen < total
                    and any_rank(time.monotonic() >= deadline, self.dist, self.device)):
                out_of_time = True
                break
        if snapshotted_at != self.images_seen:
            self.snapshot()
        bar.close()
        return TrainResult(self.run_dir, self.images_seen, self.step_index, self.run_dir / "generator", out_of_time)


def train(config: TrainConfig, resume: bool = False) -> TrainResult:
    """Run (or continue) a training run described by `config`."""
    if resume and (Path(config.out) / "train_config.json").exists():
        saved = TrainConfig.load(Path(config.out) / "train_config.json")
        # A resume may change how far to go, the memory layout and what is kept, never the maths.
        # --precision changes rounding, not the objective, so a resume may switch it when asked. A run
        # saved before the setting existed goes on as it ran: bf16 autocast on CUDA only.
        # The run goes on where it is now (a copied or moved run folder), never where it was started.
        precision = config.precision or saved.precision or (
            "bf16" if saved.device != "cpu" and torch.cuda.is_available() else "fp32")
        config = dataclasses.replace(
            saved, kimg=config.kimg, max_minutes=config.max_minutes, progress=config.progress, out=config.out,
            channels_last=saved.channels_last if config.channels_last is None else config.channels_last,
            milestone_kimg=saved.milestone_kimg if config.milestone_kimg is None else config.milestone_kimg,
            precision=precision,
        )
    return Trainer(config, resume=resume).run()
