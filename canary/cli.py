"""The ``canary`` command line: thin commands that parse flags and call one function each.

Who calls this: users, the container's entry point and ``make test`` (which checks ``canary --help``
from a clean install, standing in for the Docker image that cannot be built on CI machines).
"""

from __future__ import annotations

import platform

import click

from canary import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """canary: progressive delivery for Kubernetes Deployments.

    Declare a Canary for a Deployment; the controller shifts traffic to each new revision step by
    step, analyses it, and promotes or rolls it back.
    """


@main.command()
def version() -> None:
    """Print the version of canary and of the Python it runs on."""
    click.echo(f"canary {__version__} (python {platform.python_version()})")
