"""The entry point: parse, run the command's coroutine, turn errors into one line and a code."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence

from ..errors import PixVerseError
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, UsageError, describe, exit_code_for
from .parser import build_parser


@contextlib.contextmanager
def _request_log(enabled: bool) -> Iterator[None]:
    """With ``--debug``: the SDK's DEBUG log (one line per request and retry) on stderr."""
    if not enabled:
        yield
        return
    logger = logging.getLogger("pixverse_async")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)


def _silence_stdout() -> None:
    """Point stdout at devnull so the interpreter's final flush does not fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``pixverse`` with ``argv`` (default: ``sys.argv[1:]``); return the exit code.

    0 success; 1 a job failed or ended unknown, or an API, network or file error; 2 a usage
    or validation error; 130 interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error argparse reported
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    debug = bool(getattr(args, "debug", False))
    with _request_log(debug):
        try:
            code: int = asyncio.run(args.run(args))
        except KeyboardInterrupt:
            hint = getattr(args, "interrupt_hint", None)
            print("pixverse: interrupted" + (f"; {hint}" if hint else ""), file=sys.stderr)
            return EXIT_INTERRUPTED
        except BrokenPipeError:  # e.g. `pixverse speakers | head`: stop quietly
            _silence_stdout()
            return EXIT_FAILED
        except Exception as exc:
            if debug and not isinstance(exc, (PixVerseError, UsageError, OSError)):
                traceback.print_exc()
            print(f"pixverse: error: {describe(exc)}", file=sys.stderr)
            return exit_code_for(exc)
    return code
