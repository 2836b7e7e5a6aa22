"""The durable journal: state machine, persistence, crash safety, locking, speed, lifecycle."""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pixverse_async
from pixverse_async.journal import (
    Journal,
    JournalEntry,
    JournalError,
    JournalLockedError,
    JournalState,
    JournalStateError,
    PostgresStore,
    request_key,
)
from pixverse_async.journal.states import TRANSITIONS

from .pg import DSN

S = JournalState
BODY: dict[str, Any] = {"prompt": "a red kite over the sea", "model": "v5", "duration": 5}
# the folder holding the pixverse_async package (not the package itself: its modules would
# shadow the standard library's, e.g. pixverse_async/types.py for ``types``)
PACKAGE_ROOT = str(Path(os.path.abspath(pixverse_async.__file__)).parents[1])


def journal_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("pixverse-journal:")]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.sqlite"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def where(backend: str, path: Path, request: pytest.FixtureRequest) -> tuple[str, str]:
    """``(target, schema)`` of the parametrized store: the SQLite file at ``path`` (no
    schema), or the test server with a PostgreSQL schema of this test's own."""
    if backend == "sqlite":
        return str(path), ""
    return DSN, str(request.getfixturevalue("pg_schema"))


@pytest.fixture
def make(where: tuple[str, str]) -> Callable[..., Journal]:
    """Unopened journals, all on the same database of the parametrized store."""
    target, schema = where
    if not schema:
        return lambda **options: Journal(target, **options)
    return lambda **options: Journal(target, schema=schema, **options)


@pytest.fixture
async def journal(make: Callable[..., Journal]) -> Any:
    async with make() as j:
        yield j


async def pending(j: Journal, n: int = 0, kind: str = "text_to_video") -> str:
    body = {**BODY, "seed": n}
    key = request_key(kind, body)
    await j.mark_pending(key, kind, body)
    return key


# ---------------------------------------------------------------------------------------------
# request_key


def test_request_key_is_stable_and_canonical() -> None:
    a = request_key("text_to_video", {"prompt": "x", "duration": 5, "nested": {"b": 1, "a": 2}})
    b = request_key("text_to_video", {"nested": {"a": 2, "b": 1}, "duration": 5, "prompt": "x"})
    assert a == b
    assert len(a) == 64 and int(a, 16) >= 0
    # Pinned: the key must not change between releases, or reruns would pay twice.
    assert request_key("k", {}) == request_key("k", {}, 0)


def test_request_key_distinguishes_kind_body_and_occurrence() -> None:
    keys = {
        request_key("text_to_video", BODY),
        request_key("text_to_video", BODY, occurrence=1),
        request_key("text_to_video", BODY, occurrence=2),
        request_key("image_to_video", BODY),
        request_key("text_to_video", {**BODY, "duration": 8}),
        request_key("text_to_video", {**BODY, "duration": 5.0}),
    }
    assert len(keys) == 6


def test_request_key_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        request_key("k", BODY, occurrence=-1)
    with pytest.raises(ValueError):
        request_key("k", BODY, occurrence=True)
    with pytest.raises(TypeError):
        request_key("k", {"x": object()})
    with pytest.raises(ValueError):
        request_key("k", {"x": float("nan")})


# ---------------------------------------------------------------------------------------------
# transitions


async def test_happy_path(journal: Journal) -> None:
    key = request_key("text_to_video", BODY)
    entry = await journal.mark_pending(key, "text_to_video", BODY)
    assert entry.state is S.PENDING and entry.body == BODY and entry.kind == "text_to_video"
    assert entry.attempts == 0 and entry.video_id is None

    entry = await journal.mark_sending(key, "trace-1")
    assert entry.state is S.SENDING and entry.trace_id == "trace-1" and entry.attempts == 1
    assert entry.needs_attention

    entry = await journal.mark_submitted(key, 123456, credits=45)
    assert (entry.state, entry.video_id, entry.credits) == (S.SUBMITTED, 123456, 45)
    assert not entry.needs_attention and not entry.is_terminal

    video = {"id": 123456, "status": 1, "url": "https://cdn.example/v.mp4", "seed": 7}
    entry = await journal.mark_succeeded(key, video)
    assert entry.state is S.SUCCEEDED and entry.is_terminal
    assert entry.result == video and entry.url == "https://cdn.example/v.mp4"
    assert entry.trace_id == "trace-1" and entry.video_id == 123456
    assert entry.updated_at >= entry.created_at
    assert await journal.get(key) == entry


async def test_not_sent_goes_back_to_pending_and_counts_attempts(journal: Journal) -> None:
    key = await pending(journal)
    await journal.mark_sending(key, "t1")
    entry = await journal.mark_not_sent(key, "ConcurrencyLimitError", "too many at once")
    assert entry.state is S.PENDING and entry.error_type == "ConcurrencyLimitError"
    entry = await journal.mark_sending(key, "t2")
    assert entry.attempts == 2 and entry.error_type is None
    # The trace id of its first send is kept for life: the second send is a resend under it.
    assert entry.trace_id == "t1" and entry.resends == 1
    entry = await journal.mark_resent(key)  # the SDK resent it once more within the call
    assert entry.state is S.SENDING and entry.resends == 2 and entry.attempts == 2


async def test_held_stays_pending_with_its_reason_and_is_sent_later(journal: Journal) -> None:
    key = await pending(journal)
    entry = await journal.mark_held(key, "SpendingCapError", "not submitted: over the cap")
    assert entry.state is S.PENDING and entry.attempts == 0
    assert entry.error_type == "SpendingCapError"
    assert entry.error_message == "not submitted: over the cap"
    entry = await journal.mark_sending(key, "t1")
    assert entry.state is S.SENDING and entry.error_type is None
    with pytest.raises(JournalStateError):
        await journal.mark_held(key, "SpendingCapError", "too late: it is being sent")


async def test_failed_from_every_non_terminal_state(journal: Journal) -> None:
    k_pending, k_sending, k_submitted, k_unknown = [await pending(journal, n) for n in range(4)]
    for k in (k_sending, k_submitted, k_unknown):
        await journal.mark_sending(k, "t")
    await journal.mark_submitted(k_submitted, 1)
    await journal.mark_unknown(k_unknown, None, "timed out")
    for k in (k_pending, k_sending, k_submitted, k_unknown):
        entry = await journal.mark_failed(k, "VideoModeratedError", "moderated")
        assert entry.state is S.FAILED and entry.error_message == "moderated"
    assert (await journal.get(k_submitted)).video_id == 1  # type: ignore[union-attr]


async def test_unknown_keeps_trace_id_and_can_learn_its_video_id(journal: Journal) -> None:
    key = await pending(journal)
    await journal.mark_sending(key, "trace-a")
    entry = await journal.mark_unknown(key, None, "connection reset after sending")
    assert entry.state is S.UNKNOWN and entry.trace_id == "trace-a"
    assert entry.error_type == "SubmissionUnknownError" and entry.needs_attention
    entry = await journal.mark_unknown(key, "trace-b", "again")
    assert entry.trace_id == "trace-b"
    # A person found the video by its trace id.
    entry = await journal.mark_submitted(key, 99)
    assert entry.state is S.SUBMITTED and entry.video_id == 99 and entry.error_type is None


async def test_requeue_is_explicit_and_clears_the_outcome(journal: Journal) -> None:
    key = await pending(journal)
    await journal.mark_sending(key, "t")
    await journal.mark_unknown(key, "t", "?")
    entry = await journal.requeue(key)
    assert entry.state is S.PENDING and entry.error_type is None
    assert entry.attempts == 1 and entry.resends == 0
    # An UNKNOWN entry is sent again under its own trace id (never a second generation).
    assert entry.trace_id == "t"
    entry = await journal.mark_sending(key, "t2")
    assert entry.trace_id == "t" and entry.resends == 1
    await journal.mark_submitted(key, 5)
    await journal.mark_failed(key, "VideoFailedError", "failed")
    entry = await journal.requeue(key)
    # A FAILED one is a new generation: a new trace id at its next send.
    assert entry.state is S.PENDING and entry.video_id is None and entry.trace_id is None
    entry = await journal.mark_sending(key, "t3")
    assert entry.trace_id == "t3" and entry.resends == 1 and entry.attempts == 3


@pytest.mark.parametrize(
    ("setup", "call", "current"),
    [
        ([], "sending", None),  # not in the journal at all
        (["pending"], "submitted", S.PENDING),
        (["pending"], "succeeded", S.PENDING),
        (["pending"], "unknown", S.PENDING),
        (["pending"], "not_sent", S.PENDING),
        (["pending", "sending"], "sending", S.SENDING),
        (["pending", "sending"], "succeeded", S.SENDING),
        (["pending", "sending", "submitted"], "sending", S.SUBMITTED),
        (["pending", "sending", "submitted"], "not_sent", S.SUBMITTED),
        (["pending", "sending", "submitted"], "unknown", S.SUBMITTED),
        (["pending", "sending", "submitted"], "requeue", S.SUBMITTED),
        (["pending", "sending", "submitted", "succeeded"], "failed", S.SUCCEEDED),
        (["pending", "sending", "submitted", "succeeded"], "sending", S.SUCCEEDED),
        (["pending", "sending", "submitted", "succeeded"], "requeue", S.SUCCEEDED),
        (["pending", "sending", "unknown"], "sending", S.UNKNOWN),
        (["pending", "sending", "unknown"], "not_sent", S.UNKNOWN),
        (["pending", "sending", "failed"], "sending", S.FAILED),
        (["pending", "sending", "failed"], "submitted", S.FAILED),
    ],
)
async def test_forbidden_transitions_raise_and_change_nothing(
    journal: Journal, setup: list[str], call: str, current: JournalState | None
) -> None:
    key = request_key("text_to_video", BODY)
    actions = {
        "pending": lambda: journal.mark_pending(key, "text_to_video", BODY),
        "sending": lambda: journal.mark_sending(key, "t"),
        "submitted": lambda: journal.mark_submitted(key, 1),
        "succeeded": lambda: journal.mark_succeeded(key, {"id": 1}),
        "failed": lambda: journal.mark_failed(key, "E", "m"),
        "unknown": lambda: journal.mark_unknown(key, "t", "m"),
        "not_sent": lambda: journal.mark_not_sent(key),
        "requeue": lambda: journal.requeue(key),
    }
    for step in setup:
        await actions[step]()
    before = await journal.get(key)
    with pytest.raises(JournalStateError) as info:
        await actions[call]()
    assert info.value.state is current and info.value.key == key
    assert key in str(info.value)
    assert await journal.get(key) == before


PATHS: dict[JournalState, list[str]] = {
    S.PENDING: [],
    S.SENDING: ["sending"],
    S.SUBMITTED: ["sending", "submitted"],
    S.SUCCEEDED: ["sending", "submitted", "succeeded"],
    S.FAILED: ["failed"],
    S.UNKNOWN: ["sending", "unknown"],
}


async def test_every_store_follows_the_one_transition_table(journal: Journal) -> None:
    """Every method from every state is allowed exactly when TRANSITIONS says so."""
    calls: dict[str, Callable[[str], Any]] = {
        "sending": lambda k: journal.mark_sending(k, "t"),
        "submitted": lambda k: journal.mark_submitted(k, 2),  # another video than the path's
        "not_sent": lambda k: journal.mark_not_sent(k),
        "held": lambda k: journal.mark_held(k, "SpendingCapError", "over the cap"),
        "succeeded": lambda k: journal.mark_succeeded(k, {"id": 1}),
        "failed": lambda k: journal.mark_failed(k, "E", "m"),
        "unknown": lambda k: journal.mark_unknown(k, None, "m"),
        "resent": lambda k: journal.mark_resent(k),
        "requeue": lambda k: journal.requeue(k),  # requeue, or requeue_failed from FAILED
    }
    path_calls = {**calls, "submitted": lambda k: journal.mark_submitted(k, 1)}
    assert set(calls) | {"requeue_failed"} == set(TRANSITIONS) - {"recover"}
    n = 0
    for start, path in PATHS.items():
        for name, call in calls.items():
            key = await pending(journal, n := n + 1)
            for step in path:
                await path_calls[step](key)
            transition = TRANSITIONS[name]
            if name == "requeue" and start is S.FAILED:
                transition = TRANSITIONS["requeue_failed"]
            if start in transition.sources:
                entry = await call(key)
                assert entry.state is transition.target, (start, name)
            else:
                with pytest.raises(JournalStateError):
                    await call(key)
                assert (await journal.get(key)).state is start  # type: ignore[union-attr]


async def test_repeated_calls_that_are_safe_are_idempotent(journal: Journal) -> None:
    key = await pending(journal)
    await journal.mark_sending(key, "t")
    first = await journal.mark_submitted(key, 7, 10)
    assert await journal.mark_submitted(key, 7, 10) == first
    with pytest.raises(JournalStateError):
        await journal.mark_submitted(key, 8)  # a different video for the same request
    await journal.mark_succeeded(key, {"id": 7, "url": "u1"})
    entry = await journal.mark_succeeded(key, {"id": 7, "url": "u2"})
    assert entry.url == "u2"


async def test_mark_pending_keeps_existing_progress_and_rejects_other_requests(
    journal: Journal,
) -> None:
    key = await pending(journal)
    await journal.mark_sending(key, "t")
    entry = await journal.mark_pending(key, "text_to_video", {**BODY, "seed": 0})
    assert entry.state is S.SENDING
    with pytest.raises(JournalError, match="different request"):
        await journal.mark_pending(key, "text_to_video", {"prompt": "something else"})
    with pytest.raises(JournalError, match="different request"):
        await journal.mark_pending(key, "image_to_video", {**BODY, "seed": 0})


async def test_mark_pending_many(journal: Journal) -> None:
    items = [(request_key("t2v", {"n": n}), "t2v", {"n": n}) for n in range(100)]
    assert await journal.mark_pending_many(items) == 100
    assert await journal.mark_pending_many(items) == 0  # a rerun adds nothing
    await journal.mark_sending(items[0][0], "t")
    assert await journal.mark_pending_many([*items, ("new", "t2v", {"n": -1})]) == 1
    assert (await journal.get(items[0][0])).state is S.SENDING  # type: ignore[union-attr]

    # All or nothing: one conflicting item records none of the others.
    bad = [("fresh-1", "t2v", {}), (items[1][0], "t2v", {"other": True}), ("fresh-2", "t2v", {})]
    with pytest.raises(JournalError, match="different request"):
        await journal.mark_pending_many(bad)
    assert await journal.get_many(["fresh-1", "fresh-2"]) == {}
    with pytest.raises(JournalError, match="twice"):
        await journal.mark_pending_many([("dup", "t2v", {"a": 1}), ("dup", "t2v", {"a": 2})])
    assert await journal.mark_pending_many([("dup", "t2v", {"a": 1})] * 2) == 1


async def test_a_failing_operation_does_not_undo_others_in_the_same_commit(
    journal: Journal,
) -> None:
    keys = [await pending(journal, n) for n in range(20)]
    calls = [journal.mark_sending(k, f"t{i}") for i, k in enumerate(keys)]
    calls.insert(10, journal.mark_sending("not-there", "t"))
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert isinstance(outcomes.pop(10), JournalStateError)
    assert all(isinstance(o, JournalEntry) and o.state is S.SENDING for o in outcomes)


# ---------------------------------------------------------------------------------------------
# reading


async def test_summary_and_entries(journal: Journal) -> None:
    keys = [await pending(journal, n) for n in range(5)]
    await journal.mark_sending(keys[1], "t")
    await journal.mark_sending(keys[2], "t")
    await journal.mark_submitted(keys[2], 2)
    await journal.mark_failed(keys[3], "ValidationError", "bad")
    counts = await journal.summary()
    assert counts == {
        S.PENDING: 2,
        S.SENDING: 1,
        S.SUBMITTED: 1,
        S.SUCCEEDED: 0,
        S.FAILED: 1,
        S.UNKNOWN: 0,
    }
    assert [e.key for e in await journal.entries()] == keys  # insertion order
    assert [e.key for e in await journal.entries(S.PENDING)] == [keys[0], keys[4]]
    assert [e.key for e in await journal.entries("failed")] == [keys[3]]
    assert await journal.get("nope") is None


async def test_get_many_on_ten_thousand_keys_is_fast(journal: Journal) -> None:
    items = [
        (request_key("t2v", {**BODY, "seed": n}), "t2v", {**BODY, "seed": n}) for n in range(10_000)
    ]
    started = time.perf_counter()
    assert await journal.mark_pending_many(items) == 10_000
    inserted = time.perf_counter()
    keys = [k for k, _, _ in items]
    found = await journal.get_many([*keys, "missing"])
    read = time.perf_counter()
    assert len(found) == 10_000 and "missing" not in found
    assert found[keys[1234]].body["seed"] == 1234
    # Generous bounds (typically ~0.1 s each): a per-key round trip would be far slower.
    assert inserted - started < 3.0, inserted - started
    assert read - inserted < 3.0, read - inserted


# ---------------------------------------------------------------------------------------------
# persistence, recovery, crash safety, locking


async def test_reopen_keeps_everything(make: Callable[..., Journal]) -> None:
    async with make() as j:
        key = await pending(j)
        await j.mark_sending(key, "t")
        await j.mark_submitted(key, 42, 30)
        await j.mark_succeeded(key, {"id": 42, "url": "https://x/y.mp4", "extra": [1, 2]})
        other = await pending(j, 1)
        before = await j.entries()
    async with make() as j:
        assert await j.entries() == before
        assert (await j.get(key)).result == {  # type: ignore[union-attr]
            "id": 42,
            "url": "https://x/y.mp4",
            "extra": [1, 2],
        }
        assert (await j.get(other)).state is S.PENDING  # type: ignore[union-attr]
        assert j.recovered == ()


async def test_sending_left_behind_is_recovered_as_unknown(make: Callable[..., Journal]) -> None:
    async with make() as j:
        key = await pending(j)
        await j.mark_sending(key, "trace-x")
        untouched = await pending(j, 1)
    # Opening without recovery shows the raw state, which needs attention.
    async with make(recover=False) as j:
        entry = await j.get(key)
        assert entry is not None and entry.state is S.SENDING and entry.needs_attention
    async with make() as j:
        assert [e.key for e in j.recovered] == [key]
        entry = await j.get(key)
        assert entry is not None and entry.state is S.UNKNOWN and entry.needs_attention
        assert entry.trace_id == "trace-x" and entry.error_type == "Interrupted"
        assert (await j.get(untouched)).state is S.PENDING  # type: ignore[union-attr]
        assert await j.recover() == []
        with pytest.raises(JournalStateError):
            await j.mark_sending(key, "again")  # never resubmitted silently


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pixverse_async.journal import Journal, request_key

    async def main(target, schema):
        options = {"schema": schema, "lease": 0.5} if schema else {}
        j = await Journal.open(target, **options)
        n = 0
        while True:
            body = {"n": n}
            key = request_key("t2v", body)
            await j.mark_pending(key, "t2v", body)
            await j.mark_sending(key, f"trace-{n}")
            print("S", key, flush=True)
            if n % 3:
                await j.mark_submitted(key, 1000 + n, 5)
                print("D", key, flush=True)
            n += 1

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


def start_child(target: str, schema: str = "") -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": PACKAGE_ROOT}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, target, schema],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
async def test_acknowledged_transitions_survive_sigkill(
    where: tuple[str, str], path: Path, make: Callable[..., Journal]
) -> None:
    target, schema = where
    child = start_child(target, schema)
    sending: set[str] = set()
    submitted: set[str] = set()
    try:
        assert child.stdout is not None
        while len(submitted) < 150:
            line = child.stdout.readline()
            assert line, child.stderr.read() if child.stderr else "child died"
            tag, key = line.split()
            (submitted if tag == "D" else sending).add(key)
        if not schema:
            # While the child lives, the SQLite journal is locked against a second opener.
            with pytest.raises(JournalLockedError):
                await Journal.open(path, timeout=0.05)
        os.kill(child.pid, signal.SIGKILL)  # mid-stream, at an arbitrary point
    finally:
        child.kill()
        child.communicate()
    assert child.returncode == -signal.SIGKILL

    async with make() as j:
        recovered = list(j.recovered)
        if j.postgres is not None:
            # The dead worker's SENDING requests move once its lease (0.5 s) has expired.
            deadline = time.monotonic() + 20
            while not (await j.postgres.workers())[0].taken_over:
                assert time.monotonic() < deadline, "the lease never expired"
                recovered += (await j.postgres.take_over()).unknown
                await asyncio.sleep(0.05)
        found = await j.get_many(sending)
        assert set(found) == sending  # every acknowledged write is there
        for key in submitted:
            assert found[key].state is S.SUBMITTED and found[key].video_id is not None
        for key in sending - submitted:
            # Acknowledged SENDING: became UNKNOWN (or got its answer recorded just before
            # the kill); never back to PENDING, so never sent twice.
            assert found[key].state in (S.UNKNOWN, S.SUBMITTED), found[key]
        everything = await j.entries()
        assert not any(e.state is S.SENDING for e in everything)
        for e in everything:
            assert e.state in (S.PENDING, S.SUBMITTED, S.UNKNOWN)
            if e.state is S.UNKNOWN:
                assert e in recovered and e.trace_id is not None
    if not schema:
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        conn.close()


async def test_one_journal_per_file(path: Path) -> None:
    baseline = len(journal_threads())
    async with Journal(path) as j:
        started = time.perf_counter()
        with pytest.raises(JournalLockedError, match="in use"):
            await Journal.open(path, timeout=0.1)
        assert time.perf_counter() - started < 2
        await pending(j)  # the first one is unaffected
    assert len(journal_threads()) == baseline  # the failed opener left no thread behind
    async with Journal(path) as j:  # released on close
        assert len(await j.entries()) == 1


async def test_not_a_journal(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_bytes(b"this is not a database" * 100)
    with pytest.raises(JournalError):
        await Journal.open(bogus)
    with pytest.raises(JournalError):
        await Journal.open(tmp_path / "missing-dir" / "j.sqlite")
    newer = tmp_path / "newer.sqlite"
    conn = sqlite3.connect(newer)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(JournalError, match="schema version 99"):
        await Journal.open(newer)


# ---------------------------------------------------------------------------------------------
# lifecycle


async def test_memory_journal(tmp_path: Path) -> None:
    async with Journal.memory() as j:
        assert j.path == ":memory:"
        key = await pending(j)
        await j.mark_sending(key, "t")
        await j.mark_submitted(key, 3)
        assert (await j.summary())[S.SUBMITTED] == 1
    async with Journal.memory() as j:
        assert await j.entries() == []  # nothing is kept


async def test_close_twice_and_use_after_close(make: Callable[..., Journal]) -> None:
    baseline = len(journal_threads())
    j = make()
    await j.__aenter__()
    store = j.store
    await asyncio.gather(j.close(), j.close())
    await j.close()
    assert j.closed
    assert len(journal_threads()) == baseline  # the SQLite store's thread has ended
    if isinstance(store, PostgresStore):
        assert store._pool is None  # its connections are closed
    with pytest.raises(JournalError, match="closed"):
        await j.get("x")
    with pytest.raises(JournalError, match="closed"):
        await j.__aenter__()
    assert "closed" in repr(j)


async def test_sqlite_store_runs_on_one_thread_while_open(path: Path) -> None:
    baseline = len(journal_threads())
    j = await Journal.open(path)
    assert len(journal_threads()) == baseline + 1
    thread = journal_threads()[-1]
    await j.close()
    assert not thread.is_alive()


def test_open_takes_and_shows_the_arguments_of_journal() -> None:
    opened = inspect.signature(Journal.open)
    assert opened.parameters == inspect.signature(Journal).parameters
    assert opened.return_annotation == "Journal"
    assert inspect.iscoroutinefunction(Journal.open)


async def test_unopened_journal(path: Path) -> None:
    j = Journal(path)
    with pytest.raises(JournalError, match="not open"):
        await j.get("x")
    await j.close()  # fine, nothing to do
    assert not path.exists()


async def test_close_waits_for_queued_writes(make: Callable[..., Journal]) -> None:
    j = make()
    await j.__aenter__()
    keys = [request_key("t2v", {"n": n}) for n in range(50)]
    writes = [asyncio.ensure_future(j.mark_pending(k, "t2v", {"n": n})) for n, k in enumerate(keys)]
    await asyncio.sleep(0)
    await j.close()
    await asyncio.gather(*writes)
    async with make() as j:
        assert len(await j.get_many(keys)) == 50


async def test_cancelled_write_still_completes(journal: Journal) -> None:
    key = await pending(journal)
    task = asyncio.ensure_future(journal.mark_sending(key, "t"))
    await asyncio.sleep(0)  # queued
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The cancellation did not abandon the write half-way: it is recorded.
    assert (await journal.get(key)).state is S.SENDING  # type: ignore[union-attr]


async def test_concurrent_writers_are_all_recorded(journal: Journal) -> None:
    keys = [await pending(journal, n) for n in range(300)]

    async def one(i: int, key: str) -> None:
        await journal.mark_sending(key, f"t{i}")
        await journal.mark_submitted(key, i)

    await asyncio.gather(*(one(i, k) for i, k in enumerate(keys)))
    found = await journal.get_many(keys)
    assert [found[k].video_id for k in keys] == list(range(300))


async def test_unclosed_journal_warns_and_stops_its_thread(path: Path) -> None:
    baseline = len(journal_threads())
    j = await Journal.open(path)
    thread = journal_threads()[-1]
    with pytest.warns(ResourceWarning, match="unclosed"):
        del j
        gc.collect()
    thread.join(5)
    assert not thread.is_alive() and len(journal_threads()) == baseline


# The schema before entries counted resends (SQLite user_version 1).
_V1_SCHEMA = """
CREATE TABLE entries (
    seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, body TEXT NOT NULL,
    state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, trace_id TEXT, video_id INTEGER,
    credits INTEGER, url TEXT, result TEXT, error_type TEXT, error_message TEXT,
    created_at REAL NOT NULL, updated_at REAL NOT NULL
);
INSERT INTO entries (key, kind, body, state, attempts, trace_id, created_at, updated_at)
    VALUES ('k1', 'text_to_video', '{}', 'unknown', 1, 'trace-old', 0, 0);
PRAGMA user_version = 1;
"""


async def test_a_journal_written_before_resends_were_counted_is_migrated(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.executescript(_V1_SCHEMA)
    conn.close()
    async with Journal(path) as journal:
        entry = await journal.requeue("k1")
        assert entry.trace_id == "trace-old" and entry.resends == 0
        entry = await journal.mark_sending("k1", "trace-new")
        assert entry.trace_id == "trace-old" and entry.resends == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()


async def test_a_postgres_journal_without_the_resends_column_gains_it(
    pg_schema: str,
) -> None:
    async with Journal(DSN, schema=pg_schema, batch="migrate-21") as journal:
        key = await pending(journal)
        await journal.mark_sending(key, "trace-old")
        store = journal.postgres
        assert store is not None
        async with store._pool.acquire() as conn:  # type: ignore[union-attr]
            await conn.execute(f'ALTER TABLE "{pg_schema}".pixverse_entries DROP COLUMN resends')
    async with Journal(DSN, schema=pg_schema, batch="migrate-21", recover=False) as journal:
        entry = await journal.get(key)
        assert entry is not None and entry.trace_id == "trace-old" and entry.resends == 0
