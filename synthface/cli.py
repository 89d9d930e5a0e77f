"""The `synthface` command line.

Each concern registers its own commands from a small module (``register(app)``), so
this file stays a table of contents. Command modules keep heavy imports (torch,
c2pa, datasets) inside the command bodies: `synthface detect one.png` must start
fast, and `synthface --help` must not pay for torch.
"""

from __future__ import annotations

import typer

# The command line's composition point (`synthface.api` is the Python one): the only places where
# synthface uses the `detectors` package.
from detectors import commands as detector_commands
from synthface.attributes import commands as attribute_commands
from synthface.data import commands as data_commands
from synthface.hub import commands as hub_commands
from synthface.metrics import commands as metrics_commands
from synthface.personas import commands as persona_commands
from synthface.provenance import commands as provenance_commands
from synthface.training import commands as training_commands

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


# Each command module defines `register(app: typer.Typer) -> None`.

COMMAND_MODULES = (training_commands, metrics_commands, provenance_commands, hub_commands, data_commands,
                   persona_commands, attribute_commands, detector_commands)
for _module in COMMAND_MODULES:
    _module.register(app)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
