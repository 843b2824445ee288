"""The ``canary`` command line answers --help and version (the installed script is checked by
``make package-check`` from a clean venv)."""

from pathlib import Path

import yaml
from click.testing import CliRunner

from canary import __version__
from canary.cli import main

DEPLOYMENT = Path(__file__).resolve().parents[2] / "deploy" / "deployment.yaml"


def test_help_describes_the_tool() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "progressive delivery" in result.output
    assert "version" in result.output


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(main, ["version"])
    assert result.exit_code == 0
    assert result.output.startswith(f"canary {__version__} ")


def test_unknown_command_fails_with_usage() -> None:
    result = CliRunner().invoke(main, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command" in result.output


def test_every_flag_the_deployment_passes_to_canary_run_exists() -> None:
    deployment = yaml.safe_load(DEPLOYMENT.read_text())
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[0] == "run"
    result = CliRunner().invoke(main, ["run", "--help"])
    assert result.exit_code == 0
    for arg in args[1:]:
        assert arg.split("=")[0] in result.output, arg
