"""A chaos batch: thousands of mixed jobs through the runner while the emulator misbehaves."""

from __future__ import annotations

from collections import Counter, defaultdict

import aiohttp

from pixverse_async import (
    ImageToVideo,
    PixVerse,
    PollPolicy,
    RetryPolicy,
    TextToVideo,
    Transition,
)
from pixverse_async.emulator import Emulator, FaultConfig
from pixverse_async.emulator.state import Upload
from pixverse_async.runner import OutcomeState

from .conftest import API_KEY

HOLD = RetryPolicy(max_retries=7, base_delay=0.02, max_delay=0.1)

N = 2000
#: Faults after which a submit's outcome is unknown (the emulator's 500 comes before it acts,
#: but the client cannot know that).
AMBIGUOUS = ("html_502", "reset", "slow", "error_500")


def requests(image_a: int, image_b: int) -> list[object]:
    out: list[object] = []
    for i in range(N):
        prompt = (
            f"chaos {i}"
            + (" #fail" if i % 50 == 7 else "")
            + (" #moderated" if i % 50 == 9 else "")
        )
        if i % 3 == 0:
            out.append(
                TextToVideo(
                    prompt=prompt, model="v5", duration=5, quality="540p", aspect_ratio="16:9"
                )
            )
        elif i % 3 == 1:
            out.append(
                ImageToVideo(
                    img_id=image_a, prompt=prompt, model="v4.5", duration=5, quality="360p"
                )
            )
        else:
            out.append(Transition(first_frame_img=image_a, last_frame_img=image_b, prompt=prompt,
                                  model="v5", duration=5, quality="540p"))  # fmt: skip
    return out


async def test_chaos_batch_ends_every_request_and_never_generates_twice() -> None:
    faults = FaultConfig(
        error_500=0.10, html_502=0.05, reset=0.05, concurrency_limited=0.05, slow=0.02,
        slow_seconds=2.0, seed=20261125,
    )  # fmt: skip
    async with Emulator(api_keys={API_KEY}, generation_seconds=0.05, faults=faults) as emu:
        images = []
        for _ in range(2):
            upload_id = emu.state.next_id()
            emu.state.uploads[upload_id] = Upload(
                upload_id, "image", "image/png", emu.app.storage, 1, API_KEY
            )
            images.append(upload_id)
        async with PixVerse(
            api_key=API_KEY,
            base_url=emu.base_url,
            # A held answer (2 s) outlasts the read timeout; a loaded machine (1 s) should not.
            timeout=aiohttp.ClientTimeout(total=None, sock_read=1.0),
            retry=RetryPolicy(max_retries=3, base_delay=0.01, max_delay=0.05),
            poll=PollPolicy(
                first_delay=0.05, interval=0.05, factor=1.0, max_delay=0.05, jitter=0.0
            ),
        ) as client:
            runner = client.runner(concurrency=64, hold=HOLD)
            outcomes = await runner.gather(requests(*images))

    states = Counter(o.state for o in outcomes)
    errors = Counter(o.error_type for o in outcomes if not o.ok)
    print(f"\nchaos: {N} requests -> {dict(states)}; errors {dict(errors)}")
    print(f"emulator: {len(emu.state.requests)} requests, faults "
          f"{dict(Counter(r.fault for r in emu.state.requests if r.fault))}")  # fmt: skip

    assert len(outcomes) == N and [o.index for o in outcomes] == list(range(N))
    per_prompt = Counter(g.body["prompt"] for g in emu.state.generations.values())
    assert max(per_prompt.values()) == 1, "a request was generated twice"
    for outcome in outcomes:
        prompt = outcome.request.prompt
        if outcome.state is OutcomeState.UNKNOWN:
            assert outcome.error_type == "SubmissionUnknownError"
        elif outcome.video_id is not None:
            assert per_prompt[prompt] == 1
    # A submit whose outcome was unknown is resent under its trace id until answered; it is
    # reported unknown exactly when every resend failed too, none silently lost.
    attempts: dict[str | None, list[str | None]] = defaultdict(list)
    for r in emu.state.requests:
        if r.method == "POST":
            attempts[r.trace_id].append(r.fault)
    ambiguous = [f for f in attempts.values() if f[0] in AMBIGUOUS]
    never_answered = sum(1 for f in ambiguous if all(f))
    assert states[OutcomeState.UNKNOWN] == never_answered < len(ambiguous) / 10
    assert states[OutcomeState.SUCCEEDED] > N * 0.9
