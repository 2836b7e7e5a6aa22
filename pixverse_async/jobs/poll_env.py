"""A fixed polling interval, and the one ``$PIXVERSE_POLL_INTERVAL`` asks for.

The default :class:`~pixverse_async.PollPolicy` suits real generations (first poll after
5 s). Against a fast emulator, or a service that finishes in seconds, set
``PIXVERSE_POLL_INTERVAL`` (seconds): every client made without ``poll=`` then polls at that
interval, first poll included. ``pixverse --poll-interval`` does the same for one command.

>>> fixed_poll(0.2).delay(0) == fixed_poll(0.2).delay(5) == 0.2
True
>>> poll_from_env({"PIXVERSE_POLL_INTERVAL": "0.5"}).first_delay
0.5
>>> poll_from_env({}) is None
True
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping

from ..constants import POLL_INTERVAL_ENV
from ..errors import ValidationError
from .generation_job import PollPolicy

__all__ = ["fixed_poll", "poll_from_env"]


def fixed_poll(seconds: float) -> PollPolicy:
    """Poll every ``seconds``, from the first poll on, without jitter."""
    return PollPolicy(
        first_delay=seconds, interval=seconds, factor=1.0, max_delay=seconds, jitter=0.0
    )


def poll_from_env(environ: Mapping[str, str] | None = None) -> PollPolicy | None:
    """:func:`fixed_poll` of ``$PIXVERSE_POLL_INTERVAL``; None when it is unset or empty.

    A value that is not a number of seconds above 0 raises :class:`ValidationError`.
    """
    text = (os.environ if environ is None else environ).get(POLL_INTERVAL_ENV, "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ValidationError(POLL_INTERVAL_ENV, "must be a number of seconds above 0", text)
    return fixed_poll(seconds)
