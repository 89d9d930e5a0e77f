"""`synthface prepare-data`: build (or check) the prepared-image cache ahead of training.

Preparing once up front means a training run, FID statistics or the detector start
in seconds, and unreadable images are reported before anything long begins.
"""

from __future__ import annotations

from pathlib import Path

import typer

from synthface.errors import user_errors


@user_errors
def prepare_data(
    source: str = typer.Argument(..., help="Image folder, saved dataset folder or Hugging Face dataset id."),
    resolution: int = typer.Option(64, "--resolution", "-r", help="Output side in pixels."),
    crop: str = typer.Option("auto", "--crop", help="auto, celeba, lfw, center or none."),
    channels: int = typer.Option(3, "--channels", help="3 (RGB) or 1 (grayscale)."),
    fit: str = typer.Option("crop", "--fit", help="How non-square regions become square: crop or pad."),
    image_column: str = typer.Option("image", "--image-column", help="Image column of a dataset source."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", help="Default: $SYNTHFACE_CACHE/prepared."),
    max_images: int | None = typer.Option(None, "--max-images", help="Only the first N images (sorted)."),
    workers: int | None = typer.Option(None, "--workers", help="Decoding processes (default: all CPUs)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Neither read nor write the cache."),
) -> None:
    """Decode, crop and resize SOURCE into the prepared-image cache; list what was skipped."""
    from synthface.data.prepare import prepare_images

    prep = prepare_images(
        source, resolution, crop=crop, channels=channels, fit=fit, image_column=image_column,
        cache_dir=cache_dir, max_images=max_images, use_cache=not no_cache, num_workers=workers,
    )
    for name, reason in prep.skipped:
        typer.echo(f"skipped {name}: {reason}", err=True)
    shape = "x".join(str(side) for side in prep.images.shape)
    where = f"cached at {prep.cache_path}" if prep.cache_path else "not cached"
    origin = " (from cache)" if prep.from_cache else ""
    typer.echo(
        f"{len(prep)} images [{shape}] uint8, {len(prep.skipped)} skipped, key {prep.cache_key}, "
        f"{prep.seconds:.1f} s{origin}; {where}"
    )


def register(app: typer.Typer) -> None:
    """Add `synthface prepare-data` to the CLI."""
    app.command("prepare-data")(prepare_data)
