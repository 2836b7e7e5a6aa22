"""Bad input: requests built from arbitrary JSON-like mappings, and arbitrary upload files.

tests/test_models.py already fuzzes every request class's fields one by one and
``build_request`` with random keys (which mostly stop at "unknown field"). This adds what it
cannot reach: *valid* mappings of every kind broken in a few places at once (so the checks
behind the first one run too, nested frames and references included), with a round trip for
those accepted (``to_json`` is strict JSON and builds the same request again), and the upload
preflight (:func:`~pixverse_async.uploads.inspect_upload`) on arbitrary and mutated files,
names and sources. Only ``ValidationError`` may escape, with ``.field`` set.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pixverse_async.errors import ValidationError
from pixverse_async.models import REQUEST_KINDS, build_request, converter, to_json
from pixverse_async.uploads import AsyncSizedSource, UploadInfo, field_for, inspect_upload

from .strategies import json_scalars, json_values, one_in
from .test_upload_checks import CASES

# Explicit example counts (README, "Reliability", reports them).
REQUEST_EXAMPLES = 200  # per request kind
UPLOAD_EXAMPLES = 1000  # bytes and streams, each
FILE_EXAMPLES = 200  # files on disk


JSON_SCALARS = json_scalars(text_size=12)
JSON_VALUES = json_values(JSON_SCALARS, max_leaves=8)
#: Values that are valid somewhere (enum strings, ids, durations), to get past type checks.
PLAUSIBLE = st.sampled_from(
    ["v3.5", "v4", "v4.5", "v5", "v6", "360p", "540p", "720p", "1080p", "16:9", "9:16", "1:1",
     "normal", "fast", "anime", "3d_animation", "zoom_in", "subject", "background", "@dog", "dog",
     "Auto", "7", " ", "", "x" * 2049, "x" * 2048, 0, 1, 2, 3, 5, 8, 30, -1, 2**31 - 1, 2**31,
     2**63 - 1, 2**63, 1.0, 5.0, True, False, None, [], {}, [1, 2], [0], ["1"]]
)  # fmt: skip
FRAME_OR_REF = st.fixed_dictionaries(
    {},
    optional={
        k: PLAUSIBLE | JSON_SCALARS
        for k in ("img_id", "duration", "prompt", "type", "ref_name", "extra")
    },
)
VALUE = PLAUSIBLE | JSON_VALUES | st.lists(FRAME_OR_REF, max_size=9)

BASE: dict[str, dict[str, Any]] = {
    "text_to_video": {"prompt": "a cat", "model": "v5", "duration": 5, "quality": "540p",
                      "aspect_ratio": "16:9", "seed": 7},
    "image_to_video": {"prompt": "a cat", "model": "v4.5", "duration": 5, "quality": "540p",
                       "img_id": 3},
    "transition": {"prompt": "morph", "model": "v5", "duration": 5, "quality": "540p",
                   "first_frame_img": 1, "last_frame_img": 2},
    "multi_transition": {"model": "v5", "quality": "360p",
                         "multi_transition": [{"img_id": 1, "duration": 3}, {"img_id": 2}]},
    "extend": {"source_video_id": 9, "prompt": "on", "quality": "540p", "duration": 5, "seed": 1,
               "model": "v4.5"},
    "fusion": {"image_references": [{"type": "subject", "img_id": 1, "ref_name": "dog"},
                                    {"type": "background", "img_id": 2, "ref_name": "room"}],
               "prompt": "@dog at @room", "model": "v4.5", "duration": 5, "quality": "540p",
               "aspect_ratio": "16:9", "seed": 7},
    "restyle": {"source_video_id": 5, "restyle_id": 3},
    "swap": {"video_media_id": 3, "mask_id": "12", "img_id": 4, "quality": "360p"},
    "mimic": {"img_id": 1, "video_media_id": 2},
    "modify": {"source_video_id": 5, "prompt": "remove @selection0"},
    "lip_sync": {"source_video_id": 1, "audio_media_id": 2},
    "sound_effect": {"source_video_id": 12},
}  # fmt: skip

FUZZ = settings(
    max_examples=REQUEST_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck)
)


def test_base_mappings_cover_every_kind_and_are_valid() -> None:
    assert set(BASE) == set(REQUEST_KINDS)
    for kind, fields in BASE.items():
        assert type(build_request({"kind": kind, **fields})) is REQUEST_KINDS[kind]


@st.composite
def broken_mappings(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A valid mapping of ``kind`` with some fields set to anything, dropped or added."""
    data = dict(BASE[kind])
    names = [f.name for f in attrs.fields(REQUEST_KINDS[kind])]  # type: ignore[arg-type]
    for name in draw(st.lists(st.sampled_from(names), max_size=3, unique=True)):
        if name in data and draw(one_in(5)):
            del data[name]
        else:
            seen = [b[name] for b in BASE.values() if name in b]  # valid in some kind
            pool = [st.sampled_from(seen)] * 2 if seen else []
            data[name] = draw(st.one_of(*pool, PLAUSIBLE, VALUE))
    if draw(one_in(10)):
        data[draw(st.text(max_size=10))] = draw(JSON_SCALARS)
    return data


def _strict_json(value: Any) -> str:
    return json.dumps(value, allow_nan=False)


@pytest.mark.parametrize("kind", sorted(REQUEST_KINDS))
@FUZZ
@given(data=st.data())
def test_broken_mappings_raise_only_validation_error(kind: str, data: Any) -> None:
    mapping = data.draw(broken_mappings(kind))
    try:
        req = build_request({"kind": kind, **mapping})
    except ValidationError as exc:
        assert isinstance(exc.field, str), exc
        assert exc.field or "unknown field" in exc.rule, exc  # an unknown key "" is named ""
        event("refused")
        return
    event("accepted")
    body = to_json(req)
    _strict_json(body)  # no NaN, no infinity, nothing json cannot write
    fields = attrs.fields_dict(type(req))
    typed = {k: v for k, v in body.items() if k in fields}
    extra = {k: v for k, v in body.items() if k not in fields} or None  # extra_body's keys
    rebuilt = build_request({"kind": kind, **typed, "extra_body": extra})
    assert rebuilt == req  # the body means the same request
    assert converter.structure({**typed, "extra_body": extra}, type(req)) == req


@pytest.mark.parametrize("kind", sorted(REQUEST_KINDS))
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mappings_from_json_text_raise_only_validation_error(kind: str, data: Any) -> None:
    """What a batch file holds: JSON text, possibly with NaN/Infinity, parsed then built."""
    mapping = data.draw(broken_mappings(kind))
    text = json.dumps(mapping)  # allow_nan: Python's json writes and reads NaN
    try:
        build_request({"kind": kind, **json.loads(text)})
    except ValidationError as exc:
        assert isinstance(exc.field, str), exc


def test_nan_and_infinity_never_pass_as_numbers() -> None:
    for value in (math.nan, math.inf, -math.inf, 5.0, "5"):
        with pytest.raises(ValidationError) as info:
            build_request({"kind": "text_to_video", **BASE["text_to_video"], "duration": value})
        assert info.value.field == "duration"


# --- uploads ----------------------------------------------------------------------------------

SAMPLES = [data for _name, data, _kind, _fmt, _mime in CASES]
ODD_NAMES = [
    "", ".", "..", "../../etc/passwd", "/abs/x.png", "C:\\x.jpg", "a.PNG", "a.png.mp4", "x.",
    ".png", "a.jpg\x00.mp4", "ü.webp", "a" * 300 + ".png", "a.m4a", "a.mov", "a.aac",
]  # fmt: skip
NAMES = st.one_of(st.none(), st.text(max_size=20), st.sampled_from(ODD_NAMES))


@st.composite
def contents(draw: st.DrawFn) -> bytes:
    """Arbitrary bytes, or a valid file of some format cut, spliced or flipped."""
    how = draw(st.sampled_from(["random", "valid", "truncated", "flipped", "spliced", "padded"]))
    if how == "random":
        return draw(st.binary(max_size=300))
    data = draw(st.sampled_from(SAMPLES))
    if how == "truncated":
        return data[: draw(st.integers(0, len(data)))]
    if how == "flipped":
        at = draw(st.integers(0, len(data) - 1))
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    if how == "spliced":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    if how == "padded":
        return data + bytes(draw(st.integers(0, 5000)))
    return data


def _check_info(info: UploadInfo, size: int, kind: str) -> None:
    assert info.size == size
    assert info.field == field_for(kind)  # type: ignore[arg-type]
    assert info.kind in (("image",) if kind == "image" else ("video", "audio"))
    assert isinstance(info.filename, str) and info.filename


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


UPLOAD_FUZZ = settings(
    max_examples=UPLOAD_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck)
)


@UPLOAD_FUZZ
@given(
    data=contents(),
    kind=st.sampled_from(["image", "media"]),
    name=NAMES,
    wrap=st.sampled_from([bytes, bytearray, memoryview]),
)
async def test_inspect_bytes_raises_only_validation_error(
    data: bytes, kind: Any, name: str | None, wrap: Any
) -> None:
    try:
        info = await inspect_upload(wrap(data), kind=kind, name=name)
    except ValidationError as exc:
        assert exc.field == field_for(kind), exc
        assert str(exc)
        event(type(exc).__name__)
        return
    event("accepted")
    _check_info(info, len(data), kind)


@UPLOAD_FUZZ
@given(
    data=contents(),
    kind=st.sampled_from(["image", "media"]),
    name=NAMES,
    cuts=st.lists(st.integers(0, 10_000), max_size=6),
    declared=st.sampled_from(["exact", "less", "more"]),
)
async def test_inspect_streams_raises_only_validation_error(
    data: bytes, kind: Any, name: str | None, cuts: list[int], declared: str
) -> None:
    pieces = _chunks(data, cuts)

    async def chunks() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    size = {"exact": len(data), "less": max(0, len(data) - 7), "more": len(data) + 7}[declared]
    source = AsyncSizedSource(chunks, size=size, filename=name)
    try:
        info = await inspect_upload(source, kind=kind)
    except ValidationError as exc:
        assert exc.field == field_for(kind), exc
        return
    _check_info(info, size, kind)


@settings(max_examples=FILE_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=contents(), kind=st.sampled_from(["image", "media"]), name=NAMES)
async def test_inspect_files_raises_only_validation_error(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, kind: Any, name: str | None
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "upload.bin"
    path.write_bytes(data)
    try:
        info = await inspect_upload(path, kind=kind, name=name)
    except ValidationError as exc:
        assert exc.field == field_for(kind), exc
        return
    _check_info(info, len(data), kind)


@given(kind=st.text(max_size=10).filter(lambda k: k not in ("image", "media")))
@settings(max_examples=30, deadline=None)
async def test_inspect_unknown_kind_is_a_validation_error(kind: str) -> None:
    with pytest.raises(ValidationError) as info:
        await inspect_upload(b"\x89PNG", kind=kind)  # type: ignore[arg-type]
    assert info.value.field == "kind"


async def test_inspect_urls_and_directories(tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as info:
        await inspect_upload("https://example.com/a.png", kind="image")
    assert info.value.field == "image"
    with pytest.raises(ValidationError) as info:
        await inspect_upload(tmp_path, kind="media")
    assert info.value.field == "file"
