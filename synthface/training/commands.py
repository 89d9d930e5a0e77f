"""CLI: `synthface train`, `sample`, `demo`."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import typer

from synthface.errors import SynthfaceError, user_errors

DEFAULT_FACES = Path("..") / "shared" / "data" / "faces"


def default_data_source() -> str:
    """The bundled training photos beside a checkout, or $SYNTHFACE_FACES."""
    return os.environ.get("SYNTHFACE_FACES", str(DEFAULT_FACES))


def write_signed_grid(image, out: Path, model: str | None, kind: str, seeds: str, psi: float) -> None:
    """Save a grid of generated faces as a PNG signed as AI-generated (C2PA), atomically.

    Like every image synthface writes, a grid says what it is. It is not watermarked: the mark is
    made for one face, and a grid is many.
    """
    import io

    from synthface.generator.seeds import parse_seeds
    from synthface.io_utils import write_bytes_atomic
    from synthface.personas.persona import checkpoint_sha256
    from synthface.pretrained import resolve_model_folder
    from synthface.provenance import generation_assertion, load_signing_identity, sign_image

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    folder = resolve_model_folder(model, "generator")
    first = parse_seeds(seeds.split(":")[0])[0]
    generator_id = folder.name if model in (None, "bundled") else str(model)
    assertion = generation_assertion(generator_id=generator_id, checkpoint_sha256=checkpoint_sha256(folder),
                                     seed=first, psi=psi, grid=kind, seeds=seeds)
    identity = load_signing_identity(None, None, create_if_missing=True)
    write_bytes_atomic(out, sign_image(buffer.getvalue(), identity, assertion, fmt="png", title=out.name).data)


def register(app: typer.Typer) -> None:
    from synthface.training.config import TrainConfig

    DEFAULTS = TrainConfig()  # noqa: N806 - the train options' defaults all come from the config: one place

    @app.command()
    @user_errors
    def train(
        data: str = typer.Option(None, help="Image folder, saved dataset or Hub dataset id "
                                 "(default: $SYNTHFACE_FACES or ../shared/data/faces)."),
        out: Path = typer.Option(Path(DEFAULTS.out), help="Run folder (checkpoints, grids, metrics)."),
        resolution: int = typer.Option(None, help="Power of two, 32..1024 (default 64, or the --init-from model's)."),
        kimg: float = typer.Option(DEFAULTS.kimg, help="Train until this many thousand images were shown."),
        max_minutes: float = typer.Option(None, help="Stop after this many minutes with a checkpoint and an export; "
                                          "--resume goes on (for a machine rented or lent by the hour)."),
        batch: int = typer.Option(DEFAULTS.batch, help="Global batch size (split over torchrun processes)."),
        resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its newest checkpoint."),
        seed: int = typer.Option(DEFAULTS.seed),
        crop: str = typer.Option(DEFAULTS.crop, help="auto, celeba, lfw, center or none."),
        fit: str = typer.Option(DEFAULTS.fit, help="Non-square images: crop or pad."),
        image_column: str = typer.Option(DEFAULTS.image_column, help="Image column of a Hugging Face dataset."),
        grayscale: bool = typer.Option(False, "--grayscale", help="Train a 1-channel generator."),
        max_images: int = typer.Option(None, help="Use only the first N images."),
        mirror: bool = typer.Option(DEFAULTS.mirror, help="Random x-flips of the training images."),
        channel_base: int = typer.Option(None, help=(
            "Width schedule: channels = min(base / res, max). With --init-from, a larger base widens the "
            "model without changing its output (training/widening.py).")),
        channel_max: int = typer.Option(None),
        z_dim: int = typer.Option(None),
        w_dim: int = typer.Option(None),
        mapping_layers: int = typer.Option(None, help="Mapping-network depth (default 8)."),
        init_from: str = typer.Option(None, help="Start from a trained generator (folder, run folder, Hub id or "
                                      "'bundled') instead of random weights: fine-tuning, or going on from "
                                      "an exported generator when the checkpoints are gone."),
        d_warmup_kimg: float = typer.Option(None, help="With --init-from: train only D for this many kimg first "
                                            "(default 100 when the model has no discriminator/, else 0)."),
        g_lr_rampup_kimg: float = typer.Option(None, help="With --init-from: after the warm-up, G's learning rate "
                                               "rises from 0 over this many kimg (default: as --d-warmup-kimg)."),
        g_lr: float = typer.Option(DEFAULTS.g_lr),
        d_lr: float = typer.Option(DEFAULTS.d_lr),
        ema_kimg: float = typer.Option(None, help="Half-life of G's weight average in kimg (default batch * 10 / 32)."),
        r1_gamma: float = typer.Option(None, help="R1 weight (default 0.0002 * res^2 / batch)."),
        pl_weight: float = typer.Option(DEFAULTS.pl_weight, help="Path-length regularisation weight (0 disables)."),
        style_mixing: float = typer.Option(DEFAULTS.style_mixing_prob, help="Style-mixing regularisation probability."),
        lecam_weight: float = typer.Option(DEFAULTS.lecam_weight, help="LeCam regularisation of D, for small "
                                           "datasets where ADA's p keeps rising (0: off). Kept as an option because "
                                           "it is part of how the bundled generator was made (0.3 for its last legs)."),
        augment: str = typer.Option(DEFAULTS.augment, help="ada (adaptive p), fixed (--augment-p) or none."),
        augment_p: float = typer.Option(DEFAULTS.augment_p),
        ada_target: float = typer.Option(DEFAULTS.ada_target),
        ada_kimg: float = typer.Option(DEFAULTS.ada_kimg, help="kimg for p to go 0 -> 1 at full pressure."),
        snapshot_kimg: float = typer.Option(DEFAULTS.snapshot_kimg, help="Checkpoint + sample grid every N kimg."),
        milestone_kimg: float = typer.Option(None, help="Also keep the generator every N kimg (default 100; "
                                                        "0: never), for FID-vs-kimg."),
        log_every: int = typer.Option(DEFAULTS.log_every, help="Append to metrics.jsonl every N steps."),
        fid_every_kimg: float = typer.Option(DEFAULTS.fid_every_kimg, help="Compute FID every N kimg (0: never)."),
        fid_samples: int = typer.Option(DEFAULTS.fid_samples),
        device: str = typer.Option(DEFAULTS.device, help="auto, cpu or cuda."),
        channels_last: bool = typer.Option(None, "--channels-last/--no-channels-last",
                                           help="Memory format (default: channels_last on CPU, not on GPU)."),
        precision: str = typer.Option(None, help="fp32 or bf16 autocast (default: bf16 where the device computes "
                                      "it natively: CUDA, CPUs with AVX512-BF16 or AMX; else fp32)."),
    ) -> None:
        """Train the style-based generator (also under `torchrun --nproc-per-node N`)."""
        from synthface.training.precision import PRECISIONS
        from synthface.training.trainer import train as run_training

        if augment not in ("ada", "fixed", "none"):
            raise SynthfaceError(f"--augment {augment!r}: use ada, fixed or none")
        if precision is not None and precision not in PRECISIONS:
            raise SynthfaceError(f"--precision {precision!r}: use {' or '.join(PRECISIONS)}")
        if not lecam_weight >= 0:
            raise SynthfaceError(f"--lecam-weight {lecam_weight:g}: give 0 (off) or a positive weight, e.g. 0.01")
        if ema_kimg is not None and not ema_kimg > 0:
            raise SynthfaceError(f"--ema-kimg {ema_kimg:g}: give a positive half-life in kimg, e.g. 10")
        if max_minutes is not None and not max_minutes > 0:
            raise SynthfaceError(f"--max-minutes {max_minutes:g}: give a positive number of minutes, or leave it out")
        options = dict(locals())  # the command's options by name: the config is built from them, once
        renamed = {"style_mixing": "style_mixing_prob"}
        fields = {field.name for field in dataclasses.fields(TrainConfig)}
        values = {renamed.get(name, name): value for name, value in options.items()
                  if renamed.get(name, name) in fields}
        config = TrainConfig(**{**values, "data": data or default_data_source(), "out": str(out),
                                "img_channels": 1 if grayscale else None})
        result = run_training(config, resume=resume)
        if result.out_of_time:
            typer.echo(f"--max-minutes {max_minutes:g} reached; the run is checkpointed: "
                       f"`synthface train --out {out} --resume --kimg {kimg:g}` goes on")
        typer.echo(f"trained to {result.images_seen / 1000:.1f} kimg; generator: {result.generator_dir}; "
                   f"samples: {result.run_dir / 'samples' / 'latest.png'}")

    @app.command()
    @user_errors
    def sample(
        model: str = typer.Option(None, help="Generator folder, run folder or Hub id (default: the bundled one)."),
        seeds: str = typer.Option("0-15", help="Seeds: 0-15 or 1,5,9."),
        psi: float = typer.Option(0.7, help="Truncation psi (1: no truncation)."),
        out: Path = typer.Option(Path("grid.png"), help="Output PNG."),
        columns: int = typer.Option(8),
        mix: str = typer.Option(None, help="Style-mixing grid SOURCE_SEEDS:STYLE_SEEDS, e.g. 0-4:10-14."),
        crossover: str = typer.Option("coarse", help="Styles the column face gives: coarse, middle, fine or "
                                        "a layer index N (layers N..end)."),
        noise_mode: str = typer.Option("const", help="const, random or none."),
        edit: str = typer.Option(None, help="ATTRIBUTE=AMOUNT, e.g. gender=+2 (towards faces read as female) or "
                                 "gender=-2: one row per seed, its face moved along the W direction that "
                                 "`synthface metrics --separability` found, in --columns steps up to AMOUNT "
                                 "spreads of the faces along it."),
    ) -> None:
        """Draw a grid of faces, a style-mixing grid with --mix, or attribute edits with --edit."""
        from synthface.generator.sampling import (
            edit_grid,
            load_generator,
            mixing_grid,
            seed_grid,
            style_band,
        )
        from synthface.generator.seeds import parse_seeds
        from synthface.pretrained import resolve_model_folder

        G = load_generator(model)
        if edit:
            from synthface.metrics.separability import Direction

            attribute, _, amount = edit.partition("=")
            try:
                value = float(amount)
            except ValueError:
                raise SynthfaceError(f"--edit {edit!r}: use ATTRIBUTE=AMOUNT, e.g. gender=+2") from None
            direction = Direction.load(resolve_model_folder(model, "generator"), attribute)
            image = edit_grid(G, parse_seeds(seeds), direction.vector, direction.spread, value,
                              columns=columns, psi=psi)
        elif mix:
            if ":" not in mix:
                raise SynthfaceError(f"--mix {mix!r}: use SOURCE_SEEDS:STYLE_SEEDS, e.g. 0-4:10-14")
            rows, cols = mix.split(":", 1)
            band = style_band(crossover, G.num_ws, G.img_resolution)
            image = mixing_grid(G, parse_seeds(rows), parse_seeds(cols), band,
                                psi=psi, noise_mode=noise_mode)
        else:
            image = seed_grid(G, parse_seeds(seeds), psi=psi, columns=columns, noise_mode=noise_mode)
        kind = "attribute edit" if edit else "style mixing" if mix else "seed grid"
        write_signed_grid(image, out, model, kind, mix or seeds, psi)
        typer.echo(f"wrote {out} (C2PA-signed as AI-generated)")

    @app.command()
    @user_errors
    def demo(
        out: Path = typer.Option(Path("runs/demo"), help="Run folder."),
        data: str = typer.Option(None, help="Training images (default: ../shared/data/faces)."),
        kimg: float = typer.Option(2.0),
    ) -> None:
        """Smoke test of training: a short run on the face photos, ending with a sample grid."""
        from synthface.training.config import TrainConfig
        from synthface.training.trainer import train as run_training

        source = data or default_data_source()
        if not Path(source).exists():
            raise SynthfaceError(f"no training photos at {source}: pass --data FOLDER or set SYNTHFACE_FACES")
        config = TrainConfig(data=source, out=str(out), resolution=32, kimg=kimg, batch=16, max_images=2000,
                             snapshot_kimg=1.0, log_every=5, grid_seeds=16)
        result = run_training(config, resume=(out / "checkpoints").is_dir())
        typer.echo(f"demo done: sample grid {result.run_dir / 'samples' / 'latest.png'}, "
                   f"generator {result.generator_dir}")
