"""Image template generation (docs/api-notes.md): an ImageJob polled on the one poll schedule."""

from __future__ import annotations

from pathlib import Path

import pytest

from pixverse_async import APIError, JobTimeoutError, PixVerse, ValidationError
from pixverse_async.constants import ErrCode, Paths
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.state import Upload
from pixverse_async.jobs.image_job import ImageJob
from pixverse_async.jobs.polling import PollPolicy
from pixverse_async.types import ImageResult, ImageTemplate, from_json

from .conftest import API_KEY, FAST_POLL


def image(emu: Emulator, tmp_path: Path) -> int:
    upload_id = emu.state.next_id()
    path = tmp_path / f"{upload_id}.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n")
    emu.state.uploads[upload_id] = Upload(upload_id, "image", "image/png", path, 8, API_KEY)
    return upload_id


async def test_an_image_template_job_waits_for_its_image(
    emulator: Emulator, client: PixVerse, tmp_path: Path
) -> None:
    img = image(emulator, tmp_path)
    job = await client.image_templates.generate(img_ids=[img], template_id=302325299692608)
    assert isinstance(job, ImageJob) and job.credits == 10  # the answer names it "credit"
    result = await job.wait()
    assert result.is_successful and result.url and result.image_id == job.image_id
    assert [r.path for r in emulator.state.requests].count(Paths.IMAGE_TEMPLATE) == 1
    polls = [r for r in emulator.state.requests if r.path.startswith(Paths.IMAGE_RESULT_PREFIX)]
    assert polls and all(r.trace_id for r in polls)
    # the request object form, with the call's options
    job = await client.image_templates.generate(
        ImageTemplate(img_ids=[img], template_id=7), extra_headers={"X-Experiment": "i"}
    )
    assert emulator.state.requests[-1].headers["X-Experiment"] == "i"


async def test_image_template_errors(emulator: Emulator, client: PixVerse) -> None:
    with pytest.raises(APIError) as info:
        await client.image_templates.generate(img_ids=[2**63], template_id=7)
    assert info.value.err_code == ErrCode.INVALID_IMAGE_ID
    before = len(emulator.state.requests)
    with pytest.raises(ValidationError):
        await client.image_templates.generate(img_ids=[], template_id=7)
    with pytest.raises(ValidationError):
        await client.image_templates.generate(img_ids=[1])
    assert len(emulator.state.requests) == before


async def test_waiting_times_out_on_the_shared_schedule(tmp_path: Path) -> None:
    async with (
        Emulator(api_keys={API_KEY}, generation_seconds=600) as emu,
        PixVerse(api_key=API_KEY, base_url=emu.base_url, poll=FAST_POLL) as client,
    ):
        job = await client.image_templates.generate(img_ids=[image(emu, tmp_path)], template_id=7)
        with pytest.raises(JobTimeoutError) as info:
            await job.wait(PollPolicy(first_delay=0, interval=0.01, factor=1, timeout=0.1))
        assert info.value.status == 5  # still generating: the last status seen


def test_the_result_is_read_leniently() -> None:
    result = from_json(ImageResult, {"status": 5, "progress": 40})
    assert not result.is_done and result.url is None and result.extra == {"progress": 40}
