"""Image and media id fields given as file paths or URLs: upload them, then use the ids.

``pixverse generate image --img-id cat.png`` uploads ``cat.png`` and sends its ``img_id``.
The same holds for ``first_frame_img``, ``last_frame_img``, the items of ``img_ids``, the
``img_id`` of multi-transition frames and fusion references (images), and
``video_media_id`` / ``audio_media_id`` (media). Each distinct source is uploaded once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from ..client import PixVerse
from ..uploads import UploadKind
from .errors import UsageError
from .progress import BytesProgress

IMAGE_ID_FIELDS = ("img_id", "first_frame_img", "last_frame_img")
MEDIA_ID_FIELDS = ("video_media_id", "audio_media_id")
_NESTED_IMAGE_LISTS = ("multi_transition", "image_references")

Replace = Callable[[UploadKind, Any], Any]


def _swap(kind: UploadKind, value: Any, replace: Replace) -> Any:
    if isinstance(value, str):
        return int(value) if value.isascii() and value.isdigit() else replace(kind, value)
    return value


def map_sources(fields: Mapping[str, Any], replace: Replace) -> dict[str, Any]:
    """``fields`` with every path/URL in an id field replaced by ``replace(kind, source)``."""
    out = dict(fields)
    for name, value in fields.items():
        if name in IMAGE_ID_FIELDS:
            out[name] = _swap("image", value, replace)
        elif name in MEDIA_ID_FIELDS:
            out[name] = _swap("media", value, replace)
        elif name == "img_ids" and isinstance(value, list):
            out[name] = [_swap("image", v, replace) for v in value]
        elif name in _NESTED_IMAGE_LISTS and isinstance(value, list):
            out[name] = [
                {**item, "img_id": _swap("image", item["img_id"], replace)}
                if isinstance(item, dict) and "img_id" in item
                else item
                for item in value
            ]
    return out


def with_placeholders(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with placeholder ids for the sources, to validate before uploading."""
    return map_sources(fields, lambda kind, source: 1)


def sources_in(fields: Mapping[str, Any]) -> dict[str, UploadKind]:
    """Every path/URL in the id fields, with the kind of upload it needs."""
    found: dict[str, UploadKind] = {}

    def note(kind: UploadKind, source: Any) -> Any:
        found[source] = kind
        return 1

    map_sources(fields, note)
    return found


async def upload(client: PixVerse, kind: UploadKind, source: str) -> int:
    """Upload one file or URL; return its ``img_id`` or ``media_id``."""
    bar = BytesProgress(f"uploading {source}")
    try:
        if kind == "image":
            image = await client.images.upload(source, progress=bar)
            uploaded = image.img_id
        else:
            media = await client.media.upload(source, progress=bar)
            uploaded = media.media_id
    except (FileNotFoundError, IsADirectoryError) as exc:
        raise UsageError(f"cannot upload {source}: {exc.strerror or exc}") from None
    finally:
        bar.done()
    print(f"uploaded {source}: {kind} id {uploaded}", file=sys.stderr)
    return uploaded


async def resolve_sources(client: PixVerse, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Upload every path/URL given for an id field and put the ids in their place."""
    ids = {
        source: await upload(client, kind, source) for source, kind in sources_in(fields).items()
    }
    return map_sources(fields, lambda kind, source: ids[source])
