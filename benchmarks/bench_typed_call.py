"""What the typed keyword call itself costs: the SDK's own CPU per submit, the network left out.

``bench_layers`` measures whole submits against raw aiohttp over loopback, where the network
stack dominates and a shared machine adds noise. This one isolates the request layer: the
session's ``request`` is replaced by a coroutine returning a fixed ``Resp``, so what is timed
is only building and validating the request, its JSON, decoding the answer and the job:

- ``prebuilt``: ``client.videos.submit(request)`` with a request built once;
- ``object``: ``client.videos.submit(TextToVideo(**fields))``;
- ``keywords``: ``client.videos.text_to_video(**fields)`` (the typed method).

``keywords / object`` is what the typed method adds over building the request by hand.
Run: ``python -m benchmarks.bench_typed_call [--n 20000 --rounds 7]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pixverse_async import PixVerse
from pixverse_async.types import TextToVideo

from ._util import table

FIELDS: dict[str, Any] = {
    "prompt": "a paper boat on a stream", "model": "v5", "duration": 5, "quality": "540p",
    "aspect_ratio": "16:9",
}  # fmt: skip
RESP = {"video_id": 300000000000001, "credits": 30}


async def _answer(*_args: Any, **_kwargs: Any) -> Any:
    return RESP


async def _best_cpu(n: int, rounds: int, call: Callable[[], Awaitable[object]]) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(n):
            await call()
        best = min(best, (time.process_time() - started) / n * 1e6)
    return best


async def measure(n: int, rounds: int) -> dict[str, float]:
    """Best CPU microseconds per call of each form."""
    async with PixVerse(api_key="bench", base_url="http://127.0.0.1:9") as client:
        client.videos._session.request = _answer  # type: ignore[method-assign]
        prebuilt = TextToVideo(**FIELDS)
        forms: dict[str, Callable[[], Awaitable[object]]] = {
            "prebuilt": lambda: client.videos.submit(prebuilt),
            "object": lambda: client.videos.submit(TextToVideo(**FIELDS)),
            "keywords": lambda: client.videos.text_to_video(**FIELDS),
        }
        return {name: await _best_cpu(n, rounds, call) for name, call in forms.items()}


def report(results: dict[str, float]) -> str:
    base = results["object"]
    rows = [[name, f"{cpu:.2f}", f"{cpu / base:.2f}"] for name, cpu in results.items()]
    return table(["form", "SDK CPU us/call", "vs object"], rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_typed_call", description=__doc__
    )
    parser.add_argument("--n", type=int, default=20000, help="calls per form and round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds (the best is kept)")
    args = parser.parse_args(argv)
    print(report(asyncio.run(measure(args.n, args.rounds))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
