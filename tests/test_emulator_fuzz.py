"""The emulator answers every input with a PixVerse-style answer, never a 5xx traceback.

Two inputs once crashed it (HTTP 500, a plain-text traceback, the connection closed): a JSON
body in a charset Python does not know, and an id longer than ``int()``'s 4,300-digit limit.
Both have a test here, and a bounded schemathesis run against the spec (completed with the
routes the spec notes describe) keeps every other route so: derandomized (the same examples
on every run), a fixed number of examples per operation, a few seconds in all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from requests import Session

from pixverse_async.constants import API_KEY_HEADER, TRACE_ID_HEADER, ErrCode, Paths
from pixverse_async.emulator import Emulator
from pixverse_async.emulator.validation import VALIDATORS

from .conftest import API_KEY
from .shared_spec import spec_file

HUGE_ID = "9" * 5000  # past int()'s 4,300-digit limit
#: Examples schemathesis draws per operation and generation mode (valid and invalid data).
EXAMPLES_PER_OPERATION = 10


def headers() -> dict[str, str]:
    return {API_KEY_HEADER: API_KEY, TRACE_ID_HEADER: str(uuid.uuid4())}


async def pixverse_error(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    """The answer's JSON envelope, asserting it is an error in PixVerse's shape."""
    assert resp.status < 500 and resp.content_type == "application/json"
    body: dict[str, Any] = await resp.json()
    assert body["ErrCode"] != 0 and body["ErrMsg"] and body["Resp"] is None
    return body


@pytest.mark.parametrize("path", sorted(VALIDATORS))
async def test_a_json_body_in_an_unknown_charset_gets_a_pixverse_error(
    emulator: Emulator, path: str
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            emulator.base_url + path,
            data=b'{"prompt": "a cat"}',
            headers={**headers(), "Content-Type": "application/json; charset=nope"},
        ) as resp:
            body = await pixverse_error(resp)
    assert body["ErrCode"] == ErrCode.INVALID_PARAMETER and "nope" in body["ErrMsg"]


async def test_an_id_past_ints_digit_limit_is_not_found(emulator: Emulator) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(
            emulator.base_url + Paths.VIDEO_RESULT_PREFIX + HUGE_ID, headers=headers()
        ) as resp:
            body = await pixverse_error(resp)
        assert body["ErrCode"] == ErrCode.NOT_FOUND
        for media in (f"/media/videos/{HUGE_ID}.mp4", f"/media/uploads/{HUGE_ID}.png"):
            async with http.get(emulator.base_url + media) as resp:
                assert resp.status == 404, media


# --- a bounded schemathesis run -----------------------------------------------------------------

_HEADERS = [
    {"name": API_KEY_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
    {"name": TRACE_ID_HEADER, "in": "header", "required": True, "schema": {"type": "string"}},
]
_ANY_ANSWER = {"default": {"description": "an answer"}}


def _get(*parameters: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"parameters": [*_HEADERS, *parameters], "responses": _ANY_ANSWER}}


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


#: Routes the spec pages leave out: the status and balance reads (the API notes) and the files the
#: emulator serves at the URLs it answers with.
EXTRA_PATHS = {
    Paths.VIDEO_RESULT: _get(_path_param("video_id")),
    Paths.BALANCE: _get(),
    "/media/videos/{name}": _get(_path_param("name")),
    "/media/uploads/{name}": _get(_path_param("name")),
}


@pytest.fixture(scope="module")
def emulator_process() -> Iterator[str]:
    """An emulator in its own process (schemathesis calls it synchronously); its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pixverse_async.emulator", "--port", "0", "--api-key", API_KEY],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        yield proc.stdout.readline().rsplit(" ", 1)[-1].strip()
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_schemathesis_finds_no_server_error(emulator_process: str) -> None:
    with spec_file("openapi.yaml").open(encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    raw["paths"].update(EXTRA_PATHS)
    schema = schemathesis.openapi.from_dict(raw)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len({*raw["paths"]}) >= 19
    crashes: list[str] = []
    calls = 0
    with Session() as http:
        for operation in operations:
            for mode in (
                schemathesis.GenerationMode.POSITIVE,
                schemathesis.GenerationMode.NEGATIVE,
            ):

                @settings(
                    max_examples=EXAMPLES_PER_OPERATION,
                    derandomize=True,
                    database=None,
                    deadline=None,
                    phases=[Phase.explicit, Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case: Any) -> None:
                    nonlocal calls
                    calls += 1
                    resp = case.call(
                        base_url=emulator_process, session=http, headers=headers(), timeout=10
                    )
                    if resp.status_code >= 500 and not _is_spec_moderation(resp):
                        crashes.append(
                            f"{case.method} {case.formatted_path} -> {resp.status_code}: "
                            f"{resp.text[:300]}"
                        )

                call()
    assert calls >= len(operations) * 2 * 5, calls  # the run really exercised every route
    assert not crashes, "\n".join(crashes[:10])


def _is_spec_moderation(resp: Any) -> bool:
    """The one 500 the spec documents: content moderation, in its lowercase JSON envelope."""
    try:
        body = json.loads(resp.text)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("err_code") == ErrCode.MODERATION_REJECTED
