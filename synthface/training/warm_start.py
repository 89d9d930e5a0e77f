"""Start a new training run from a trained generator instead of from random weights.

Why: training from scratch is the slow part. Fine-tuning on a user's own faces need not start from
nothing, and a run whose checkpoints were lost can go on from its last exported generator and the
discriminator exported with it.

What is carried over: the generator's architecture and its EMA weights, which become both the
trained generator and its EMA (the raw weights are not exported, and the EMA ones are the
better start). The discriminator is carried over too when the folder has one (the trainer
exports it next to every generator, in `discriminator/`). When it has none, the discriminator
starts from random weights and trains alone for `d_warmup_kimg` first: a random critic's
gradients would otherwise push the generator away from what it learnt before the critic knows
anything. A larger --channel-base than the model's widens both networks first, keeping what
they compute (widening.py). Optimiser moments start at zero either way; the path-length mean is measured on the
carried-over generator so its regulariser does not begin by shrinking it towards zero.

A fresh discriminator is a poor partner for a well-trained generator: it learns that one
generator's flaws, the generator escapes them in a few dozen steps, and the critic falls back to
chance while the generator drifts. So a model without its discriminator can start a fine-tuning
run on other faces, but going on improving it on its own data needs the discriminator it was
trained against, which is why exports carry it (docs/training-log.md has the measurements).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from synthface.errors import SynthfaceError
from synthface.generator import Discriminator, Generator
from synthface.pretrained import DISCRIMINATOR_FOLDER
from synthface.training import widening
from synthface.training.config import TrainConfig

log = logging.getLogger("synthface.training")

# D-only kimg before G trains, when D starts from random weights. Measured against the previously
# bundled (first run's 1,100 kimg) generator (batch 32): D's mean logit gap between reals and fakes
# was 0.02 after 20 kimg (chance), 0.65 after 58, 1.6 after 96 and 1.9 at its plateau from 115;
# D-only steps run at about 130 img/s on a 2-core CPU, so this is some 13 minutes.
DEFAULT_D_WARMUP_KIMG = 100.0
# Then G's rate rises over this many kimg: it slows the young D's fall to chance (FID-2k 45.4 after 50
# kimg, against 55.8 at full rate; the runs' warm-ups were 100 and 150 kimg) but does not stop it.
DEFAULT_G_LR_RAMPUP_KIMG = 100.0
DISCRIMINATOR_README = (
    "# Discriminator\n\nThe discriminator trained together with the generator in the folder above. It is not\n"
    "needed to generate images; it lets a new run fine-tune both: `synthface train --init-from FOLDER`.\n"
)
# Architecture fields a warm start takes from the generator's config.json (TrainConfig name: config name).
ARCHITECTURE_FIELDS = {
    "resolution": "resolution", "img_channels": "img_channels", "z_dim": "z_dim", "w_dim": "w_dim",
    "mapping_layers": "mapping_layers", "channel_base": "channel_base", "channel_max": "channel_max",
}
# Fields a warm start may enlarge: the layers are widened, their trained function kept.
WIDENABLE_FIELDS = ("channel_base", "channel_max")


@dataclass
class InitModel:
    """A generator folder to start from, with what is known about how far it was trained."""

    folder: Path
    config: dict
    kimg: float | None

    @property
    def has_discriminator(self) -> bool:
        folder = self.folder / DISCRIMINATOR_FOLDER
        return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def find_init_model(spec: str) -> InitModel:
    """The generator folder behind `spec` (a folder, a run folder, a Hub id or `bundled`)."""
    from synthface.pretrained import resolve_model_folder

    folder = resolve_model_folder(spec, "generator")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SynthfaceError(f"--init-from {spec}: cannot read {folder / 'config.json'} ({exc})") from None
    return InitModel(folder, config, read_kimg(folder))


def read_kimg(folder: Path) -> float | None:
    """How far the generator in `folder` was trained (metrics.json's kimg), or None if unsaid."""
    try:
        return float(json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["kimg"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def adopt_architecture(config: TrainConfig, model: InitModel) -> TrainConfig:
    """A copy of `config` with the model's architecture; a size the user set (not None) that differs is an error.

    The exception is width: a larger --channel-base widens the model's finer layers without changing
    what it computes (widening.py), so a plateaued network can grow and go on. The 4x4 width, which
    --channel-max usually sets, has to stay.
    """
    adopted: dict = {}
    for field, key in ARCHITECTURE_FIELDS.items():
        value = model.config.get(key)
        if value is None:
            continue
        wanted = getattr(config, field)
        if wanted is not None and wanted != value and field not in WIDENABLE_FIELDS:
            option = field.replace("_", "-")
            raise SynthfaceError(f"--{option} {wanted} differs from the --init-from model's {value}; "
                                 f"drop --{option} (a warm start keeps the model's architecture)")
        if wanted is None:
            adopted[field] = value
    config = dataclasses.replace(config, **adopted, init_kimg=model.kimg)
    trained = (model.config.get("channel_base"), model.config.get("channel_max"))
    wanted_widths = (config.channel_base, config.channel_max)
    if None not in trained and wanted_widths != trained:
        widening.check_widening(config.resolution, trained, wanted_widths)
        log.info("widening the --init-from model from channel base/max %d/%d to %d/%d", *trained, *wanted_widths)
    return config


FRESH_D_WARNING = (
    "%s has no discriminator/: a new one starts from random weights. Measured on a generator shipped "
    "without it, a fresh D let G degrade (FID-2k 31.4 -> 45 after 50 kimg), so expect to retrain quality; "
    "folders exported by `synthface train` carry the discriminator G was trained against"
)


def load_init_weights(model: InitModel, G: Generator, G_ema: Generator, D: Discriminator) -> bool:
    """Copy the model's weights into the new run's networks; True when D came with them."""
    from safetensors.torch import load_file

    def load(module: torch.nn.Module, path: Path, what: str) -> None:
        try:
            widening.load_widened(module, load_file(str(path)))  # adopt_architecture has said when it widens
        except Exception as exc:  # safetensors raises its own error type for damaged files
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SynthfaceError(f"--init-from: cannot load the {what} from {path} ({reason})") from None

    load(G, model.folder / "model.safetensors", "generator")
    G_ema.load_state_dict(G.state_dict())
    if not model.has_discriminator:
        log.warning(FRESH_D_WARNING, model.folder)
        return False
    load(D, model.folder / DISCRIMINATOR_FOLDER / "model.safetensors", "discriminator")
    return True
