"""Exit codes, and the one line the command prints for an error.

:data:`EXIT_CODES` is the one table of exit codes: the help's epilog and the CLI reference
print it, and every command returns one of its codes.
"""

from __future__ import annotations

from ..errors import PixVerseError, ValidationError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

#: Every exit code of ``pixverse`` and when it is returned.
EXIT_CODES: tuple[tuple[int, str], ...] = (
    (EXIT_OK, "success"),
    (
        EXIT_FAILED,
        "a job failed or ended unknown, or the API, the network or writing a file failed",
    ),
    (
        EXIT_USAGE,
        "the command line or a file it names is wrong (a bad option or value, a request that "
        "breaks a rule, an input file or journal that does not exist or cannot be read): "
        "nothing was sent",
    ),
    (EXIT_INTERRUPTED, "interrupted (Ctrl-C); rerun a batch to resume it"),
)


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
