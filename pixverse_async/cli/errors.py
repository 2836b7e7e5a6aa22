"""Exit codes, and the one line the command prints for an error.

Exit codes: ``0`` success; ``1`` a job failed or ended unknown, or the API, the network or
the file system failed; ``2`` a usage or validation error (nothing was sent); ``130``
interrupted (Ctrl-C).
"""

from __future__ import annotations

from ..errors import PixVerseError, ValidationError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A command line that cannot run as given (exit code 2)."""


def exit_code_for(exc: BaseException) -> int:
    """The exit code for an error that ended a command."""
    if isinstance(exc, (UsageError, ValidationError)):
        return EXIT_USAGE
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_FAILED


def describe(exc: BaseException) -> str:
    """One line naming the error's class and saying what happened.

    API errors read ``AuthenticationError: ErrCode 10003 (HTTP 401): ... [trace_id=...]``.
    """
    if isinstance(exc, UsageError):
        text = str(exc)
    elif isinstance(exc, (PixVerseError, OSError)):
        text = f"{type(exc).__name__}: {exc}"
    else:
        text = f"internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)"
    return " ".join(text.split())
