"""The ``pixverse`` command (also ``python -m pixverse_async``).

Commands: ``demo``, ``generate KIND``, ``upload image|media``, ``status``, ``wait``,
``download``, ``mask``, ``batch``, ``speakers``, ``restyles``, ``balance``, ``emulator``.
``pixverse --help`` and ``pixverse COMMAND --help`` describe them; README.md has the
reference. Only the standard library draws its output: tables are aligned text, progress is a
one-line bar on a terminal and a plain line now and then elsewhere.

May import: anything below it (the client, the batch, the journal, the emulator); not the
other applications (temporal, testing).
"""

from __future__ import annotations

from .main import main

__all__ = ["main"]
