"""The stateful simulation of issue 20 (see ``tests/simulation.py``), on SQLite and PostgreSQL.

CI runs a bounded number of examples, the same ones every time (derandomized). A long search
draws fresh ones: ``PIXVERSE_SIM_EXAMPLES=20000 python -m pytest tests/test_simulation.py -k
sqlite`` (``PIXVERSE_SIM_PG_EXAMPLES`` for PostgreSQL). A failure prints the shrunk world and
steps; ``simulate(world, steps, tmp_path)`` replays it.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from .simulation import Step, World, simulate, step_lists, worlds

LONG = os.environ.get("PIXVERSE_SIM_EXAMPLES")
SQLITE_EXAMPLES = int(LONG or 25)
PG_EXAMPLES = int(os.environ.get("PIXVERSE_SIM_PG_EXAMPLES") or 10)


def search(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=LONG is None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


@search(SQLITE_EXAMPLES)
@given(world=worlds("sqlite"), steps=step_lists("sqlite"))
def test_simulation_on_sqlite(world: World, steps: list[Step]) -> None:
    with tempfile.TemporaryDirectory(prefix="pixverse-sim-") as tmp:
        asyncio.run(simulate(world, steps, Path(tmp)))


@search(PG_EXAMPLES)
@given(world=worlds("postgres"), steps=step_lists("postgres"))
def test_simulation_on_postgres(
    postgres_dsn: str, pg_schema: str, world: World, steps: list[Step]
) -> None:
    with tempfile.TemporaryDirectory(prefix="pixverse-sim-") as tmp:
        asyncio.run(simulate(world, steps, Path(tmp), dsn=postgres_dsn, schema=pg_schema))
