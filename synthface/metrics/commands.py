"""`synthface metrics`: FID and KID of a generator against a real image set.

Heavy imports (torch, scipy, the Inception network) happen inside the command so
`synthface --help` stays fast.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from synthface.errors import SynthfaceError, user_errors


def _format_report(result: dict, model: str, data: str) -> str:
    return "\n".join(
        [
            f"model      {model}",
            f"data       {data} ({result['num_reference']} images, {result['resolution']} px)",
            f"samples    {result['num_samples']} generated, psi {result['psi']}, seeds from {result['seed']}",
            f"FID        {result['fid']:.3f}",
            f"KID        {result['kid_mean']:.5f} +/- {result['kid_std']:.5f}"
            f"  (x1000: {1000 * result['kid_mean']:.2f} +/- {1000 * result['kid_std']:.2f})",
            f"time       {result['seconds']:.0f} s",
        ]
    )


def register(app: typer.Typer) -> None:
    """Add the `metrics` command to the CLI."""

    @app.command("metrics")
    @user_errors
    def metrics(
        model: str = typer.Option(None, "--model", help="Generator folder, run folder or Hub model id "
                                  "(default: the bundled generator)."),
        data: str = typer.Option(..., "--data", help="Real images: folder, dataset folder or Hub dataset."),
        num: int = typer.Option(10000, "--num", min=2, help="Generated samples (10000 = the usual FID-10k)."),
        psi: float = typer.Option(1.0, "--psi", help="Truncation psi (1.0 = none; lower scores worse)."),
        resolution: int | None = typer.Option(
            None, "--resolution", help="Resolution to prepare the real images at (default: the model's)."
        ),
        crop: str = typer.Option("auto", "--crop", help="Real-image crop: auto, celeba, lfw, center, none."),
        batch_size: int = typer.Option(32, "--batch-size", min=1, help="Images per batch."),
        device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
        seed: int = typer.Option(0, "--seed", min=0, help="First seed; samples use seeds seed..seed+num-1."),
        kid_subsets: int = typer.Option(100, "--kid-subsets", min=1, help="Subsets KID averages over."),
        num_reference: int | None = typer.Option(
            None, "--num-reference", min=2,
            help="Use a random (seeded) subset of this many real images (default: all). Saves CPU time; "
            "FID from fewer samples is biased upwards, so compare runs only at equal counts.",
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON instead of a table."),
        out: Path | None = typer.Option(None, "--out", help="Also write the result as JSON to this file."),
        cache_dir: Path | None = typer.Option(
            None, "--cache-dir", help="Cache folder for prepared images and reference statistics."
        ),
    ) -> None:
        """FID and KID of a generator's samples against real images (TF-Inception, as in the papers)."""
        from synthface.data import prepare_images
        from synthface.generator.sampling import load_generator
        from synthface.io_utils import write_text_atomic
        from synthface.metrics.evaluate import compute_generator_metrics
        from synthface.metrics.inception import resolve_device
        from synthface.metrics.reference import random_subset, reference_stats

        began = time.perf_counter()
        target = resolve_device(device)
        if model is None:
            from synthface.pretrained import default_generator_spec

            model = default_generator_spec()
        G = load_generator(model, str(target))
        size = resolution or G.img_resolution
        prepared = prepare_images(
            data,
            resolution=size,
            crop=crop,
            channels=G.img_channels,
            cache_dir=None if cache_dir is None else cache_dir / "prepared",
        )
        if len(prepared.images) < 2:
            raise SynthfaceError(f"{data}: need at least 2 usable images for reference statistics")
        if num_reference is not None and num_reference < len(prepared.images):
            prepared = random_subset(prepared, num_reference, seed)
        reference = reference_stats(
            prepared,
            device=target,
            batch_size=batch_size,
            cache_dir=None if cache_dir is None else cache_dir / "fid-reference",
        )
        result = compute_generator_metrics(
            G, reference, num_samples=num, psi=psi, batch_size=batch_size, device=target, seed=seed,
            kid_subsets=kid_subsets,
        )
        result.update(model=model, data=data, resolution=size, device=str(target))
        result["seconds"] = round(time.perf_counter() - began, 2)  # including data and reference work
        text = json.dumps(result, indent=2)
        if out is not None:
            write_text_atomic(out, text + "\n")
        typer.echo(text if as_json else _format_report(result, model, data))
