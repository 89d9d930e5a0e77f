"""`synthface metrics`: FID and KID of a generator against a real image set, and (`--separability`)
the linear separability of its latent spaces by perceived gender presentation.

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
        data: str = typer.Option(None, "--data", help="Real images for FID/KID: folder, dataset folder or Hub "
                                 "dataset (needed unless --separability)."),
        num: int = typer.Option(None, "--num", min=2, help="Generated samples (default 10000, the usual FID-10k; "
                                "4000 with --separability)."),
        separability: bool = typer.Option(False, "--separability", help="Linear separability of Z and W by "
                                          "perceived gender presentation, and the W edit direction; written into "
                                          "a local model folder (metrics.json, card, "
                                          "attribute_directions.safetensors) for `sample --edit`."),
        attributes: str = typer.Option(None, "--attributes", help="Attribute model for --separability (default: "
                                       "the bundled one)."),
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
        if separability:
            _separability(model, num or 4000, seed, batch_size, attributes, as_json, out)
            if data is None:
                return
        if data is None:
            raise SynthfaceError("pass --data REAL_IMAGES for FID/KID (or --separability)")
        num = num or 10000
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


# What --separability adds to a model's metrics.json (and so to its card); the rest is printed or --out.
RECORDED = ("separability_gender_z", "separability_gender_w", "edit_male_read_to_female", "edit_female_read_to_male")


def _separability(model: str | None, num: int, seed: int, batch_size: int, attributes: str | None,
                  as_json: bool, out: Path | None) -> None:
    """Measure separability and the edit direction; record them in a local generator folder."""
    import os

    from synthface.attributes.model import load_attribute_model
    from synthface.generator.sampling import load_generator
    from synthface.io_utils import write_text_atomic
    from synthface.metrics.separability import edit_effect, generate_and_read
    from synthface.metrics.separability import separability as measure
    from synthface.pretrained import resolve_model_folder

    folder = resolve_model_folder(model, "generator")
    G = load_generator(folder)
    reader = load_attribute_model(attributes)
    z, w, p_female = generate_and_read(G, reader, num, seed, batch_size)
    result, direction = measure(z, w, p_female)
    result.update(edit_effect(G, reader, direction, num=min(200, num), seed=seed + num))
    text = json.dumps(result, indent=2)
    if out is not None:
        write_text_atomic(out, text + "\n")
    local = model is None or Path(model).expanduser().is_dir()
    if local and os.access(folder, os.W_OK):
        from synthface.hub.publish import write_model_card

        metrics_file = folder / "metrics.json"
        metrics = json.loads(metrics_file.read_text(encoding="utf-8")) if metrics_file.is_file() else {}
        metrics.update({key: round(result[key], 4) for key in RECORDED if isinstance(result.get(key), float)})
        write_text_atomic(metrics_file, json.dumps(metrics, indent=2) + "\n")
        direction.save(folder)
        write_model_card(folder, json.loads((folder / "config.json").read_text(encoding="utf-8")))
        where = f"recorded in {folder} (metrics.json, README.md, attribute_directions.safetensors)"
    else:
        where = "not recorded: the model is not a writable local folder"
    if as_json:
        typer.echo(text)
        return
    typer.echo(f"separability (H(Y|X), nats; lower is more linear) over {result['faces_used']} confident faces: "
               f"Z {result['separability_gender_z']:.3f}, W {result['separability_gender_w']:.3f}")
    towards, away = result["edit_male_read_to_female"], result["edit_female_read_to_male"]
    typer.echo(f"W edit of 2 spreads: {towards if towards is None else f'{towards:.0%}'} of male-read faces read "
               f"as female after it, {away if away is None else f'{away:.0%}'} of female-read faces as male "
               f"after the opposite move; {where}")
