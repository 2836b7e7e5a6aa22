"""The argument parser of the ``pixverse`` command."""

from __future__ import annotations

import argparse
import difflib
import textwrap
from collections.abc import Sequence
from typing import Any, NoReturn

from .._version import __version__
from ..constants import API_KEY_ENV, BASE_URL_ENV, POLL_INTERVAL_ENV
from . import (
    cmd_batch,
    cmd_catalog,
    cmd_demo,
    cmd_emulator,
    cmd_generate,
    cmd_journal,
    cmd_upload,
    cmd_videos,
    cmd_webhook,
)
from .arg_types import positive_float
from .errors import EXIT_CODES, EXIT_USAGE

EPILOG = (
    "exit codes:\n"
    + "".join(
        textwrap.fill(meaning, 92, initial_indent=f"  {code:<4} ", subsequent_indent=" " * 7) + "\n"
        for code, meaning in EXIT_CODES
    )
    + """
examples:
  pixverse demo
  pixverse --emulator generate text --prompt "a red kite over the sea" --download out/
  pixverse generate image --img-id cat.png --prompt "the cat yawns" --wait
  pixverse batch jobs.jsonl --concurrency 16 --out videos/
  PIXVERSE_WEBHOOK_SECRET=... pixverse webhook listen --port 8080
  pixverse batch jobs.jsonl --journal postgresql://db/jobs --batch nightly   # on each machine
  pixverse journal status --journal postgresql://db/jobs --batch nightly
"""
)


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and whose help has no reST markup.

    Subcommand parsers are made from the same class (argparse uses the parent's class).
    """

    def error(self, message: str) -> NoReturn:
        """One line, like every other error of the command, then exit code 2."""
        line = " ".join(f"{message} (see {self.prog} --help)".split())
        self.exit(EXIT_USAGE, f"{self.prog}: error: {line}\n")

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        """As argparse's, except that a command (a parser without subcommands) reports the
        options it does not know itself, pointing at its own help, with a close match."""
        parsed, extras = super().parse_known_args(args, namespace)
        if extras and not any(isinstance(a, argparse._SubParsersAction) for a in self._actions):
            self.error(self._unrecognized(extras))
        return parsed, extras

    def _unrecognized(self, extras: Sequence[str]) -> str:
        message = f"unrecognized arguments: {' '.join(extras)}"
        for extra in extras:
            if extra.startswith("--"):
                close = difflib.get_close_matches(
                    extra.split("=", 1)[0], self._option_string_actions, 1
                )
                if close:
                    return f"{message}; did you mean {close[0]}?"
        return message

    def format_help(self) -> str:
        """The help text, with the docstrings' ``literal`` markup shown as plain text."""
        return super().format_help().replace("``", "")


def global_options(*, in_subcommand: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after its name.

    In subcommands they default to "not given" so that a value given before the command
    name is not overwritten.
    """
    parser = argparse.ArgumentParser(add_help=False)

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if in_subcommand else value

    group = parser.add_argument_group("global options")
    group.add_argument(
        "--api-key", metavar="KEY", default=default(None), help=f"API key (default: ${API_KEY_ENV})"
    )
    group.add_argument(
        "--base-url",
        metavar="URL",
        default=default(None),
        help=f"API base URL (default: ${BASE_URL_ENV}, else the PixVerse API)",
    )
    group.add_argument(
        "--emulator",
        action="store_true",
        default=default(False),
        help="run against an emulator started for this command alone (any key; nothing is "
        "charged; ids it prints do not exist for the next command)",
    )
    group.add_argument(
        "--poll-interval",
        metavar="SECONDS",
        type=positive_float,
        default=default(None),
        help=f"seconds between status checks (default: ${POLL_INTERVAL_ENV}, else 5 s, then 2 s "
        "growing to 15 s)",
    )
    group.add_argument(
        "--no-resend",
        dest="resend_ambiguous",
        action="store_false",
        default=default(True),
        help="never resend a submit whose outcome is unknown (by default it is resent under "
        "its own trace id, which PixVerse answers with the first result: no second video)",
    )
    group.add_argument(
        "--json",
        action="store_true",
        default=default(False),
        help="print JSON (one object per line) instead of tables",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="log every request (method, path, trace id, status) to stderr",
    )
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line."""
    parser = CommandParser(
        prog="pixverse",
        description="PixVerse video generation from the command line (pixverse-async).",
        parents=[global_options(in_subcommand=False)],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pixverse-async {__version__}")
    commands: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", required=True
    )  # type: ignore[assignment]  # of CommandParser; the commands need only ArgumentParser
    common = global_options(in_subcommand=True)
    cmd_demo.register(commands, common)
    cmd_generate.register(commands, common)
    cmd_upload.register(commands, common)
    cmd_videos.register(commands, common)
    cmd_batch.register(commands, common)
    cmd_journal.register(commands, common)
    cmd_catalog.register(commands, common)
    cmd_emulator.register(commands)
    cmd_webhook.register(commands, common)
    return parser
