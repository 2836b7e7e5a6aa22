"""``pixverse webhook listen`` prints verified events from the emulator, never the secret."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from typing import Any

import pytest

from pixverse_async import PixVerse
from pixverse_async.cli.main import main
from pixverse_async.constants import Paths
from pixverse_async.emulator import Emulator

from .conftest import API_KEY, FAST_RETRY

SECRET = "whsec-cli-SECRET-31337"
FIELDS = {"prompt": "a kite", "model": "v5", "duration": 5, "quality": "540p",
          "aspect_ratio": "16:9", "webhook_id": "1234"}  # fmt: skip


async def listen(*argv: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pixverse_async", *argv,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


async def listening_url(proc: asyncio.subprocess.Process) -> str:
    assert proc.stderr is not None
    line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
    assert "listening for webhooks on" in line, line
    return line.rsplit(" ", 1)[-1].strip()


async def deliver(url: str, *bodies: dict[str, Any]) -> tuple[Emulator, list[int]]:
    """Generations sent with webhook 1234 (signed with SECRET) or 5678 (a wrong secret)."""
    webhooks = {"1234": (url, SECRET), "5678": (url, "whsec-wrong-one")}
    async with Emulator(
        api_keys={API_KEY}, generation_seconds=0.01, webhooks=webhooks,
        webhook_retry_scale=0.00001,
    ) as emu:  # fmt: skip
        async with PixVerse(api_key=API_KEY, base_url=emu.base_url, retry=FAST_RETRY) as client:
            ids = []
            for body in bodies:
                resp = await client.session.request(
                    "POST", Paths.TEXT_TO_VIDEO, json_body={**FIELDS, **body}, paid=True
                )
                ids.append(int(resp["video_id"]))
            await emu.webhooks.drain()
    return emu, ids


async def stop(proc: asyncio.subprocess.Process) -> tuple[str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0
    return out.decode(), err.decode()


async def test_listen_prints_verified_events_as_json() -> None:
    proc = await listen("--json", "webhook", "listen", "--port", "0", "--secret", SECRET)
    try:
        url = await listening_url(proc)
        assert url.endswith("/webhook")
        emu, [video_id] = await deliver(url, {})
        assert proc.stdout is not None
        line = json.loads(await asyncio.wait_for(proc.stdout.readline(), 30))
    finally:
        out, err = await stop(proc)
    assert line["video_id"] == video_id and line["status"] == "successful"
    assert line["status_code"] == 1 and line["url"].endswith(f"{video_id}.mp4")
    assert line["trace_id"] == emu.state.generations[video_id].trace_id
    assert emu.state.deliveries_for(video_id)[0].acknowledged
    assert SECRET not in out + err


async def test_listen_takes_the_secret_from_the_environment_and_reports_refusals() -> None:
    proc = await listen(
        "webhook", "listen", "--port", "0", "--path", "/hooks/pv",
        env={"PIXVERSE_WEBHOOK_SECRET": SECRET},
    )  # fmt: skip
    try:
        url = await listening_url(proc)
        assert url.endswith("/hooks/pv")
        emu, [refused_id, video_id] = await deliver(
            url, {"webhook_id": "5678"}, {"prompt": "a kite #fail"}
        )
    finally:
        out, err = await stop(proc)
    [line] = out.splitlines()
    assert line.startswith(f"video_id={video_id}  status=failed  status_code=8")
    assert {r.http_status for r in emu.state.deliveries_for(refused_id)} == {401}
    assert "webhook refused (bad_signature)" in err
    assert SECRET not in out + err and "whsec-wrong-one" not in out + err


def test_listen_without_a_secret_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIXVERSE_WEBHOOK_SECRET", raising=False)
    assert main(["webhook", "listen", "--port", "0"]) == 2
    assert "PIXVERSE_WEBHOOK_SECRET" in capsys.readouterr().err
