"""The PostgreSQL store's own behaviour: workers, claims, leases, take-over, the shared limit,
notifications across processes, and losing the connection. All against a real server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

import pixverse_async.journal as journal_module
from pixverse_async.journal import (
    Journal,
    JournalEntry,
    JournalError,
    JournalLeaseError,
    JournalState,
    JournalStateError,
    PostgresStore,
    SqliteStore,
    request_key,
    store_for,
)

from .pg import DSN, terminate

try:
    import asyncpg
except ImportError:  # every test here needs pg_schema, which says why (and fails under CI)
    asyncpg = None

S = JournalState
PACKAGE_ROOT = str(Path(os.path.abspath(journal_module.__file__)).parents[2])


def items(n: int, start: int = 0) -> list[tuple[str, str, dict[str, Any]]]:
    return [(request_key("t2v", {"n": i}), "t2v", {"n": i}) for i in range(start, start + n)]


@pytest.fixture
def open_worker(pg_schema: str) -> Callable[..., Any]:
    """``async with open_worker(batch=..., lease=...) as journal``: a worker on this test's
    schema; every one opened is closed at the end of its block."""

    @contextlib.asynccontextmanager
    async def open_one(**options: Any) -> AsyncIterator[Journal]:
        options.setdefault("batch", "b")
        async with Journal(DSN, schema=pg_schema, **options) as journal:
            yield journal

    return open_one


def pg(journal: Journal) -> PostgresStore:
    store = journal.postgres
    assert store is not None
    return store


async def expire(schema: str, worker_id: str) -> None:
    """End a worker's lease now, as if it had stopped heartbeating long ago."""
    conn = await asyncpg.connect(DSN)
    try:
        await conn.execute(
            f'UPDATE "{schema}".pixverse_workers SET expires_at = clock_timestamp() WHERE id = $1',
            worker_id,
        )
    finally:
        await conn.close()


# ---------------------------------------------------------------------------------------------
# choosing the store


def test_store_for_picks_the_store_from_the_target(tmp_path: Path) -> None:
    assert isinstance(store_for(tmp_path / "j.sqlite"), SqliteStore)
    store = store_for("postgresql://app@db/jobs", batch="nightly", schema="jobs", lease=5)
    assert isinstance(store, PostgresStore)
    assert (store.batch, store.schema, store.lease) == ("nightly", "jobs", 5.0)
    assert isinstance(store_for("postgres://db/jobs"), PostgresStore)
    with pytest.raises(JournalError, match=r"batch= needs a PostgreSQL journal"):
        store_for(tmp_path / "j.sqlite", batch="nightly")
    with pytest.raises(JournalError, match="schema must be a plain SQL name"):
        store_for("postgresql://db/jobs", schema='x"; DROP TABLE t; --')
    with pytest.raises(JournalError, match="lease must be"):
        store_for("postgresql://db/jobs", lease=0)


async def test_the_password_never_shows(tmp_path: Path) -> None:
    url = "postgresql://app:hunter2-secret@127.0.0.1:1/jobs"
    journal = Journal(url, timeout=0.5)
    assert "hunter2" not in repr(journal) and "hunter2" not in journal.path
    assert "hunter2" not in repr(journal.store)
    with pytest.raises(JournalError) as info:
        await journal.__aenter__()
    assert "hunter2" not in str(info.value) and "cannot connect" in str(info.value)


async def test_a_newer_schema_version_is_refused(open_worker: Any, pg_schema: str) -> None:
    async with open_worker():
        pass
    conn = await asyncpg.connect(DSN)
    await conn.execute(f'UPDATE "{pg_schema}".pixverse_meta SET version = 99')
    await conn.close()
    with pytest.raises(JournalError, match="version 99"):
        async with open_worker():
            pass


async def test_batches_are_separate_and_belong_to_one_account(open_worker: Any) -> None:
    async with open_worker(batch="a") as a, open_worker(batch="b") as b:
        await a.mark_pending_many(items(3))
        await b.mark_pending_many(items(2))
        assert len(await a.entries()) == 3 and len(await b.entries()) == 2
        assert (await b.summary())[S.PENDING] == 2
    with pytest.raises(JournalError, match="belongs to account"):
        async with open_worker(batch="a", account="someone-else"):
            pass


# ---------------------------------------------------------------------------------------------
# claims and leases


async def test_concurrent_claims_never_share_a_request(open_worker: Any) -> None:
    async with open_worker() as a, open_worker() as b, open_worker() as c:
        await a.mark_pending_many(items(300))
        claimed: dict[str, list[str]] = {}

        async def drain(journal: Journal) -> None:
            mine = claimed.setdefault(pg(journal).worker_id, [])
            while batch := await pg(journal).claim(7):
                mine.extend(e.key for e in batch)

        await asyncio.gather(drain(a), drain(b), drain(c))
        every = [key for keys in claimed.values() for key in keys]
        assert len(every) == len(set(every)) == 300
        assert all(len(keys) > 0 for keys in claimed.values()), claimed  # all took part
        workers = {w.id: w for w in await pg(a).workers()}
        for wid, keys in claimed.items():
            assert workers[wid].alive and workers[wid].held == {S.PENDING: len(keys)}


async def test_claim_gives_submitted_requests_first_then_pending_in_order(
    open_worker: Any,
) -> None:
    async with open_worker() as a, open_worker() as b:
        keys = [k for k, _, _ in items(6)]
        await a.mark_pending_many(items(6))
        await a.mark_sending(keys[4], "t")
        await a.mark_submitted(keys[4], 44)
        await pg(a).release([keys[4]])  # now unheld: someone must poll it
        got = await pg(b).claim(3)
        assert [(e.key, e.state) for e in got] == [
            (keys[4], S.SUBMITTED),
            (keys[0], S.PENDING),
            (keys[1], S.PENDING),
        ]


async def test_a_request_held_by_a_live_worker_cannot_be_sent_by_another(
    open_worker: Any,
) -> None:
    async with open_worker() as a, open_worker() as b:
        await a.mark_pending_many(items(2))
        (held,) = await pg(a).claim(1)
        with pytest.raises(JournalLeaseError, match="holds it"):
            await b.mark_sending(held.key, "t")
        assert (await b.get(held.key)).state is S.PENDING  # type: ignore[union-attr]
        await a.mark_sending(held.key, "t")  # its holder may
        other = items(2)[1][0]
        await b.mark_sending(other, "t")  # an unheld request is claimed by sending it
        assert {w.id: w.held for w in await pg(a).workers()}[pg(b).worker_id] == {S.SENDING: 1}


async def test_heartbeat_keeps_the_lease_alive_through_lost_connections(
    open_worker: Any,
) -> None:
    async with open_worker(lease=1.0) as a, open_worker() as b:
        await a.mark_pending_many(items(1))
        await pg(a).claim(1)
        # Three leases long, a's connections are killed again and again: only renewals on
        # new connections keep it alive.
        ends = time.monotonic() + 3.0
        kills = 0
        while time.monotonic() < ends:
            kills += await terminate(pg(a).application_name)
            await asyncio.sleep(0.15)
        assert kills > 0
        assert not pg(a).lease_lost
        assert (await pg(b).take_over()).workers == ()
        (worker,) = [w for w in await pg(b).workers() if w.id == pg(a).worker_id]
        assert worker.alive


async def test_a_worker_whose_lease_ended_sends_nothing_more(
    open_worker: Any, pg_schema: str
) -> None:
    async with open_worker() as a, open_worker() as b:
        await a.mark_pending_many(items(2))
        keys = [e.key for e in await pg(a).claim(2)]
        await expire(pg_schema, pg(a).worker_id)
        taken = await pg(b).take_over()
        assert taken.workers == (pg(a).worker_id,)
        assert sorted(e.key for e in taken.released) == sorted(keys)
        with pytest.raises(JournalLeaseError, match="lease"):
            await a.mark_sending(keys[0], "t")
        assert pg(a).lease_lost
        assert [e.key for e in await pg(b).claim(5)] == keys  # b carries on


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pixverse_async.journal import Journal

    async def main(dsn, schema):
        j = await Journal.open(dsn, schema=schema, batch="b", lease=0.5)
        claimed = await j.postgres.claim(5)
        await j.mark_sending(claimed[0].key, "trace-dead")
        await j.mark_sending(claimed[1].key, "trace-ok")
        await j.mark_submitted(claimed[1].key, 777)
        print(j.postgres.worker_id, flush=True)
        await asyncio.sleep(3600)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_take_over_of_a_killed_worker(open_worker: Any, pg_schema: str) -> None:
    async with open_worker() as b:
        keys = [k for k, _, _ in items(8)]
        await b.mark_pending_many(items(8))
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, DSN, pg_schema],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": PACKAGE_ROOT},
        )
        try:
            assert child.stdout is not None
            dead = child.stdout.readline().strip()
            assert dead, "the child did not start"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.communicate()
        # Until its lease (0.5 s) expires, nothing of the dead worker's can be taken.
        assert [e.key for e in await pg(b).claim(10)] == keys[5:]
        deadline = time.monotonic() + 20
        while not (taken := await pg(b).take_over()).workers:
            assert time.monotonic() < deadline, "the dead worker's lease never expired"
            await asyncio.sleep(0.05)
        assert taken.workers == (dead,)
        (unknown,) = taken.unknown
        assert unknown.key == keys[0] and unknown.state is S.UNKNOWN
        assert unknown.trace_id == "trace-dead" and unknown.error_type == "Interrupted"
        assert sorted((e.key, e.state) for e in taken.released) == sorted(
            [(keys[1], S.SUBMITTED), *((k, S.PENDING) for k in keys[2:5])]
        )
        again = await pg(b).claim(10)
        assert [(e.key, e.state) for e in again] == [
            (keys[1], S.SUBMITTED),
            *((k, S.PENDING) for k in keys[2:5]),
        ]
        assert again[0].video_id == 777
        with pytest.raises(JournalStateError):
            await b.mark_sending(keys[0], "again")  # UNKNOWN: never resubmitted blindly
        assert (await pg(b).take_over()).workers == ()  # handled once


async def test_sends_and_submits_wait_for_the_wal_flush(open_worker: Any) -> None:
    """The crash-safety points (SENDING, SUBMITTED) commit durably though the connection's
    default is asynchronous: once one returns, the server has flushed its WAL past the point
    where it was written. (Other writes on the server can only flush more, never less.)"""
    observer = await asyncpg.connect(DSN)

    async def lsn(what: str) -> int:
        return int(await observer.fetchval(f"SELECT pg_current_wal_{what}_lsn() - '0/0'"))

    try:
        async with open_worker() as journal:
            store = pg(journal)
            await store.set_limit(100)
            await journal.mark_pending_many(items(20))
            keys = [k for k, _, _ in items(20)]
            unflushed = []
            for i, key in enumerate(keys):
                written_after = await lsn("insert")
                if i % 2:
                    assert await store.try_mark_sending(key, f"t{i}") is not None
                else:
                    await journal.mark_sending(key, f"t{i}")
                unflushed.append((await lsn("flush")) <= written_after)
                written_after = await lsn("insert")
                await journal.mark_submitted(key, i + 1)
                unflushed.append((await lsn("flush")) <= written_after)
            assert not any(unflushed)
    finally:
        await observer.close()


# ---------------------------------------------------------------------------------------------
# the shared limit


async def test_workers_together_never_exceed_the_shared_limit(open_worker: Any) -> None:
    async with open_worker(batch="x") as a, open_worker(batch="y") as b:
        limit = await pg(a).set_limit(5)
        assert (limit.configured, limit.target, limit.in_flight) == (5, 5.0, 0)
        await a.mark_pending_many(items(20))
        await b.mark_pending_many(items(20, 100))

        async def send_all(journal: Journal) -> list[str]:
            store = pg(journal)
            pending = await journal.entries(S.PENDING)
            sent = await asyncio.gather(*(store.try_mark_sending(e.key, "t") for e in pending))
            return [e.key for e in sent if e is not None]

        sent_a, sent_b = await asyncio.gather(send_all(a), send_all(b))
        assert len(sent_a) + len(sent_b) == 5
        assert (await pg(b).shared_limit()).in_flight == 5  # type: ignore[union-attr]
        # One finishes: exactly one more may go, from either worker.
        done = (sent_a or sent_b)[0]
        owner = a if sent_a else b
        await owner.mark_submitted(done, 1)
        await owner.mark_succeeded(done, {"id": 1})
        more = await asyncio.gather(send_all(a), send_all(b))
        assert len(more[0]) + len(more[1]) == 1


async def test_a_group_of_sends_takes_what_the_limit_has_room_for_in_order(
    open_worker: Any,
) -> None:
    async with open_worker() as a, open_worker() as b:
        await pg(a).set_limit(4)
        await a.mark_pending_many(items(8))
        keys = [k for k, _, _ in items(8)]
        (held,) = await pg(b).claim(1)  # keys[0]: another worker's
        await a.mark_sending(keys[1], "solo")  # keys[1]: not PENDING any more
        results = await pg(a).try_mark_sending_many([(k, f"t{i}") for i, k in enumerate(keys)])
        assert held.key == keys[0]
        assert isinstance(results[0], JournalLeaseError) and "holds it" in str(results[0])
        assert isinstance(results[1], JournalStateError)
        # Room for 3 more (1 in flight of 4), given in the order asked; the rest: try later.
        sent = [r for r in results if isinstance(r, JournalEntry)]
        assert [(e.key, e.state, e.trace_id) for e in sent] == [
            (keys[i], S.SENDING, f"t{i}") for i in (2, 3, 4)
        ]
        assert results[5:] == [None, None, None]
        assert (await pg(b).shared_limit()).in_flight == 4  # type: ignore[union-attr]
        await expire(pg(a).schema, pg(a).worker_id)
        late = await pg(a).try_mark_sending_many([(keys[5], "late")])
        assert isinstance(late[0], JournalLeaseError) and "lease" in str(late[0])


async def test_groups_of_sends_from_two_workers_never_exceed_the_shared_limit(
    open_worker: Any,
) -> None:
    async with open_worker(batch="x") as a, open_worker(batch="y") as b:
        await pg(a).set_limit(7)
        await a.mark_pending_many(items(30))
        await b.mark_pending_many(items(30, 100))

        async def send_groups(journal: Journal) -> int:
            store = pg(journal)
            pending = [(e.key, "t") for e in await journal.entries(S.PENDING)]
            groups = [pending[i : i + 4] for i in range(0, len(pending), 4)]
            results = await asyncio.gather(*(store.try_mark_sending_many(g) for g in groups))
            return sum(isinstance(r, JournalEntry) for group in results for r in group)

        assert sum(await asyncio.gather(send_groups(a), send_groups(b))) == 7
        assert (await pg(a).shared_limit()).in_flight == 7  # type: ignore[union-attr]


async def test_the_shared_target_shrinks_on_limit_answers_and_grows_back(
    open_worker: Any,
) -> None:
    async with open_worker() as a, open_worker() as b:
        await pg(a).set_limit(10)
        keys = [k for k, _, _ in items(4)]
        await a.mark_pending_many(items(4))
        for k in keys[:3]:
            assert await pg(a).try_mark_sending(k, "t") is not None
        await a.mark_not_sent(keys[2], "ConcurrencyLimitError", "500044")
        shrunk = await pg(b).limit_answered()  # seen by b: the target is shared
        assert (shrunk.target, shrunk.in_flight, shrunk.room) == (2.0, 2, 0)
        assert await pg(b).try_mark_sending(keys[3], "t") is None
        grown = await pg(a).submit_accepted()
        assert grown.target == pytest.approx(2.5)
        for _ in range(50):
            grown = await pg(b).submit_accepted()
        assert grown.target == 10.0  # never above the configured limit
        assert await pg(b).try_mark_sending(keys[3], "t") is not None


# ---------------------------------------------------------------------------------------------
# notifications


WRITER = textwrap.dedent(
    """
    import asyncio, sys
    from pixverse_async.journal import Journal

    async def main(dsn, schema, key):
        async with Journal(dsn, schema=schema, batch="b") as j:
            sys.stdin.readline()  # go
            await j.mark_submitted(key, 4242)
            await j.mark_succeeded(key, {"id": 4242, "url": "https://cdn.example/v.mp4"})

    asyncio.run(main(*sys.argv[1:]))
    """
)


async def test_wait_finished_learns_of_a_completion_recorded_by_another_process(
    open_worker: Any, pg_schema: str
) -> None:
    async with open_worker() as a:
        ((key, kind, body),) = items(1)
        await a.mark_pending(key, kind, body)
        await a.mark_sending(key, "t")
        waiting = asyncio.ensure_future(pg(a).wait_finished(key, timeout=30))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, DSN, pg_schema, key],
            stdin=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": PACKAGE_ROOT},
            text=True,
        )
        try:
            assert writer.stdin is not None
            writer.stdin.write("go\n")
            writer.stdin.flush()
            entry = await waiting
        finally:
            writer.communicate(timeout=30)
        assert writer.returncode == 0
        assert entry.state is S.SUCCEEDED and entry.url == "https://cdn.example/v.mp4"


async def test_wait_finished_survives_losing_the_listening_connection(
    open_worker: Any,
) -> None:
    async with open_worker() as a, open_worker() as b:
        ((key, kind, body),) = items(1)
        await a.mark_pending(key, kind, body)
        await a.mark_sending(key, "t")
        waiting = asyncio.ensure_future(pg(a).wait_finished(key, timeout=30))
        await asyncio.sleep(0.2)
        assert await terminate(pg(a).application_name) >= 1  # listener and pool
        await b.mark_unknown(key, None, "no answer")
        entry = await waiting
        assert entry.state is S.UNKNOWN


async def test_wait_finished_times_out_and_knows_missing_keys(open_worker: Any) -> None:
    async with open_worker() as a:
        ((key, kind, body),) = items(1)
        await a.mark_pending(key, kind, body)
        with pytest.raises(asyncio.TimeoutError):
            await pg(a).wait_finished(key, timeout=0.2)
        with pytest.raises(JournalError, match="not in batch"):
            await pg(a).wait_finished("missing")


async def test_wait_changed_wakes_when_room_frees_up(open_worker: Any) -> None:
    async with open_worker() as a, open_worker() as b:
        await pg(a).set_limit(1)
        k1, k2 = (k for k, _, _ in items(2))
        await a.mark_pending_many(items(2))
        assert await pg(a).try_mark_sending(k1, "t") is not None
        assert await pg(b).try_mark_sending(k2, "t") is None
        woke = asyncio.ensure_future(pg(b).wait_changed(timeout=30))
        await asyncio.sleep(0.2)
        assert not woke.done()
        await a.mark_failed(k1, "VideoFailedError", "failed")
        assert await woke is True
        assert await pg(b).try_mark_sending(k2, "t") is not None
        assert await pg(b).wait_changed(timeout=0.1) is False


# ---------------------------------------------------------------------------------------------
# losing the connection


async def test_killed_connections_lose_and_double_nothing(
    open_worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_worker() as a:
        work = items(300)
        await a.mark_pending_many(work)
        stop = asyncio.Event()
        kills = 0

        async def killer() -> None:
            nonlocal kills
            while not stop.is_set():
                kills += await terminate(pg(a).application_name)
                await asyncio.sleep(0.03)

        async def one(i: int, key: str) -> None:
            await a.mark_sending(key, f"trace-{i}")
            await a.mark_submitted(key, i, 1)
            await a.mark_succeeded(key, {"id": i})

        killing = asyncio.ensure_future(killer())
        try:
            await asyncio.gather(*(one(i, k) for i, (k, _, _) in enumerate(work)))
        finally:
            stop.set()
            await killing
        assert kills > 0
        assert "lost the database connection" in caplog.text  # operations were retried
        found = await a.get_many(k for k, _, _ in work)
        for i, (key, _, _) in enumerate(work):
            entry = found[key]
            assert (entry.state, entry.attempts, entry.video_id) == (S.SUCCEEDED, 1, i), entry


async def test_killed_connections_during_claims_lose_no_claim(
    open_worker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    async with open_worker() as a, open_worker() as b:
        await a.mark_pending_many(items(400))
        stop = asyncio.Event()

        async def killer() -> None:
            while not stop.is_set():
                await terminate(pg(a).application_name)
                await asyncio.sleep(0.02)

        async def drain(journal: Journal) -> list[str]:
            got: list[str] = []
            while batch := await pg(journal).claim(3):
                got.extend(e.key for e in batch)
            return got

        killing = asyncio.ensure_future(killer())
        try:
            got_a, got_b = await asyncio.gather(drain(a), drain(b))
        finally:
            stop.set()
            await killing
        assert "lost the database connection" in caplog.text  # claims were retried
        assert len(got_a) + len(got_b) == len(set(got_a) | set(got_b)) == 400
        held = {w.id: w.held for w in await pg(b).workers()}
        assert held[pg(a).worker_id] == {S.PENDING: len(got_a)}


class Proxy:
    """A TCP proxy to the test server that can be cut: a network failure for real."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host = DSN.split("@")[-1].split("/")[0]
        name, _, port = host.partition(":")
        up_reader, up_writer = await asyncio.open_connection(name, int(port or 5432))
        self.pipes |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for pipe in self.pipes:
            pipe.close()
        await self.server.wait_closed()


async def test_a_server_that_stays_away_stops_the_journal_cleanly(pg_schema: str) -> None:
    proxy = Proxy()
    port = await proxy.start()
    user = DSN.split("://", 1)[1].split("@")[0]
    database = DSN.rsplit("/", 1)[1]
    url = f"postgresql://{user}@127.0.0.1:{port}/{database}"
    store = PostgresStore(url, schema=pg_schema, reconnect_timeout=0.5, connect_timeout=0.5)
    journal = await Journal.open(store)
    try:
        await journal.mark_pending_many(items(3))
        key = items(1)[0][0]
        await journal.mark_sending(key, "t")
        await proxy.cut()
        started = time.monotonic()
        with pytest.raises(JournalError, match="could not reconnect"):
            await journal.mark_submitted(key, 5)
        assert time.monotonic() - started < 10
    finally:
        await journal.close()  # closes even with the server gone
    async with Journal(DSN, schema=pg_schema, batch="default", recover=False) as direct:
        # The unanswered write did not happen: the request is still SENDING, never lost.
        assert (await direct.get(key)).state is S.SENDING  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# the runner, unchanged, on the PostgreSQL store


async def test_the_runner_resumes_a_batch_from_postgresql(pg_schema: str) -> None:
    from pixverse_async import PixVerse, PollPolicy
    from pixverse_async.emulator import Emulator
    from pixverse_async.models import TextToVideo

    from .conftest import API_KEY, FAST_RETRY

    poll = PollPolicy(first_delay=0.05, interval=0.02, factor=1.0, max_delay=0.02, jitter=0.0)

    def t2v(i: int) -> TextToVideo:
        return TextToVideo(
            prompt=f"p{i}", model="v5", duration=5, quality="540p", aspect_ratio="16:9"
        )

    async with Emulator(api_keys={API_KEY}, generation_seconds=0.05) as emu:
        async with PixVerse(
            api_key=API_KEY, base_url=emu.base_url, poll=poll, retry=FAST_RETRY
        ) as client:
            async with Journal(DSN, schema=pg_schema, batch="r") as journal:
                first = await client.runner(journal=journal).gather([t2v(i) for i in range(5)])
            async with Journal(DSN, schema=pg_schema, batch="r") as journal:
                again = await client.runner(journal=journal).gather([t2v(i) for i in range(8)])
                summary = await journal.summary()
        assert all(o.ok for o in first) and all(o.ok for o in again)
        assert [o.resumed for o in again] == [True] * 5 + [False] * 3
        assert summary[S.SUCCEEDED] == 8
        assert len(emu.state.generations) == 8  # nothing paid twice


async def test_a_restarted_worker_with_the_same_id_finds_its_sending_unknown(
    pg_schema: str,
) -> None:
    def worker() -> Journal:
        return Journal(PostgresStore(DSN, schema=pg_schema, batch="b", worker="w-1"))

    async with worker() as first:
        await first.mark_pending_many(items(2))
        key, other = (k for k, _, _ in items(2))
        await first.mark_sending(key, "trace-1")
    async with worker() as again:
        assert [e.key for e in again.recovered] == [key]
        entry = await again.get(key)
        assert entry is not None and entry.state is S.UNKNOWN and entry.trace_id == "trace-1"
        assert (await again.get(other)).state is S.PENDING  # type: ignore[union-attr]
        await again.mark_sending(other, "trace-2")  # its lease is live again
