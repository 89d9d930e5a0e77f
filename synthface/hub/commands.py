"""`synthface publish` puts a persona dataset, generator or detector folder on the Hub; `synthface card`
writes a model folder's card before that."""

from __future__ import annotations

from pathlib import Path

import typer

from synthface.errors import user_errors

REPO_TYPE_CHOICES = ("auto", "model", "dataset")


@user_errors
def publish(
    folder: Path = typer.Argument(..., help="Dataset folder (data/*.parquet + README.md) or model folder."),
    repo: str = typer.Option(..., "--repo", help="Target repo, USER/NAME; created if missing."),
    private: bool = typer.Option(False, "--private", help="Create the repo as private."),
    token: str | None = typer.Option(
        None, "--token", help="Hub token; default: HF_TOKEN, then the stored `hf auth login` token."
    ),
    repo_type: str = typer.Option("auto", "--repo-type", help="auto, model or dataset."),
    message: str | None = typer.Option(None, "--message", "-m", help="Commit message."),
) -> None:
    """Publish FOLDER to the Hugging Face Hub (or the server in HF_ENDPOINT)."""
    from synthface.errors import SynthfaceError
    from synthface.hub.publish import DEFAULT_COMMIT_MESSAGE, publish_folder

    if repo_type not in REPO_TYPE_CHOICES:
        raise SynthfaceError(f"--repo-type {repo_type!r} is not one of {', '.join(REPO_TYPE_CHOICES)}")
    url = publish_folder(
        folder,
        repo,
        repo_type=None if repo_type == "auto" else repo_type,  # type: ignore[arg-type]
        private=private,
        token=token,
        commit_message=message or DEFAULT_COMMIT_MESSAGE,
    )
    typer.echo(url)


@user_errors
def card(
    folder: Path = typer.Argument(..., help="Generator or detector folder (config.json + model.safetensors)."),
    repo: str | None = typer.Option(None, "--repo", help="Repo id USER/NAME to show in the usage examples."),
) -> None:
    """(Re)write FOLDER/README.md, the model card, from config.json, metrics.json and the guard."""
    from synthface.hub.publish import check_model_folder, write_model_card

    typer.echo(f"wrote {write_model_card(folder, check_model_folder(folder), repo)}")


def register(app: typer.Typer) -> None:
    """Add `synthface publish` and `synthface card` to the CLI."""
    app.command("publish")(publish)
    app.command("card")(card)
