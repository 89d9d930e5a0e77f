"""`synthface generate-personas` and `synthface build-guard`.

Heavy imports (torch, datasets, c2pa) stay inside the command bodies.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from synthface.errors import SynthfaceError, user_errors


@user_errors
def generate_personas_command(
    model: str = typer.Option(None, "--model", help="Generator folder, training run folder or Hub id USER/NAME "
                              "(default: the generator bundled with synthface)."),
    out: Path = typer.Option(..., "--out", help="Dataset folder to write (Hub layout)."),
    count: int = typer.Option(None, "--count", help="Number of personas (seeds seed-start ...)."),
    psi: float = typer.Option(0.7, "--psi", help="Truncation psi: lower is more typical, less diverse."),
    seed_start: int = typer.Option(0, "--seed-start", help="First seed."),
    variants: int = typer.Option(1, "--variants", help="Images per persona (same face, varied fine detail)."),
    mix: str = typer.Option(None, "--mix", help="SOURCE_SEEDS:STYLE_SEEDS, e.g. 0-9:100-102 (every pair)."),
    crossover: str = typer.Option("middle", "--crossover", help="coarse, middle, fine or a layer index."),
    workers: int = typer.Option(None, "--workers", help="Signing processes (default: all CPUs; 0: inline)."),
    shard_size: int = typer.Option(1000, "--shard-size", help="Personas per parquet shard."),
    batch_size: int = typer.Option(32, "--batch-size", help="Images per synthesis batch."),
    resume: bool = typer.Option(False, "--resume", help="Keep finished shards of an interrupted run."),
    sidecar: bool = typer.Option(False, "--sidecar", help="Also write manifests/IMAGE_ID.c2pa for each image."),
    guard: bool = typer.Option(True, "--guard/--no-guard", help="Run the memorisation guard (default on)."),
    rank: int = typer.Option(None, "--rank", help="This machine's rank (default: $RANK, as torchrun sets)."),
    world_size: int = typer.Option(None, "--world-size", help="Number of ranks (default: $WORLD_SIZE)."),
    cert: Path = typer.Option(None, "--cert", help="Signing certificate chain (PEM)."),
    key: Path = typer.Option(None, "--key", help="Signing private key (PEM)."),
    training_data: str = typer.Option("celeba,lfw", "--training-data", help="What the model was trained on."),
    name: str = typer.Option(None, "--name", help="Pretty name for the dataset card."),
    attributes: str = typer.Option(None, "--attributes", help="Attribute model that reads each face, so names and "
                                   "pronouns fit it (default: the one bundled with synthface)."),
    balance: str = typer.Option(None, "--balance", help="'gender': keep seeds so that half the faces read as "
                                "female and half as male."),
    filter_spec: str = typer.Option(None, "--filter", help="gender=female, gender=male or gender=uncertain: keep "
                                    "only seeds whose face reads so."),
    ai_training: str = typer.Option("notAllowed", "--ai-training", help="allowed, notAllowed or constrained: what "
                                    "every manifest's c2pa.training-mining assertion and the dataset card say about "
                                    "using these images for AI training."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON report instead of a summary."),
) -> None:
    """Generate a persona dataset: signed, watermarked faces with names, in the Hub's dataset layout."""
    from synthface.personas.pipeline import GenerateOptions, generate_personas, report_json

    options = GenerateOptions(
        model=model, out=out, count=count, psi=psi, seed_start=seed_start, variants=variants, mix=mix,
        crossover=crossover, workers=workers, shard_size=shard_size, batch_size=batch_size, resume=resume,
        sidecar=sidecar, guard=guard, rank=rank, world_size=world_size, cert=cert, key=key,
        training_data=tuple(part.strip() for part in training_data.split(",") if part.strip()),
        pretty_name=name, attributes=attributes, balance=balance, filter=filter_spec, ai_training=ai_training,
    )
    report = generate_personas(options)
    if as_json:
        typer.echo(report_json(report))
        return
    rate = report.personas / report.seconds if report.seconds else 0.0
    typer.echo(
        f"rank {report.rank}/{report.world_size}: wrote {len(report.shards_written)} shard(s), skipped "
        f"{len(report.shards_skipped)}; {report.personas} personas, {report.images} images "
        f"({rate:.1f} personas/s); guard dropped {report.dropped_personas} persona(s)"
    )
    if report.card_written:
        typer.echo(f"dataset complete: {out / 'README.md'}; publish with `synthface publish {out} --repo USER/NAME`")
    else:
        typer.echo("waiting for other ranks' shards before the card is written", err=True)


@user_errors
def build_guard_command(
    model: Path = typer.Option(..., "--model", help="Local generator folder (the guard is saved into it)."),
    data: str = typer.Option(..., "--data", help="The model's training data (folder, dataset or Hub id)."),
    pca_dim: int = typer.Option(64, "--pca-dim", help="Dimensions kept by PCA."),
    quantile: float = typer.Option(0.01, "--quantile", help="Quantile of real-to-real distances used as line."),
    feature: str = typer.Option("pixels", "--feature", help="Feature space: pixels (fast, catches near-copies) "
                                "or inception (perceptual, ~30 ms/image on a CPU core)."),
    input_size: int = typer.Option(None, "--input-size", help="pixels: thumbnail side (default 16); "
                                   "inception: input size 75..299 (default 107; 299 = FID)."),
    crop: str = typer.Option("auto", "--crop", help="Crop preset used when training (see prepare)."),
    max_images: int = typer.Option(None, "--max-images", help="Only the first N training images."),
) -> None:
    """Build the memorisation guard of a generator from its training images."""
    from synthface.data import prepare_images
    from synthface.guard import build_guard, guard_path, model_folder, read_model_config

    config = read_model_config(model)
    prepared = prepare_images(data, resolution=int(config.get("resolution", 64)), crop=crop,
                              channels=int(config.get("img_channels", 3)), max_images=max_images)
    if prepared.skipped:
        print(f"warning: {len(prepared.skipped)} unreadable training image(s) skipped", file=sys.stderr)
    guard = build_guard(prepared.images, pca_dim=pca_dim, quantile=quantile, feature=feature,
                        input_size=input_size, source=str(data))
    path = guard.save(guard_path(model_folder(model)))
    typer.echo(f"wrote {path}: {len(guard.bank)} training images, {feature} features, {guard.bank.shape[1]} dims, "
               f"threshold {guard.threshold:.4g} ({quantile:g} quantile of real-to-real distances)")
    typer.echo(json.dumps(guard.info, sort_keys=True))


def register(app: typer.Typer) -> None:
    app.command("generate-personas")(generate_personas_command)
    app.command("build-guard")(build_guard_command)


__all__ = ["SynthfaceError", "register"]
