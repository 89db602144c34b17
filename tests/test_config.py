"""Settings table ↔ README ↔ CLI stay in step; the CLI is documented."""
from __future__ import annotations

from click.testing import CliRunner

from immich_lite.cli import cli
from immich_lite.config import SETTINGS, Settings
from tests.conftest import REPO


def test_every_setting_is_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    for s in SETTINGS:
        assert f"`{s.flag}` | `{s.env}` | `{s.default}` | {s.help} |" in readme, s.name


def test_every_setting_is_a_serve_flag() -> None:
    out = CliRunner().invoke(cli, ["serve", "--help"]).output
    for s in SETTINGS:
        assert s.flag in out and s.env in out


def test_every_command_has_help() -> None:
    for name, command in cli.commands.items():
        assert command.help, name
        assert CliRunner().invoke(cli, [name, "--help"]).exit_code == 0


def test_environment_then_flags_override_defaults() -> None:
    s = Settings.load({"port": 9000}, environ={"IMMICH_LITE_PORT": "8000", "IMMICH_LITE_WORKERS": "5"})
    assert (s.port, s.workers) == (9000, 5)
    assert Settings.load(environ={}).port == 2283
