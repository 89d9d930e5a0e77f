"""Every knob of a training run, with sensible defaults per resolution.

This dataclass is the one place training defaults live: `synthface train` takes its option
defaults from it. A config is never changed in place: filling the defaults, adopting a warm
start's architecture and merging a resume each return a new one (`dataclasses.replace`). The
config is saved as JSON next to the checkpoints so `--resume` continues with exactly the
settings the run started with.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthface.errors import SynthfaceError

# Widths a 2-core CPU can train to recognisable faces in about two hours at 64 px, and
# larger ones for GPUs. (channel_base, channel_max, z/w dim)
CPU_WIDTHS = {32: (1024, 128, 128), 64: (1024, 128, 128), 128: (2048, 128, 128)}
GPU_WIDTHS = {32: (8192, 512, 512), 64: (16384, 512, 512), 128: (16384, 512, 512)}


DEFAULT_MILESTONE_KIMG = 100.0


@dataclass
class TrainConfig:
    """One training run. Fields left as None are filled by `resolve_defaults` (in a new config)."""

    data: str = ""
    out: str = "runs/synthface"
    resolution: int | None = None  # None: 64, or the --init-from model's
    img_channels: int | None = None  # None: 3 (RGB), or the --init-from model's
    crop: str = "auto"
    fit: str = "crop"
    image_column: str = "image"
    max_images: int | None = None
    mirror: bool = True

    kimg: float = 100.0
    # Stop cleanly (checkpoint + export) after this much wall-clock time, so a rented or shared machine's
    # budget ends with a resumable run instead of a killed one; None: no limit. Not part of the maths.
    max_minutes: float | None = None
    batch: int = 32
    seed: int = 0

    # Networks (None: the width table's, or the --init-from model's).
    z_dim: int | None = None
    w_dim: int | None = None
    mapping_layers: int | None = None
    channel_base: int | None = None
    channel_max: int | None = None

    # Warm start: a generator to begin from (folder, run, Hub id or "bundled"; see warm_start.py).
    init_from: str | None = None
    init_kimg: float | None = None  # how far the init model was trained, when its folder says
    d_warmup_kimg: float | None = None  # D-only steps first; None: 100 when D starts from random weights, else 0
    # After the warm-up G's learning rate rises linearly from 0 over this many kimg, so a young D can
    # follow G's changes (None: the same default rule as d_warmup_kimg; see warm_start.py).
    g_lr_rampup_kimg: float | None = None

    # Optimisation.
    g_lr: float = 0.0025
    d_lr: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    ema_kimg: float | None = None
    ema_rampup: float = 0.05

    # Regularisers.
    r1_gamma: float | None = None
    r1_interval: int = 16
    pl_weight: float = 2.0
    pl_interval: int = 4
    pl_batch_shrink: int = 2
    pl_decay: float = 0.01
    style_mixing_prob: float = 0.9
    lecam_weight: float = 0.0  # LeCam's anchor penalty on D's logits (lecam.py); 0: off

    # Augmentation.
    augment: str = "ada"  # ada | fixed | none
    augment_p: float = 0.0
    ada_target: float = 0.6
    ada_interval: int = 4
    ada_kimg: float = 100.0

    # Book-keeping.
    log_every: int = 10
    snapshot_kimg: float = 4.0
    keep_checkpoints: int = 3
    # Every N kimg the EMA generator is also kept in generators/kimg-NNNNNN.NNN/ (never pruned), so
    # FID-vs-kimg can be measured afterwards without slowing training (benchmarks/fid_curve.py).
    milestone_kimg: float | None = None  # None: DEFAULT_MILESTONE_KIMG; 0: keep none
    grid_seeds: int = 32
    fid_every_kimg: float = 0.0
    fid_samples: int = 5000
    device: str = "auto"
    channels_last: bool | None = None  # None: on for CPUs (oneDNN: +11-20% img/s in train_speed), off for GPUs
    # fp32 or bf16 autocast (None: bf16 where the device has native bf16 arithmetic; see precision.py).
    precision: str | None = None
    progress: bool = True

    def resolve_defaults(self, on_gpu: bool) -> TrainConfig:
        """A copy with width, EMA, R1, memory-format and precision defaults filled from the resolution
        and the device kind (this config is left as it is)."""
        from synthface.training.precision import PRECISIONS, default_precision  # torch: only when training

        resolution = 64 if self.resolution is None else self.resolution
        table = GPU_WIDTHS if on_gpu else CPU_WIDTHS
        base, cmax, dim = table.get(resolution, (16384 if on_gpu else 4096, 512 if on_gpu else 256, 512))
        resolved = dataclasses.replace(
            self,
            resolution=resolution,
            img_channels=3 if self.img_channels is None else self.img_channels,
            mapping_layers=8 if self.mapping_layers is None else self.mapping_layers,
            channel_base=self.channel_base or base,
            channel_max=self.channel_max or cmax,
            z_dim=self.z_dim or dim,
            w_dim=self.w_dim or dim,
            ema_kimg=self.batch * 10 / 32 if self.ema_kimg is None else self.ema_kimg,
            # The ADA heuristic: gamma = 0.0002 * res^2 / batch.
            r1_gamma=0.0002 * resolution**2 / self.batch if self.r1_gamma is None else self.r1_gamma,
            channels_last=(not on_gpu) if self.channels_last is None else self.channels_last,
            precision=self.precision or default_precision("cuda" if on_gpu else "cpu"),
        )
        if resolved.precision not in PRECISIONS:
            raise SynthfaceError(f"precision {resolved.precision!r}: use one of {', '.join(PRECISIONS)}")
        return resolved

    def generator_kwargs(self) -> dict[str, Any]:
        return {
            "resolution": self.resolution,
            "img_channels": self.img_channels,
            "z_dim": self.z_dim,
            "w_dim": self.w_dim,
            "mapping_layers": self.mapping_layers,
            "channel_base": self.channel_base,
            "channel_max": self.channel_max,
        }

    def discriminator_kwargs(self) -> dict[str, Any]:
        return {
            "resolution": self.resolution,
            "img_channels": self.img_channels,
            "channel_base": self.channel_base,
            "channel_max": self.channel_max,
        }

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        raw = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        raw = {k: v for k, v in raw.items() if k in known}
        if "betas" in raw:
            raw["betas"] = tuple(raw["betas"])
        return cls(**raw)

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))
