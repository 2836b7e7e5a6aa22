"""MkDocs hook: the CLI reference page is written from ``pixverse``'s own argument parser.

The page ``cli.md`` holds the marker ``<!-- cli-reference -->``; this hook replaces it with the
exit-code table and every command's ``--help``, so the page cannot drift from the command.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

from pixverse_async.cli.errors import EXIT_CODES
from pixverse_async.cli.parser import build_parser

MARKER = "<!-- cli-reference -->"


def _commands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                yield from _commands(child)


def cli_reference() -> str:
    """The exit codes as a table, then one section per command with its help."""
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: the same page everywhere
    lines = ["## Exit codes", "", "| code | when |", "|---|---|"]
    lines += [f"| {code} | {meaning} |" for code, meaning in EXIT_CODES]
    for parser in _commands(build_parser()):
        lines += ["", f"## `{parser.prog}`", "", "```text", parser.format_help().rstrip(), "```"]
    return "\n".join(lines) + "\n"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if page.file.src_uri == "cli.md":
        return markdown.replace(MARKER, cli_reference())
    return markdown
