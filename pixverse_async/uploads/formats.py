"""File types from magic bytes, and image dimensions from headers, without decoding.

:func:`sniff` looks only at the first bytes of a file (never its name) and answers with a
:class:`SniffedType` from the formats the upload endpoints take:

====== ======= =========================================================== ====================
kind   format  recognised by                                               MIME sent
====== ======= =========================================================== ====================
image  PNG     ``89 50 4E 47 0D 0A 1A 0A``                                 image/png
image  JPEG    ``FF D8 FF``                                                image/jpeg
image  WebP    ``RIFF....WEBP``                                            image/webp
video  MP4     ISO-BMFF ``ftyp`` box at offset 4, any other brand           video/mp4
video  MOV     ``ftyp`` with major brand ``qt``                            video/quicktime
video  WebM    EBML ``1A 45 DF A3`` (WebM or Matroska)                     video/webm
audio  MP3     ``ID3`` tag, or an MPEG audio frame header (``FFEx``)       audio/mpeg
audio  WAV     ``RIFF....WAVE``                                            audio/wav
audio  M4A     ``ftyp`` with major brand ``M4A``                           audio/x-m4a
audio  AAC     ADTS frame header (``FFF1``, ``FFF9``; CRC variants too)    audio/aac
====== ======= =========================================================== ====================

The image header parsers (:func:`read_image_size`) read through a small random-access
:class:`HeaderSource`, so a JPEG whose frame header sits after large metadata segments costs
a few short reads, not a read of everything before it.
"""

from __future__ import annotations

import struct
from typing import Literal, Protocol

import attrs

__all__ = [
    "AAC",
    "FORMATS",
    "JPEG",
    "M4A",
    "MOV",
    "MP3",
    "MP4",
    "PNG",
    "SNIFF_BYTES",
    "WAV",
    "WEBM",
    "WEBP",
    "HeaderSource",
    "SniffedType",
    "describe_unknown",
    "ftyp_brands",
    "format_for_extension",
    "read_image_size",
    "sniff",
    "truncated_signature",
]

MediaKind = Literal["image", "video", "audio"]

#: How many leading bytes :func:`sniff` needs to decide (more is harmless).
SNIFF_BYTES = 4096


@attrs.frozen
class SniffedType:
    """What a file's bytes say it is.

    ``kind`` is ``"image"``, ``"video"`` or ``"audio"``; ``format`` a short name
    (``"PNG"``, ``"MOV"``, ...); ``mime`` the MIME type sent with the upload (one of the
    spec's list); ``extension`` the canonical file name extension, with its dot.

    Example::

        >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(16)).mime
        'image/png'
    """

    kind: MediaKind
    format: str
    mime: str
    extension: str


PNG = SniffedType("image", "PNG", "image/png", ".png")
JPEG = SniffedType("image", "JPEG", "image/jpeg", ".jpg")
WEBP = SniffedType("image", "WebP", "image/webp", ".webp")
MP4 = SniffedType("video", "MP4", "video/mp4", ".mp4")
MOV = SniffedType("video", "MOV", "video/quicktime", ".mov")
WEBM = SniffedType("video", "WebM", "video/webm", ".webm")
MP3 = SniffedType("audio", "MP3", "audio/mpeg", ".mp3")
WAV = SniffedType("audio", "WAV", "audio/wav", ".wav")
M4A = SniffedType("audio", "M4A", "audio/x-m4a", ".m4a")
AAC = SniffedType("audio", "AAC", "audio/aac", ".aac")

#: Every format the upload endpoints take, images first.
FORMATS: tuple[SniffedType, ...] = (PNG, JPEG, WEBP, MP4, MOV, WEBM, MP3, WAV, M4A, AAC)

#: The extensions the spec names, and the format each one announces.
_EXTENSIONS: dict[str, SniffedType] = {
    ".png": PNG,
    ".jpg": JPEG,
    ".jpeg": JPEG,
    ".webp": WEBP,
    ".mp4": MP4,
    ".mov": MOV,
    ".webm": WEBM,
    ".mp3": MP3,
    ".wav": WAV,
    ".m4a": M4A,
    ".aac": AAC,
}

#: ISO-BMFF formats: one container, told apart only by brand (and by track types).
ISO_BMFF = (MP4, MOV, M4A)

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_EBML_SIG = b"\x1a\x45\xdf\xa3"
_QT_BRAND = b"qt  "
_M4A_BRANDS = (b"M4A ", b"M4B ")
# HEIF/AVIF still images share the ftyp box: never mistake them for video.
_IMAGE_BRANDS = (
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"
)  # fmt: skip
_ADTS_RATES = 13  # sampling frequency indexes 0..12 are defined


def format_for_extension(filename: str) -> SniffedType | None:
    """The format a file name's extension announces, if it is one the spec names.

    Example::

        >>> format_for_extension("Cat.JPEG").format
        'JPEG'
        >>> format_for_extension("notes.txt") is None
        True
    """
    dot = filename.rfind(".")
    if dot <= 0 or "/" in filename[dot:] or "\\" in filename[dot:]:
        return None
    return _EXTENSIONS.get(filename[dot:].lower())


def sniff(data: bytes) -> SniffedType | None:
    """The upload format the leading bytes of a file show, or ``None``.

    Give it at least :data:`SNIFF_BYTES` bytes when the file has them (an MP3 starting with a
    large ID3 tag needs the bytes after the tag to be told apart from ADTS AAC; when they are
    missing, MP3 is assumed).

    Example::

        >>> sniff(b"\\xff\\xd8\\xff\\xe0" + bytes(20)).format
        'JPEG'
        >>> sniff(b"GIF89a...") is None
        True
    """
    data = bytes(data[:SNIFF_BYTES])
    if data.startswith(_PNG_SIG):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(data) >= 12 and data.startswith(b"RIFF"):
        if data[8:12] == b"WEBP":
            return WEBP
        if data[8:12] == b"WAVE":
            return WAV
        return None
    if len(data) >= 12 and data[4:8] == b"ftyp":
        major = data[8:12]
        if major in _IMAGE_BRANDS:
            return None
        if major == _QT_BRAND:
            return MOV
        if major in _M4A_BRANDS:
            return M4A
        return MP4
    if data.startswith(_EBML_SIG):
        return WEBM
    if data.startswith(b"ID3") and len(data) >= 10:
        end = id3_tag_end(data)
        if end is not None and _is_adts(data[end : end + 7]):
            return AAC
        return MP3
    if _is_adts(data):
        return AAC
    if _is_mpeg_audio(data):
        return MP3
    return None


def truncated_signature(data: bytes) -> tuple[str, int] | None:
    """The format whose signature ``data`` starts but is too short to hold, and its length.

    Example::

        >>> truncated_signature(b"\\x89PNG")
        ('PNG', 8)
    """
    if len(data) < 2:
        return None
    for sig, name in ((_PNG_SIG, "PNG"), (b"\xff\xd8\xff", "JPEG"), (_EBML_SIG, "WebM")):
        if len(data) < len(sig) and sig.startswith(data):
            return name, len(sig)
    if len(data) < 10 and data.startswith(b"ID3"):
        return "MP3", 10
    if len(data) < 12 and data.startswith(b"RIFF"):
        return "RIFF (WebP or WAV)", 12
    if 8 <= len(data) < 12 and data[4:8] == b"ftyp":
        return "MP4/MOV/M4A", 12
    return None


def describe_unknown(data: bytes) -> str | None:
    """A name for well-known formats the API does not take (for error messages).

    Example::

        >>> describe_unknown(b"GIF89a")
        'GIF'
    """
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if data.startswith(b"BM"):
        return "BMP"
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in _IMAGE_BRANDS:
        return "HEIF/AVIF"
    if data.startswith(b"%PDF"):
        return "PDF"
    if data.startswith(b"OggS"):
        return "Ogg"
    if data.startswith(b"fLaC"):
        return "FLAC"
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"AVI ":
        return "AVI"
    if data.startswith(b"PK\x03\x04"):
        return "ZIP"
    sniffed = sniff(data)
    return sniffed.format if sniffed else None


def ftyp_brands(data: bytes) -> tuple[bytes, ...]:
    """The major and compatible brands of a leading ISO-BMFF ``ftyp`` box (as far as read)."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return ()
    (box,) = struct.unpack(">I", data[:4])
    end = min(len(data), box if box >= 16 else 16)
    brands = [data[8:12]]
    brands += [data[i : i + 4] for i in range(16, end - 3, 4)]
    return tuple(brands)


def id3_tag_end(data: bytes) -> int | None:
    """Offset just past a leading ID3v2 tag (with its footer), or ``None`` if malformed."""
    if len(data) < 10 or not data.startswith(b"ID3"):
        return None
    size_bytes = data[6:10]
    if any(b & 0x80 for b in size_bytes):
        return None
    size = (size_bytes[0] << 21) | (size_bytes[1] << 14) | (size_bytes[2] << 7) | size_bytes[3]
    footer = 10 if data[5] & 0x10 else 0
    return 10 + size + footer


def _is_adts(data: bytes) -> bool:
    # 12-bit sync 0xFFF, layer 00 (MPEG audio never uses layer 00), a defined sample rate.
    if len(data) < 7 or data[0] != 0xFF or (data[1] & 0xF6) != 0xF0:
        return False
    frame_length = ((data[3] & 0x03) << 11) | (data[4] << 3) | (data[5] >> 5)
    return ((data[2] >> 2) & 0x0F) < _ADTS_RATES and frame_length >= 7


def _is_mpeg_audio(data: bytes) -> bool:
    # 11-bit sync, a defined version and layer, a bitrate index other than "bad",
    # a defined sample rate.
    if len(data) < 4 or data[0] != 0xFF or (data[1] & 0xE0) != 0xE0:
        return False
    version = (data[1] >> 3) & 0x03
    layer = (data[1] >> 1) & 0x03
    bitrate = data[2] >> 4
    rate = (data[2] >> 2) & 0x03
    return version != 1 and layer != 0 and bitrate != 0x0F and rate != 3


# --------------------------------------------------------------------------- dimensions


class HeaderSource(Protocol):
    """Random access to the first bytes of a file, for the header parsers.

    ``read(offset, n)`` returns exactly ``n`` bytes or raises: :class:`HeaderTruncated` past
    the end of the file, :class:`HeaderScanLimit` past the read budget.
    """

    async def read(self, offset: int, n: int) -> bytes: ...


class HeaderCorrupt(Exception):
    """A header with an impossible structure (reported as a TruncatedFileError)."""


class HeaderTruncated(Exception):
    """The file ends before the header does; ``needed`` is the size the header needed."""

    def __init__(self, needed: int) -> None:
        super().__init__(needed)
        self.needed = needed


class HeaderScanLimit(Exception):
    """The header was not found within the read budget."""


class HeaderShortRead(Exception):
    """The source delivered fewer bytes than its measured size: it changed since."""

    def __init__(self, actual: int) -> None:
        super().__init__(actual)
        self.actual = actual


class HeaderUnsupported(Exception):
    """A valid header of a variant the service cannot read either (e.g. JPEG with DNL)."""


async def read_image_size(fmt: SniffedType, src: HeaderSource) -> tuple[int, int]:
    """Width and height in pixels from an image's header, reading as little as it can.

    Raises :class:`HeaderTruncated`, :class:`HeaderCorrupt`, :class:`HeaderScanLimit` or
    :class:`HeaderUnsupported`.
    """
    if fmt is PNG:
        return await _png_size(src)
    if fmt is JPEG:
        return await _jpeg_size(src)
    if fmt is WEBP:
        return await _webp_size(src)
    raise ValueError(f"{fmt.format} is not an image format")


async def _png_size(src: HeaderSource) -> tuple[int, int]:
    ihdr = await src.read(8, 16)  # length, "IHDR", width, height
    length, chunk_type, width, height = struct.unpack(">I4sII", ihdr)
    if chunk_type != b"IHDR" or length != 13:
        raise HeaderCorrupt("the first chunk is not IHDR")
    if width == 0 or height == 0:
        raise HeaderCorrupt(f"IHDR says {width}x{height} px")
    return width, height


# SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG extension) and CC (DAC) share the range.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers without a length field: TEM, RST0..RST7, SOI. EOI and SOS end the search.
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), 0xD8})


async def _jpeg_size(src: HeaderSource) -> tuple[int, int]:
    pos = 2  # after SOI
    while True:
        if (await src.read(pos, 1))[0] != 0xFF:
            pos += 1  # stray bytes between segments: libjpeg skips them too
            continue
        while (await src.read(pos, 1))[0] == 0xFF:
            pos += 1  # fill bytes
        marker = (await src.read(pos, 1))[0]
        pos += 1
        if marker == 0x00 or marker in _STANDALONE:
            continue
        if marker == 0xD9:
            raise HeaderCorrupt("end of image before any frame header (SOFn)")
        if marker == 0xDA:
            raise HeaderCorrupt("scan data before any frame header (SOFn)")
        (length,) = struct.unpack(">H", await src.read(pos, 2))
        if length < 2:
            raise HeaderCorrupt(f"segment FF{marker:02X} with length {length}")
        if marker in _SOF_MARKERS:
            if length < 8:
                raise HeaderCorrupt(f"frame header FF{marker:02X} of {length} bytes")
            _precision, height, width = struct.unpack(">BHH", await src.read(pos + 2, 5))
            if width == 0:
                raise HeaderCorrupt("frame header with width 0")
            if height == 0:
                raise HeaderUnsupported("its height is defined later by a DNL marker")
            return width, height
        pos += length


async def _webp_size(src: HeaderSource) -> tuple[int, int]:
    chunk = await src.read(12, 4)
    if chunk == b"VP8 ":
        data = await src.read(20, 10)
        if data[3:6] != b"\x9d\x01\x2a":
            raise HeaderCorrupt("VP8 key frame start code missing")
        width, height = struct.unpack("<HH", data[6:10])
        width, height = width & 0x3FFF, height & 0x3FFF
    elif chunk == b"VP8L":
        data = await src.read(20, 5)
        if data[0] != 0x2F:
            raise HeaderCorrupt("VP8L signature byte missing")
        (bits,) = struct.unpack("<I", data[1:5])
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8X":
        data = await src.read(20, 10)
        width = int.from_bytes(data[4:7], "little") + 1
        height = int.from_bytes(data[7:10], "little") + 1
    else:
        raise HeaderCorrupt(f"unknown first chunk {chunk!r}")
    if width == 0 or height == 0:
        raise HeaderCorrupt(f"size {width}x{height} px")
    return width, height
