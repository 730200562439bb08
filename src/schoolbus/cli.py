"""The ``schoolbus`` command line: a thin translation of arguments into pipeline calls.

Every command catches ``SchoolbusError`` and prints its message with the error's exit status, so a
user never sees a traceback for bad input.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import TypeVar

import typer
from rich.console import Console

from schoolbus.errors import SchoolbusError

app = typer.Typer(
    help="School-transport route planning over OpenStreetMap roads.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
network_app = typer.Typer(help="Build and inspect road networks.", no_args_is_help=True)
app.add_typer(network_app, name="network")

console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., object])


def reports_errors(command: F) -> F:
    """Turn a ``SchoolbusError`` raised by ``command`` into a message and its exit status."""

    @functools.wraps(command)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            return command(*args, **kwargs)
        except SchoolbusError as error:
            err_console.print(f"[bold red]error[/] ({error.code}): {error}", highlight=False)
            raise typer.Exit(error.exit_status) from None

    return wrapper  # type: ignore[return-value]


# ---- commands ------------------------------------------------------------------------------------


def main() -> None:
    """Console-script entry point."""
    app(prog_name="schoolbus")


if __name__ == "__main__":
    sys.exit(main())
