"""Writes the sample files README's and the docs' samples read: three small PNG images and one
second of audio (a WAV tone). They are committed; rerun this only to change them::

    python examples/assets/make_assets.py
"""

from __future__ import annotations

import math
import struct
import wave
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: name -> (width, height, top colour, bottom colour): a vertical gradient each.
IMAGES = {
    "cat.png": (320, 180, (240, 170, 90), (120, 70, 30)),
    "dog.png": (320, 240, (150, 200, 240), (40, 80, 140)),
    "room.png": (640, 360, (230, 225, 210), (110, 100, 90)),
}


def png(width: int, height: int, top: tuple[int, ...], bottom: tuple[int, ...]) -> bytes:
    """An RGB PNG shading from ``top`` to ``bottom``."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body))
        return struct.pack(">I", len(body)) + kind + body + crc

    rows = []
    for y in range(height):
        t = y / max(1, height - 1)
        pixel = bytes(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True))
        rows.append(b"\x00" + pixel * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    body = zlib.compress(b"".join(rows), 9)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


def write_tone(path: Path, seconds: float = 1.0, rate: int = 8000, hertz: float = 440.0) -> None:
    """A mono 16-bit WAV tone."""
    frames = b"".join(
        struct.pack("<h", round(8000 * math.sin(2 * math.pi * hertz * i / rate)))
        for i in range(int(seconds * rate))
    )
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)


if __name__ == "__main__":
    for name, (width, height, top, bottom) in IMAGES.items():
        (HERE / name).write_bytes(png(width, height, top, bottom))
    write_tone(HERE / "voice.wav")
    print("wrote", ", ".join([*IMAGES, "voice.wav"]), "in", HERE)
