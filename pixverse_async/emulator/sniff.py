"""The emulator's own reading of upload bytes: magic numbers and image dimensions.

Written apart from the client's ``pixverse_async.uploads`` on purpose (a client bug must not
hide its twin here), and kept small. :func:`identify` reads a stored file with a few seeks and
answers a :class:`Format` (PNG, JPEG, WebP; MP4, MOV, WebM; MP3, WAV, M4A, AAC), ``None`` for
content it does not know, or raises :class:`Unreadable` for a header that is cut short or
corrupt. :func:`image_size` reads an image's width and height from its header.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

__all__ = ["FORMATS", "Format", "Unreadable", "identify", "image_size"]


class Unreadable(Exception):
    """The header is cut short by the end of the data, or it makes no sense."""


@dataclass(frozen=True)
class Format:
    kind: str  # "image" | "video" | "audio"
    name: str
    mime: str
    ext: str


PNG = Format("image", "PNG", "image/png", ".png")
JPEG = Format("image", "JPEG", "image/jpeg", ".jpg")
WEBP = Format("image", "WebP", "image/webp", ".webp")
MP4 = Format("video", "MP4", "video/mp4", ".mp4")
MOV = Format("video", "MOV", "video/quicktime", ".mov")
WEBM = Format("video", "WebM", "video/webm", ".webm")
MP3 = Format("audio", "MP3", "audio/mpeg", ".mp3")
WAV = Format("audio", "WAV", "audio/wav", ".wav")
M4A = Format("audio", "M4A", "audio/x-m4a", ".m4a")
AAC = Format("audio", "AAC", "audio/aac", ".aac")
FORMATS = (PNG, JPEG, WEBP, MP4, MOV, WEBM, MP3, WAV, M4A, AAC)

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_EBML = b"\x1a\x45\xdf\xa3"
_STILL_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"}
# Prefixes that announce a format but are too short to hold its signature.
_PREFIXES = (_PNG_SIG, b"\xff\xd8\xff", b"RIFF", _EBML, b"ID3")


def _read(f: BinaryIO, offset: int, n: int) -> bytes:
    f.seek(offset)
    data = f.read(n)
    if len(data) < n:
        raise Unreadable(
            f"the data ends at byte {offset + len(data)}, the header needs {offset + n}"
        )
    return data


def _mpeg_frame(b: bytes) -> Format | None:
    """MP3 (MPEG audio) or AAC (ADTS) from a frame header's first two bytes."""
    if len(b) < 2 or b[0] != 0xFF or b[1] & 0xE0 != 0xE0:
        return None
    layer, version = (b[1] >> 1) & 3, (b[1] >> 3) & 3
    if layer == 0:
        return AAC if b[1] & 0xF6 == 0xF0 else None
    return MP3 if version != 1 else None


def identify(f: BinaryIO, size: int, *, audio_hint: bool = False) -> Format | None:
    """The format of the ``size`` bytes in ``f``; ``audio_hint`` picks M4A for plain MP4 brands."""
    head = _read(f, 0, min(size, 64))
    if size < 12 and any(head.startswith(p) or p.startswith(head) for p in _PREFIXES):
        raise Unreadable(f"{size} bytes cannot hold the signature they start")
    if head[4:8] == b"ftyp" and len(head) < 12:
        raise Unreadable(f"{size} bytes cannot hold an ftyp box")
    if head.startswith(_PNG_SIG):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"RIFF") and len(head) >= 12:
        (claimed,) = struct.unpack("<I", head[4:8])
        form = {b"WEBP": WEBP, b"WAVE": WAV}.get(head[8:12])
        if form is not None and claimed not in (0, 0xFFFFFFFF) and claimed + 8 > size:
            raise Unreadable(f"RIFF says {claimed + 8} bytes, there are {size}")
        return form
    if head[4:8] == b"ftyp" and len(head) >= 12:
        (box,) = struct.unpack(">I", head[:4])
        if box > 1 and box > size:
            raise Unreadable(f"the ftyp box says {box} bytes, there are {size}")
        brand = head[8:12]
        if brand in _STILL_BRANDS:
            return None
        if brand == b"qt  ":
            return MOV
        if brand in (b"M4A ", b"M4B "):
            return M4A
        return M4A if audio_hint else MP4
    if head.startswith(_EBML):
        return WEBM
    if head.startswith(b"ID3"):
        header = _read(f, 0, 10)
        tag = 0
        for byte in header[6:10]:
            tag = (tag << 7) | (byte & 0x7F)
        end = 10 + tag + (10 if header[5] & 0x10 else 0)
        if end > size:
            raise Unreadable(f"the ID3 tag says {end} bytes, there are {size}")
        f.seek(end)
        return AAC if _mpeg_frame(f.read(2)) is AAC else MP3
    return _mpeg_frame(head)


def image_size(f: BinaryIO, fmt: Format) -> tuple[int, int]:
    """``(width, height)`` from the header of a PNG, JPEG or WebP; :class:`Unreadable` if bad."""
    if fmt is PNG:
        chunk = _read(f, 8, 16)
        if chunk[4:8] != b"IHDR":
            raise Unreadable("the first PNG chunk is not IHDR")
        w, h = struct.unpack(">II", chunk[8:16])
        return w, h
    if fmt is WEBP:
        kind = _read(f, 12, 4)
        if kind == b"VP8 ":
            frame = _read(f, 20, 10)
            if frame[3:6] != b"\x9d\x01\x2a":
                raise Unreadable("bad VP8 start code")
            w, h = struct.unpack("<HH", frame[6:10])
            return w & 0x3FFF, h & 0x3FFF
        if kind == b"VP8L":
            frame = _read(f, 20, 5)
            if frame[0] != 0x2F:
                raise Unreadable("bad VP8L signature")
            (bits,) = struct.unpack("<I", frame[1:5])
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if kind == b"VP8X":
            frame = _read(f, 24, 6)
            return int.from_bytes(frame[:3], "little") + 1, int.from_bytes(frame[3:], "little") + 1
        raise Unreadable(f"unknown WebP chunk {kind!r}")
    # JPEG: walk the segments to the first frame header (SOFn).
    pos = 2
    while True:
        marker = _read(f, pos, 2)
        if marker[0] != 0xFF:
            raise Unreadable(f"no JPEG marker at byte {pos}")
        code = marker[1]
        if code == 0xFF:  # fill byte
            pos += 1
            continue
        if code == 0x01 or 0xD0 <= code <= 0xD7:  # standalone markers
            pos += 2
            continue
        if code in (0xD9, 0xDA):
            raise Unreadable("no JPEG frame header before the image data")
        (length,) = struct.unpack(">H", _read(f, pos + 2, 2))
        if length < 2:
            raise Unreadable(f"JPEG segment length {length}")
        if 0xC0 <= code <= 0xCF and code not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", _read(f, pos + 5, 4))
            if h == 0 or w == 0:
                raise Unreadable("JPEG frame header without a size")
            return w, h
        pos += 2 + length
