"""Ambiguous submits against a faulty service: videos delivered, generated twice, money lost.

300 unique text-to-video submits at concurrency 16 against the emulator with 20 % faults of
every kind on every API request (HTTP 500 before acting, an HTML 502 and a reset connection
after acting, answers held past the client's read timeout, 500044 and 429), four ways side by
side: single calls (``videos.text_to_video`` then ``job.wait()``) and the job runner, each with
the SDK's resends of an unknown outcome on (the default) and off (``resend_ambiguous=False``).
The emulator answers a reused trace id with the first result, as PixVerse documents;
``--no-dedup`` models a service that would generate again.

Per way: videos the caller got; requests generated twice; requests paid for (a generation
exists) but reported failed or unknown to the caller; for the runner, the credits its
outcomes report against the emulator's ledger (charged minus refunded).

Run: ``python -m benchmarks.bench_faults [--n 300 --concurrency 16 --rate 0.2 --seed 21]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp

from pixverse_async import PixVerse, PixVerseError, PollPolicy, RetryPolicy, TextToVideo
from pixverse_async.emulator import Emulator, FaultConfig

from ._util import table

KEY = "bench-faults"
FIELDS: dict[str, Any] = {"model": "v5", "duration": 5, "quality": "540p", "aspect_ratio": "16:9"}
POLL = PollPolicy(first_delay=0.05, interval=0.05, factor=1.0, max_delay=0.05, jitter=0.0)
RETRY = RetryPolicy(max_retries=3, base_delay=0.02, max_delay=0.2)
#: Shares of the fault rate per kind (every kind the emulator injects on a request).
MIX = {
    "error_500": 0.2,
    "html_502": 0.2,
    "reset": 0.2,
    "slow": 0.15,
    "concurrency_limited": 0.15,
    "rate_limited": 0.1,
}


def faults(rate: float, seed: int) -> FaultConfig:
    shares = {kind: rate * share for kind, share in MIX.items()}
    return FaultConfig(**shares, slow_seconds=1.5, retry_after="0", seed=seed)  # type: ignore[arg-type]


def client(emu: Emulator, resend: bool) -> PixVerse:
    return PixVerse(
        api_key=KEY,
        base_url=emu.base_url,
        # a held answer (1.5 s) outlasts the read timeout
        timeout=aiohttp.ClientTimeout(total=None, sock_read=0.5),
        retry=RETRY,
        poll=POLL,
        resend_ambiguous=resend,
    )


async def single_calls(
    emu: Emulator, prompts: list[str], concurrency: int, resend: bool
) -> dict[str, str | None]:
    """Each prompt's end as the caller saw it: None for a video, else the error's type."""
    limit = asyncio.Semaphore(concurrency)
    ends: dict[str, str | None] = {}

    async def one(c: PixVerse, prompt: str) -> None:
        async with limit:
            try:
                job = await c.videos.text_to_video(prompt=prompt, **FIELDS)
                await job.wait()
                ends[prompt] = None
            except PixVerseError as exc:
                ends[prompt] = type(exc).__name__

    async with client(emu, resend) as c:
        await asyncio.gather(*(one(c, p) for p in prompts))
    return ends


async def runner(
    emu: Emulator, prompts: list[str], concurrency: int, resend: bool
) -> tuple[dict[str, str | None], int]:
    """Each prompt's end through the runner, and the credits its outcomes report spent."""
    ends: dict[str, str | None] = {}
    async with client(emu, resend) as c:
        requests = [TextToVideo(prompt=p, **FIELDS) for p in prompts]
        async with c.runner(concurrency=concurrency, hold=RETRY).run(requests) as stream:
            async for outcome in stream:
                ends[outcome.request.prompt] = None if outcome.ok else outcome.error_type
            spent = stream.progress.credits_spent
    return ends, spent


async def measure(n: int, concurrency: int, rate: float, seed: int, dedup: bool) -> list[list[str]]:
    rows = []
    for way in ("single calls", "runner"):
        for resend in (True, False):
            async with Emulator(
                api_keys={KEY},
                generation_seconds=0.05,
                faults=faults(rate, seed),
                dedup_trace_ids=dedup,
                seed=seed,
            ) as emu:
                prompts = [f"{way} {resend} {i}" for i in range(n)]
                spent: int | None = None
                if way == "runner":
                    ends, spent = await runner(emu, prompts, concurrency, resend)
                else:
                    ends = await single_calls(emu, prompts, concurrency, resend)
                generated = Counter(g.body["prompt"] for g in emu.state.generations.values())
                ledger = emu.state.ledger.spent(KEY)
                injected = sum(1 for r in emu.state.requests if r.fault)
            errors = Counter(e for e in ends.values() if e is not None)
            rows.append(
                [
                    way,
                    "on" if resend else "off",
                    str(sum(1 for e in ends.values() if e is None)),
                    str(sum(1 for c in generated.values() if c > 1)),
                    str(sum(1 for p, e in ends.items() if e is not None and generated[p])),
                    str(errors["SubmissionUnknownError"]),
                    str(sum(errors.values()) - errors["SubmissionUnknownError"]),
                    "-" if spent is None else str(spent),
                    str(ledger),
                    str(injected),
                ]
            )
    return rows


HEADERS = (
    "way", "resend", "delivered", "twice", "paid+lost", "unknown", "failed", "reported",
    "ledger", "faults",
)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--no-dedup", action="store_true", help="a service that generates again")
    args = parser.parse_args(argv)
    rows = asyncio.run(
        measure(args.n, args.concurrency, args.rate, args.seed, dedup=not args.no_dedup)
    )
    print(
        f"{args.n} unique submits, concurrency {args.concurrency}, {args.rate:.0%} faults on every"
        f" request, emulator dedup by trace id {'off' if args.no_dedup else 'on'}"
    )
    print(table(HEADERS, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
