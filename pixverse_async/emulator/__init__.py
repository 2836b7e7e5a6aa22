"""A faithful local PixVerse API server (aiohttp.web) with fault injection.

Use it in-process with ``async with Emulator() as emu`` (``emu.base_url``, ``emu.state``) or
as a process with ``python -m pixverse_async.emulator --port 8000``. It shares only
:mod:`pixverse_async.constants` with the client, so a client bug cannot hide its twin here.

May import: the foundation and the batch's price table; never the client, the session or the
endpoints (it is the other side of the wire).
"""

from __future__ import annotations

from .app import EmulatorConfig
from .clock import EmulatorClock
from .faults import Fault, FaultConfig, FaultRule
from .media_faults import MediaFaults, MediaRequest
from .rate_limit import RequestRateLimit
from .server import Emulator
from .state import EmulatorState, Generation, RequestRecord

__all__ = [
    "Emulator",
    "EmulatorClock",
    "EmulatorConfig",
    "EmulatorState",
    "Fault",
    "FaultConfig",
    "FaultRule",
    "Generation",
    "MediaFaults",
    "MediaRequest",
    "RequestRateLimit",
    "RequestRecord",
]
