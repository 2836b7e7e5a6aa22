"""A batch process for the crash tests: ``python -m tests.batch_child URL JOURNAL N``.

Prints one line per outcome; the parent SIGKILLs it at some point and resumes the batch.
"""

from __future__ import annotations

import asyncio
import sys

from pixverse_async import PixVerse, PollPolicy
from pixverse_async.models import TextToVideo

KEY = "crash-key"
POLL = PollPolicy(first_delay=0.05, interval=0.02, factor=1.0, max_delay=0.02, jitter=0.0)


def batch(n: int) -> list[TextToVideo]:
    return [
        TextToVideo(prompt=f"request {i}", model="v5", duration=5, quality="540p",
                    aspect_ratio="16:9")
        for i in range(n)
    ]  # fmt: skip


async def main(base_url: str, journal: str, n: int) -> None:
    async with PixVerse(api_key=KEY, base_url=base_url, poll=POLL) as client:
        runner = client.runner(concurrency=8, journal=journal)
        async with runner.run(batch(n)) as outcomes:
            async for outcome in outcomes:
                print(outcome.index, outcome.state.value, flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
