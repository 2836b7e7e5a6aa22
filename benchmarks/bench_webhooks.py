"""Webhook receiving: verified events per second of ``webhook_handler`` on one core.

A server process pinned to one CPU (``sched_setaffinity``) serves two routes on 127.0.0.1:

- ``bare``: reads the body and answers ``ok`` (what any aiohttp route costs);
- ``handler``: ``webhook_handler(secret, on_event)``: size check, header parsing, timestamp
  window, JSON, HMAC-SHA256 (constant-time compare), replay guard, event decoding, dedupe by
  (id, status), a sync ``on_event`` that counts, ``ok``.

This process (the other core) posts pre-signed deliveries (each a new video id and nonce, so
none is a duplicate) with ``--concurrency`` in flight, interleaving the two routes round by
round. The figure that answers "events per second on one core" is ``events per server CPU-s``:
events handled divided by the CPU seconds the server process used (steady on a shared machine);
the wall rate is shown too. ``verify()`` alone (in this process, no HTTP) is the last row.

Run: ``python -m benchmarks.bench_webhooks [--n 20000 --rounds 3 --concurrency 32]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence

import aiohttp
from aiohttp import web

from pixverse_async.emulator.webhooks import sign
from pixverse_async.webhooks import WebhookEvent, WebhookVerifier, webhook_handler

from ._util import ROOT, median, process_cpu_seconds, results_section, table

SECRET = "bench-webhook-secret"
SECRET_ENV = "BENCH_WEBHOOK_SECRET"


# ----------------------------------------------------------------------------- the server


async def _serve() -> None:
    counted = 0

    def on_event(event: WebhookEvent) -> None:
        nonlocal counted
        counted += 1

    async def bare(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/bare", bare)
    app.router.add_post("/handler", webhook_handler(os.environ[SECRET_ENV], on_event))
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    try:
        await asyncio.Event().wait()  # until terminated
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def server(cpu: int) -> Iterator[tuple[str, int]]:
    """The server process pinned to ``cpu``: its URL and pid."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.bench_webhooks", "--serve", "--cpu", str(cpu)],
        cwd=ROOT,
        env={**os.environ, SECRET_ENV: SECRET},
        stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if "listening on" not in line:
            raise RuntimeError(f"the webhook server did not start: {line!r}")
        yield line.rsplit(" ", 1)[-1].strip(), proc.pid
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


# ----------------------------------------------------------------------------- the load


def deliveries(n: int, first_id: int) -> list[tuple[dict[str, str], bytes]]:
    """``n`` signed deliveries of distinct videos (signed by the emulator's own signer)."""
    now = str(int(time.time()))
    made = []
    for i in range(n):
        video_id = first_id + i
        body = {
            "id": str(video_id), "status": 1, "url": f"https://cdn.example/v/{video_id}.mp4",
            "size": 10.5, "has_audio": True, "credits": 30,
        }  # fmt: skip
        nonce = f"{video_id:032d}"
        headers = {
            "Content-Type": "application/json",
            "Webhook-Timestamp": now,
            "Webhook-Nonce": nonce,
            "Webhook-Signature": sign(SECRET, now, nonce, body, order="body"),
            "Ai-Trace-Id": f"trace-{video_id}",
        }
        made.append((headers, json.dumps(body).encode()))
    return made


async def post_all(
    http: aiohttp.ClientSession, url: str, batch: list[tuple[dict[str, str], bytes]], conc: int
) -> float:
    """Post every delivery; return the wall seconds. Every answer must be 200 ``ok``."""
    todo = iter(batch)

    async def worker() -> None:
        for headers, body in todo:
            async with http.post(url, data=body, headers=headers) as resp:
                text = await resp.text()
                if resp.status != 200 or text != "ok":
                    raise RuntimeError(f"{url}: HTTP {resp.status} {text!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    return time.perf_counter() - started


async def measure(
    url: str, pid: int, n: int, rounds: int, conc: int
) -> dict[str, list[tuple[float, float]]]:
    """Per route, per round: (events per wall second, events per server CPU second)."""
    results: dict[str, list[tuple[float, float]]] = {"bare": [], "handler": []}
    next_id = 10**12
    connector = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=connector) as http:
        warm = deliveries(min(n, 2000), next_id)
        next_id += len(warm)
        for route in results:
            await post_all(http, f"{url}/{route}", warm, conc)
        for _ in range(rounds):
            for route in results:
                batch = deliveries(n, next_id)
                next_id += n
                cpu_before = process_cpu_seconds(pid)
                wall = await post_all(http, f"{url}/{route}", batch, conc)
                cpu = process_cpu_seconds(pid) - cpu_before
                results[route].append((n / wall, n / cpu if cpu > 0 else float("nan")))
    return results


def verify_rate(n: int) -> float:
    """``WebhookVerifier.verify`` calls per second, in this process (no HTTP)."""
    batch = deliveries(n, 5 * 10**12)
    verifier = WebhookVerifier(SECRET, max_nonces=n + 1)
    started = time.process_time()
    for headers, body in batch:
        verifier.verify(headers, body)
    return n / (time.process_time() - started)


def report(results: dict[str, list[tuple[float, float]]], verify: float) -> str:
    bare_cpu = median([c for _, c in results["bare"]])
    rows = []
    for route, runs in results.items():
        wall, cpu = median([w for w, _ in runs]), median([c for _, c in runs])
        rows.append([route, f"{wall:,.0f}", f"{cpu:,.0f}", f"{1e6 / cpu:.0f}",
                     f"{cpu / bare_cpu:.2f}"])  # fmt: skip
    rows.append(["verify() only", "-", f"{verify:,.0f}", f"{1e6 / verify:.0f}",
                 f"{verify / bare_cpu:.2f}"])  # fmt: skip
    return table(
        ["route", "events/s (wall)", "events per server CPU-s", "server CPU us/event",
         "rate vs bare"],
        rows,
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_webhooks", description=__doc__
    )
    parser.add_argument("--n", type=int, default=20_000, help="deliveries per route and round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--concurrency", type=int, default=32, help="deliveries in flight")
    parser.add_argument("--cpu", type=int, default=0, help="the CPU the server is pinned to")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    return parser


def run(args: argparse.Namespace, out: Callable[[str], None] = print) -> str:
    """Measure and print; return the Markdown section for RESULTS.md."""
    with server(args.cpu) as (url, pid):
        results = asyncio.run(measure(url, pid, args.n, args.rounds, args.concurrency))
    text = report(results, verify_rate(args.n))
    out(text)
    return results_section(
        "Webhook handler",
        f"`python -m benchmarks.bench_webhooks --n {args.n} --rounds {args.rounds} "
        f"--concurrency {args.concurrency}`: signed deliveries posted over loopback to a "
        "server process pinned to one CPU, medians of interleaved rounds. `events per server "
        "CPU-s` is the handler's rate on one core (target: 5,000 verified events per second); "
        "`bare` is an aiohttp route that only reads the body and answers `ok`.",
        text,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.serve:
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {args.cpu})
        asyncio.run(_serve())
        return 0
    if hasattr(os, "sched_setaffinity"):  # the load on the other CPUs
        others = set(os.sched_getaffinity(0)) - {args.cpu}
        if others:
            os.sched_setaffinity(0, others)
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
