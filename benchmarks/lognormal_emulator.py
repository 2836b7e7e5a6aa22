"""An emulator process whose generations take log-normally distributed times.

``python -m benchmarks.lognormal_emulator --port 0 --api-key K --median 1 --sigma 0.4``
prints ``PixVerse emulator listening on URL`` like ``python -m pixverse_async.emulator``.
The n-th generation it accepts runs ``generation_times(n, ...)[n - 1]`` seconds, so a
benchmark can compute the ideal wall time of the very times the emulator used.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
from collections.abc import Sequence
from typing import Any

from pixverse_async.emulator import EmulatorConfig
from pixverse_async.emulator.__main__ import serve
from pixverse_async.emulator.webhooks import parse_webhook_option


def generation_times(n: int, *, median: float, sigma: float, seed: int) -> list[float]:
    """The first ``n`` generation times the emulator draws with these settings."""
    draw = random.Random(seed)
    return [draw.lognormvariate(math.log(median), sigma) for _ in range(n)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lognormal_emulator")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--limit", type=int, default=100, help="generations per key at once")
    parser.add_argument("--median", type=float, default=1.0, help="median generation seconds")
    parser.add_argument("--sigma", type=float, default=0.4, help="log-normal sigma")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--webhook", action="append", default=[], metavar="ID=URL,SECRET",
        help="deliver signed webhooks for generations sent with webhook_id ID",
    )  # fmt: skip
    parser.add_argument("--webhook-retry-scale", type=float, default=1.0)
    args = parser.parse_args(argv)
    draw = random.Random(args.seed)
    log_median = math.log(args.median)

    def generation_time(body: dict[str, Any]) -> float:
        return draw.lognormvariate(log_median, args.sigma)

    config = EmulatorConfig(
        api_keys=frozenset({args.api_key}),
        max_concurrent_generations=args.limit,
        generation_time=generation_time,
        webhooks=dict(parse_webhook_option(text) for text in args.webhook),
        webhook_retry_scale=args.webhook_retry_scale,
    )
    asyncio.run(serve(config, "127.0.0.1", args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
