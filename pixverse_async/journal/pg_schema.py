"""The PostgreSQL journal's schema: its tables, SQL functions and trigger, and their names.

The store's parts (:mod:`.postgres`, :mod:`.pg_claims`, :mod:`.pg_limits`,
:mod:`.pg_spending`) share what is here: the table names of a schema (:class:`Tables`), the
condition that a worker holds its lease (:meth:`Tables.alive`), the columns of an entry, and
the way an operation runs on a connection (:class:`Retrying`). :func:`create_schema` makes
them on first open, the way :mod:`.sqlite` keeps its statements beside its store.

Example::

    from pixverse_async.journal.pg_schema import Tables

    tables = Tables("public")
    assert tables.entries == '"public".pixverse_entries'
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

import attrs

from ..constants import Limits
from .entry import COLUMNS
from .errors import JournalError
from .pg_listener import CHANNEL

if TYPE_CHECKING:
    import asyncpg

__all__ = [
    "COLS",
    "DURABLE",
    "E_COLS",
    "SCHEMA_VERSION",
    "Retrying",
    "Tables",
    "create_schema",
    "ident",
]

_T = TypeVar("_T")

SCHEMA_VERSION: Final = 1
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
DURABLE: Final = "set_config('synchronous_commit', 'on', true) IS NOT NULL"
"""A condition added to the one statement of a crash-safety point (``durable`` in the table):
it turns ``synchronous_commit`` on for its own transaction, so the commit returns once the WAL
is flushed to disk, in one round trip. Every other write commits asynchronously, like SQLite's
``synchronous=NORMAL``: it survives the client's death at once and the server's within a
fraction of a second (``wal_writer_delay``), and losing it only ever moves an entry back to a
state that is handled more cautiously."""
SLOT_SECONDS: Final = Limits.SLOT_RELEASE_SECONDS
COLS: Final = ", ".join(COLUMNS)
E_COLS: Final = ", ".join(f"e.{c}" for c in COLUMNS)


class Retrying(Protocol):
    """The store's way to run an operation on a connection (retried when it is lost)."""

    def __call__(
        self,
        op: Callable[[asyncpg.Connection], Awaitable[_T]],
        *,
        after_loss: Callable[[asyncpg.Connection], Awaitable[_T | None]] | None = None,
    ) -> Awaitable[_T]: ...


def ident(value: str, what: str) -> str:
    """``value`` if it is a plain SQL name (safe to put in a statement), else JournalError."""
    if not NAME.fullmatch(value):
        raise JournalError(
            f"{what} must be a plain SQL name (letters, digits, _; at most 63), got {value!r}"
        )
    return value


@attrs.frozen
class Tables:
    """The journal's tables in ``schema`` (a plain SQL name: see :func:`ident`)."""

    schema: str

    @property
    def entries(self) -> str:
        return f'"{self.schema}".pixverse_entries'

    @property
    def workers(self) -> str:
        return f'"{self.schema}".pixverse_workers'

    @property
    def batches(self) -> str:
        return f'"{self.schema}".pixverse_batches'

    @property
    def accounts(self) -> str:
        return f'"{self.schema}".pixverse_accounts'

    def alive(self, worker: str) -> str:
        """SQL: the worker ``worker`` (a placeholder or a column) holds its lease: not
        expired, not taken over. What every claim and send of a worker is conditioned on, and
        what the account's in-flight count counts."""
        return (
            f"EXISTS (SELECT 1 FROM {self.workers} WHERE id = {worker}"
            " AND expires_at > clock_timestamp() AND taken_over_by IS NULL)"
        )


async def create_schema(
    conn: asyncpg.Connection,
    tables: Tables,
    name: str,
    also: Callable[[asyncpg.Connection], Awaitable[None]],
) -> None:
    """Create what is missing (one opener at a time per schema) and check the version;
    ``also`` creates the tables of another part (the shared spending) in the same transaction.
    """
    e, s = tables.entries, tables.schema
    async with conn.transaction():
        # Concurrent first opens must not race on CREATE: one at a time per schema.
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", f"pixverse:{s}")
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{s}"')
        await conn.execute(f"""
            CREATE TABLE IF NOT EXISTS "{s}".pixverse_meta (version integer NOT NULL);
            CREATE TABLE IF NOT EXISTS {tables.batches} (
                batch      text PRIMARY KEY,
                account    text NOT NULL
            );
            CREATE TABLE IF NOT EXISTS {e} (
                batch         text NOT NULL,
                seq           bigint GENERATED ALWAYS AS IDENTITY,
                key           text NOT NULL,
                kind          text NOT NULL,
                body          text NOT NULL,
                state         text NOT NULL CHECK (state IN ('pending', 'sending',
                                'submitted', 'succeeded', 'failed', 'unknown')),
                attempts      integer NOT NULL DEFAULT 0,
                trace_id      text,
                video_id      bigint,
                credits       integer,
                url           text,
                result        text,
                error_type    text,
                error_message text,
                created_at    double precision NOT NULL,
                updated_at    double precision NOT NULL,
                worker        text,     -- the worker holding it
                op            text,     -- token of the claim or takeover that moved it
                resends       integer NOT NULL DEFAULT 0,
                PRIMARY KEY (batch, key)
            );
            -- journals made before resends were counted
            ALTER TABLE {e} ADD COLUMN IF NOT EXISTS resends integer NOT NULL DEFAULT 0;
            CREATE INDEX IF NOT EXISTS pixverse_entries_seq ON {e} (batch, seq);
            CREATE INDEX IF NOT EXISTS pixverse_entries_state ON {e} (batch, state);
            CREATE INDEX IF NOT EXISTS pixverse_entries_worker ON {e} (worker)
                WHERE state IN ('pending', 'sending', 'submitted');
            CREATE INDEX IF NOT EXISTS pixverse_entries_op ON {e} (op);
            -- what claim() takes, in its order: it reads the next unclaimed requests only,
            -- not every claimed or unclaimed one of the batch
            CREATE INDEX IF NOT EXISTS pixverse_entries_claimable
                ON {e} (batch, (state = 'pending'), seq)
                WHERE worker IS NULL AND state IN ('pending', 'submitted');
            CREATE TABLE IF NOT EXISTS {tables.workers} (
                id             text PRIMARY KEY,
                batch          text NOT NULL,
                host           text NOT NULL,
                pid            integer NOT NULL,
                started_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
                expires_at     timestamptz NOT NULL,
                taken_over_by  text
            );
            CREATE TABLE IF NOT EXISTS {tables.accounts} (
                account     text PRIMARY KEY,
                configured  integer NOT NULL CHECK (configured > 0),
                target      double precision NOT NULL
            );
            CREATE OR REPLACE FUNCTION "{s}".pixverse_notify() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('{CHANNEL}', json_build_object('schema', TG_TABLE_SCHEMA,
                    'batch', NEW.batch, 'key', NEW.key, 'state', NEW.state)::text);
                RETURN NULL;
            END $$;
            -- In flight: what may be generating on the service, whoever holds it. Being
            -- sent by a live worker; or SUBMITTED (or SENDING, its sender gone) for less
            -- time than PixVerse counts a generation against the account's limit. A dead
            -- or stopped worker's generations count until their end is recorded (its
            -- batch's take-over, or any run of the account watching them) or that time
            -- passes.
            CREATE OR REPLACE FUNCTION "{s}".pixverse_in_flight(p_account text)
            RETURNS bigint LANGUAGE sql VOLATILE AS $$
                SELECT count(*) FROM {e} e JOIN {tables.batches} b USING (batch)
                WHERE b.account = p_account AND e.state IN ('sending', 'submitted')
                    AND (e.updated_at > extract(epoch from now()) - {SLOT_SECONDS}
                        OR e.state = 'sending' AND {tables.alive("e.worker")})
            $$;
            CREATE OR REPLACE FUNCTION "{s}".pixverse_send_room(p_account text)
            RETURNS integer
            LANGUAGE plpgsql VOLATILE AS $$
            DECLARE
                allowed integer;
                busy bigint;
            BEGIN
                -- The account row's lock, held to the commit, makes the workers' checks
                -- take turns; the count after it (a new snapshot) sees every send before.
                SELECT greatest(1, floor(target))::integer INTO allowed
                    FROM {tables.accounts} WHERE account = p_account FOR UPDATE;
                IF allowed IS NULL THEN
                    RAISE EXCEPTION 'account % has no shared limit (set_limit first)',
                        p_account;
                END IF;
                busy := "{s}".pixverse_in_flight(p_account);
                RETURN greatest(0, allowed - busy);
            END $$;
            CREATE OR REPLACE TRIGGER pixverse_entries_notify AFTER UPDATE OF state ON {e}
                FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
                    AND NEW.state IN ('pending', 'succeeded', 'failed', 'unknown'))
                EXECUTE FUNCTION "{s}".pixverse_notify();
        """)
        await also(conn)
        version = await conn.fetchval(f'SELECT max(version) FROM "{s}".pixverse_meta')
        if version is None:
            await conn.execute(f'INSERT INTO "{s}".pixverse_meta VALUES ($1)', SCHEMA_VERSION)
        elif version > SCHEMA_VERSION:
            raise JournalError(
                f"journal {name} (schema {s}) has version {version}; this version"
                f" of pixverse_async reads up to {SCHEMA_VERSION}"
            )
