"""The `sabaq` command: run the platform and manage it from the shell.

Each area brings its own commands (JupyterHub's and nbgrader's apps are built the
same way, from subcommands): the entry-point group ``sabaq.cli`` names a function
per area that adds them (``sabaq.hub.cli``, ``sabaq.autograders.cli``,
``sabaq.lessons.cli``, ``sabaq.devtools.cli``, and ``sabaq.cli.basics`` here), so
this package imports nothing above ``sabaq``'s core.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import entry_points
from typing import Callable

from sabaq.cli.common import lang
from sabaq.errors import SabaqError
from sabaq.paths import with_venv_path

ENTRY_POINTS = "sabaq.cli"
AREA_ORDER = ("hub", "autograders", "lessons", "devtools", "basics")


class Commands:
    """The parser being built, handed to each area: groups of subcommands ("task",
    "grade" ...) are shared, so two areas can add to one group."""

    def __init__(self, parser: argparse.ArgumentParser):
        self.sub = parser.add_subparsers(dest="command", required=True)
        self.common = argparse.ArgumentParser(add_help=False)
        self.common.add_argument("--data", help="data directory (default ./sabaq-data or $SABAQ_DATA)")
        self.common.add_argument("--config", help="settings file (default <data>/sabaq.toml or $SABAQ_CONFIG)")
        self.running = argparse.ArgumentParser(add_help=False)  # commands that drive a running sabaq
        self.running.add_argument("--url", help="sabaq's address (default: from the settings)")
        self.running.add_argument("--admin-password", help="default: the demo logins in the data directory")
        self._groups: dict[str, argparse._SubParsersAction] = {}
        self.passthrough: dict[tuple[str, str], Callable[[list[str]], int]] = {}

    def command(self, name: str, help: str, func, *, common: bool = True, running: bool = False):
        """A top-level command (``sabaq up``)."""
        parents = [self.common] * common + [self.running] * running
        p = self.sub.add_parser(name, parents=parents, help=help)
        p.set_defaults(func=func)
        return p

    def group(self, name: str, help: str) -> argparse._SubParsersAction:
        """The subcommands of ``sabaq NAME``, made by the first area that asks."""
        if name not in self._groups:
            self._groups[name] = self.sub.add_parser(name, help=help).add_subparsers(dest="action", required=True)
        return self._groups[name]

    def action(self, group: str, group_help: str, name: str, help: str, func, *, common: bool = True,
               running: bool = False):
        """``sabaq GROUP NAME``."""
        parents = [self.common] * common + [self.running] * running
        p = self.group(group, group_help).add_parser(name, parents=parents, help=help)
        p.set_defaults(func=func)
        return p


def _areas():
    found = {ep.name: ep for ep in entry_points(group=ENTRY_POINTS)}
    return [found[name] for name in sorted(found, key=lambda n: (AREA_ORDER.index(n) if n in AREA_ORDER
                                                                 else len(AREA_ORDER), n))]


def build_parser() -> tuple[argparse.ArgumentParser, Commands]:
    parser = argparse.ArgumentParser(prog="sabaq", description="Jupyter teaching and assessment platform")
    commands = Commands(parser)
    for area in _areas():
        area.load()(commands)
    return parser, commands


def main(argv: list[str] | None = None) -> int:
    # nbgrader and JupyterHub call tools of sabaq's environment by name (`alembic` ...)
    os.environ["PATH"] = with_venv_path(os.environ.get("PATH", ""))
    command_line = argv is None
    argv = sys.argv[1:] if argv is None else argv
    parser, commands = build_parser()
    own_options = commands.passthrough.get(tuple(argv[:2]))
    if own_options is not None:  # a command with its own options (sabaq lesson check)
        return own_options(argv[2:])
    args = parser.parse_args(argv)
    args.command_line = command_line
    try:
        return args.func(args) or 0
    except SabaqError as e:  # settings, sandbox, batch, package problems ...
        print(f"sabaq: {e.translated(lang())}", file=sys.stderr)
        return 2
