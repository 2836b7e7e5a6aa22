"""A real PostgreSQL for tests: ``PIXVERSE_TEST_POSTGRES_DSN``, one schema per test.

Without a server the tests that need it skip, saying why; under ``CI=true`` they fail instead,
so CI cannot pass without having run them. ``conftest.py`` imports the fixtures for every
test: ask for ``pg_schema`` (a fresh schema name) and connect to :data:`DSN`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import uuid
from collections.abc import AsyncIterator

import pytest

DSN = os.environ.get("PIXVERSE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def _unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None when a server answers."""
    try:
        import asyncpg
    except ImportError:
        return "asyncpg is not installed (pip install -e '.[dev]')"

    async def probe() -> None:
        conn = await asyncpg.connect(DSN, timeout=3)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            await conn.close()

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # no event loop of the suite's
        try:
            pool.submit(asyncio.run, probe()).result()
        except Exception as exc:
            return f"no PostgreSQL answers at {DSN} ({type(exc).__name__}: {exc})"
    return None


_REASON: list[str | None] = []


@pytest.fixture(scope="session")
def postgres_dsn() -> str:
    """The test server's DSN; skips (fails under CI=true) when none answers."""
    if not _REASON:
        _REASON.append(_unavailable())
    reason = _REASON[0]
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and the PostgreSQL tests cannot run: {reason}")
        pytest.skip(reason)
    return DSN


async def drop_schema(dsn: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await conn.close()


@pytest.fixture
async def pg_schema(postgres_dsn: str) -> AsyncIterator[str]:
    """A fresh schema name for this test; the schema is dropped afterwards."""
    name = "pixverse_test_" + uuid.uuid4().hex[:12]
    yield name
    await drop_schema(postgres_dsn, name)


async def terminate(application_name: str, dsn: str = DSN) -> int:
    """``pg_terminate_backend`` on every connection named ``application_name`` (a worker's,
    a relay's); returns how many were cut."""
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = $1 AND pid <> pg_backend_pid()",
            application_name,
        )
        return len(rows)
    finally:
        await conn.close()
