"""The `synthface` command line.

Each concern registers its own commands from a small module (``register(app)``), so
this file stays a table of contents. Command modules keep heavy imports (torch,
c2pa, datasets) inside the command bodies: `synthface detect one.png` must start
fast, and `synthface --help` must not pay for torch.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="synthface",
    help="Synthetic faces that are honest about what they are.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)



def _print_version(value: bool) -> None:
    if value:
        from synthface import __version__

        typer.echo(f"synthface {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print synthface's version and exit."),
) -> None:
    """Synthetic faces that are honest about what they are."""


# Modules that define `register(app: typer.Typer) -> None`.
COMMAND_MODULES: tuple[str, ...] = (
    "synthface.training.commands",
    "synthface.metrics.commands",
    "synthface.provenance.commands",
    "synthface.hub.commands",
    "synthface.data.commands",
    "synthface.personas.commands",
    "synthface.attributes.commands",
    "detectors.commands",
)

for _module_name in COMMAND_MODULES:
    importlib.import_module(_module_name).register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
