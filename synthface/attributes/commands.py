"""`synthface train-attributes`: the perceived-presentation model personas are named by."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from synthface.errors import user_errors


@user_errors
def train_attributes_command(
    data: str = typer.Option(..., "--data", help="Photos filed under their people's names, LFW's layout "
                             "(First_Last/*.jpg); labels come from the first names."),
    out: Path = typer.Option(..., "--out", help="Run folder: checkpoints, then the model in OUT/attributes."),
    steps: int = typer.Option(3000, "--steps", help="Training steps."),
    batch: int = typer.Option(64, "--batch", help="Faces per step, half of each label (even)."),
    lr: float = typer.Option(2e-3, "--lr", help="Peak learning rate (warm-up, then cosine)."),
    target_accuracy: float = typer.Option(0.95, "--target-accuracy", help="Held-out balanced accuracy the "
                                          "confident predictions must reach; faces below it are 'uncertain'."),
    seed: int = typer.Option(0, "--seed", help="Seed of the initial weights and of every batch."),
    checkpoint_every: int = typer.Option(250, "--checkpoint-every", help="Steps between checkpoints."),
    max_images: int = typer.Option(None, "--max-images", help="Only the first N photos (for a quick try)."),
    workers: int = typer.Option(None, "--workers", help="Processes that find faces (default: all CPUs)."),
    resume: bool = typer.Option(False, "--resume", help="Continue --out from its newest checkpoint."),
) -> None:
    """Train the perceived gender presentation model (labels from first names, split by person)."""
    from synthface.attributes.training import TrainAttributesConfig, train_attribute_model

    config = TrainAttributesConfig(data=data, out=out, steps=steps, batch=batch, lr=lr, seed=seed,
                                   target_accuracy=target_accuracy, checkpoint_every=checkpoint_every,
                                   max_images=max_images, num_workers=workers)
    target = train_attribute_model(config, resume=resume)
    summary = json.loads((target / "evaluation.json").read_text())
    clean = summary["test"]["clean"]
    typer.echo(f"wrote {target}; held-out people: balanced accuracy {clean['balanced_accuracy']:.3f}, "
               f"{clean['confident_share']:.0%} confident")


def register(app: typer.Typer) -> None:
    app.command("train-attributes")(train_attributes_command)
