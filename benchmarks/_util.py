"""Helpers shared by the benchmarks: an emulator in its own process, RSS and CPU, tables."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import resource
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
DSN = os.environ.get("PIXVERSE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
"""The PostgreSQL server of the benchmarks (the tests' one); each run uses its own schema."""
_LISTENING = re.compile(r"PixVerse emulator listening on (http://\S+)")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class EmulatorHandle:
    """A running emulator process: its base URL and process id."""

    url: str
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time the emulator process has used so far."""
        return process_cpu_seconds(self.pid)


@contextlib.contextmanager
def emulator_process(
    api_key: str,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    args: Sequence[str] = (),
) -> Iterator[str]:
    """Start ``python -m pixverse_async.emulator --port 0`` and yield its base URL.

    ``args`` are extra emulator options (``--generation-seconds 0``, ...). The process is
    terminated (then killed, if it must be) when the block ends.
    """
    with emulator(api_key, env=env, timeout=timeout, args=args) as handle:
        yield handle.url


@contextlib.contextmanager
def emulator(
    api_key: str,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    args: Sequence[str] = (),
    module: str = "pixverse_async.emulator",
) -> Iterator[EmulatorHandle]:
    """Like :func:`emulator_process`, yielding an :class:`EmulatorHandle` (URL and pid).

    ``module`` is what ``python -m`` runs: one that serves an emulator configured in code
    (e.g. with per-generation times) prints the same "listening on" line.
    """
    command = [sys.executable, "-m", module, "--port", "0"]
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: logs can never block it
        proc = subprocess.Popen(
            [*command, "--api-key", api_key, *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=errors,
        )
        try:
            yield EmulatorHandle(_wait_for_url(proc, timeout, errors), proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _wait_for_url(proc: subprocess.Popen[bytes], timeout: float, errors: IO[bytes]) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if not sel.select(left):
                continue
            line = proc.stdout.readline().decode(errors="replace")
            if not line:  # the process ended
                break
            if match := _LISTENING.search(line):
                return match.group(1)
    errors.seek(0)
    err = errors.read().decode(errors="replace")
    raise RuntimeError(f"the emulator did not start within {timeout} s: {err[-2000:]}")


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB.

    On Linux this is ``VmHWM`` from ``/proc/self/status``: ``ru_maxrss`` of a process made by
    fork and exec also counts the parent's RSS at the exec, so a child smaller than its parent
    would never see its own peak. Elsewhere ``getrusage(RUSAGE_SELF).ru_maxrss``.
    """
    with contextlib.suppress(OSError), open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # bytes on macOS, KiB elsewhere
    return peak * scale / (1024 * 1024)


def reset_peak_rss() -> bool:
    """Lower the peak RSS mark to the current RSS (Linux ``clear_refs``); False if unsupported.

    Without it, a peak reached while importing hides any smaller growth measured later.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def rss_mb() -> float:
    """This process's current resident set size, in MiB (Linux; peak RSS elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except OSError:
        return peak_rss_mb()
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``; 0.0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the ")" that ends the command name: utime and stime are fields 12 and 13
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def postgres_cpu_seconds() -> float:
    """User + system CPU seconds of the local PostgreSQL server so far: its live processes
    plus what the postmaster reaped of ended backends (Linux ``/proc``; 0.0 elsewhere)."""
    total = 0.0
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                head, tail = f.read().rsplit(")", 1)
        except OSError:
            continue
        if not head.endswith("(postgres"):
            continue
        fields = tail.split()
        total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        if fields[1] == "1":  # ppid 1: the postmaster, whose children are the backends
            total += (int(fields[13]) + int(fields[14])) / _CLOCK_TICKS
    return total


def self_cpu_seconds() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_model() -> str:
    """The CPU model name and the number of logical CPUs."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} logical CPUs"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (other work on the machine skews figures)."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def results_section(title: str, intro: str, figures: str) -> str:
    """A section of RESULTS.md: the heading ``title``, ``intro`` (Markdown: the command and
    what it measures), then the figures as printed, in a code block."""
    return f"### {title}\n\n{intro}\n\n```\n{figures}\n```\n"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table, numbers right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines)


async def postgres_unavailable() -> str | None:
    """Why the PostgreSQL server cannot be used, or None when it answers."""
    try:
        import asyncpg
    except ImportError:
        return "asyncpg not installed"
    try:
        conn = await asyncpg.connect(DSN, timeout=3)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    await conn.close()
    return None


async def drop_schema(schema: str) -> None:
    """Drop a benchmark run's schema and everything in it."""
    import asyncpg

    conn = await asyncpg.connect(DSN, timeout=5)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()
