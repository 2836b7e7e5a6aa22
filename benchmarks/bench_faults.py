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

A second table runs capped batches through the runner (concurrency 64, 10 % of generations
failing and refunded, no price function), the emulator's ledger the judge of the peak spend:
20 batches whose prices no table knows (random prices on models PixVerse publishes none for),
20 where the emulator charges random prices for models the SDK's published table prices (the
table is wrong: how far a wrong price can take a cap), and caps of 100 and 500 with the
emulator charging PixVerse's published v5 prices.

Run: ``python -m benchmarks.bench_faults [--n 300 --concurrency 16 --rate 0.2 --seed 21]``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp

from pixverse_async import PixVerse, PixVerseError, PollPolicy, RetryPolicy, TextToVideo
from pixverse_async.emulator import Emulator, FaultConfig
from pixverse_async.emulator.credits import PriceTable

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


def _requests(rng: random.Random, models: Sequence[str], n: int, tag: str) -> list[TextToVideo]:
    combos = [(q, d) for q in ("360p", "540p", "720p", "1080p") for d in (5, 8)
              if (q, d) != ("1080p", 8)]  # fmt: skip
    out = []
    for i in range(n):
        quality, duration = rng.choice(combos)
        out.append(TextToVideo(prompt=f"{tag} {i}", model=rng.choice(models), quality=quality,
                               duration=duration, aspect_ratio="16:9"))  # fmt: skip
    return out


def _peak(emu: Emulator, key: str) -> int:
    spend = peak = 0
    entries = emu.state.ledger.entries(key, now=float("inf"))
    for entry in sorted(entries, key=lambda e: (e.at, e.kind == "refund")):
        spend += entry.amount
        peak = max(peak, spend)
    return peak


async def capped(
    label: str, table: PriceTable, models: Sequence[str], caps: Sequence[int], seed: int
) -> list[str]:
    """One row: ``len(caps)`` capped batches of 100 requests, each on its own key."""
    rng = random.Random(seed)
    over = worst = sent = not_sent = 0
    spent_share: list[float] = []
    keys = [f"{KEY}-cap{i}" for i in range(len(caps))]
    async with Emulator(
        api_keys=set(keys), generation_seconds=0.05, failure_rate=0.1, prices=table, seed=seed
    ) as emu:
        for key, cap in zip(keys, caps, strict=True):
            requests = _requests(rng, models, 100, key)
            async with PixVerse(api_key=key, base_url=emu.base_url, poll=POLL) as c:
                outcomes = await c.runner(concurrency=64, max_credits=cap).gather(requests)
            peak = _peak(emu, key)
            over += peak > cap
            worst = max(worst, peak - cap)
            sent += sum(o.video_id is not None for o in outcomes)
            not_sent += sum(o.state.value == "not_submitted" for o in outcomes)
            spent_share.append(peak / cap if cap else 1.0)
    return [
        label,
        str(len(caps)),
        " ".join(map(str, caps)) if len(caps) <= 2 else f"{min(caps)}-{max(caps)}",
        str(over),
        str(max(worst, 0)),
        f"{min(spent_share):.2f}",
        str(sent),
        str(not_sent),
    ]


async def measure_caps(seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    caps = [rng.randint(0, 3000) for _ in range(20)]
    unknown = PriceTable.random(seed=seed, low=5, high=200)
    return [
        await capped("unknown prices", unknown, ["v5.5", "v5.6", "v9"], caps, seed),
        await capped("wrong table", unknown, ["v4.5", "v5"], caps, seed),
        await capped("published v5", PriceTable.published(), ["v5"], [100, 500], seed),
    ]


CAP_HEADERS = ("prices", "batches", "caps", "over", "most over", "min peak/cap", "sent",
               "not sent")  # fmt: skip

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
    print()
    print("capped batches of 100 requests, concurrency 64, 10% failures, no price function")
    print(table(CAP_HEADERS, asyncio.run(measure_caps(args.seed))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
