"""Typed errors of the upload preflight checks and of streaming an upload.

Every one is a :class:`pixverse_async.errors.ValidationError` (so also a ``ValueError``):
it is raised before the service could act on the file. ``field`` is the multipart field
name (``"image"`` for image uploads, ``"file"`` for video and audio), ``source_name`` the
file as the caller named it (a path, the ``name=`` given, ``"<bytes>"`` or ``"<stream>"``),
and ``str(err)`` is one sentence naming the file and the limit it broke::

    cat.png: 21000000 bytes, images must be under 20971520 bytes (20 MiB)
"""

from __future__ import annotations

from typing import Any

from ..errors import PixVerseError, ValidationError

__all__ = [
    "EmptyFileError",
    "ExtensionMismatchError",
    "FileChangedError",
    "FileMissingError",
    "FileTooLargeError",
    "FileUnreadableError",
    "ImageDimensionsError",
    "SourceConsumedError",
    "TruncatedFileError",
    "UnsupportedFileTypeError",
    "UploadError",
    "file_error",
]


def _rebuild(cls: type[UploadError], state: dict[str, Any]) -> UploadError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, state.get("message", ""))
    return err


class UploadError(ValidationError):
    """Base of the upload checks: a file the API would refuse, or one that changed.

    ``str(err)`` is :attr:`message`; ``rule`` is the part after the file name.
    """

    def __init__(self, field: str, source_name: str, rule: str, value: object = None) -> None:
        super().__init__(field, rule, value)
        self.source_name = source_name
        self.message = f"{source_name}: {rule}"
        self.args = (self.message,)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.__dict__))


class EmptyFileError(UploadError):
    """The file has no bytes at all.

    Example::

        await inspect_upload(b"", kind="image")   # <bytes>: the file is empty (0 bytes)
    """

    def __init__(self, field: str, source_name: str) -> None:
        super().__init__(field, source_name, "the file is empty (0 bytes)", 0)
        self.size = 0


class FileTooLargeError(UploadError):
    """The file is over the size limit: images must be *under* 20 MiB, media *at most* 50 MiB.

    ``size`` is the file's size, ``limit`` the limit in bytes and ``inclusive`` whether a
    file of exactly ``limit`` bytes is allowed.
    """

    def __init__(
        self, field: str, source_name: str, *, size: int, limit: int, inclusive: bool, what: str
    ) -> None:
        bound = "at most" if inclusive else "under"
        rule = f"{size} bytes, {what} must be {bound} {limit} bytes ({_human(limit)})"
        super().__init__(field, source_name, rule, size)
        self.size = size
        self.limit = limit
        self.inclusive = inclusive


class UnsupportedFileTypeError(UploadError):
    """The content is not one of the formats this upload takes (found from its bytes).

    ``detected`` is the format the bytes look like (e.g. ``"GIF"``, ``"MP3"``) or ``None``;
    ``accepted`` the formats the upload takes.
    """

    def __init__(
        self,
        field: str,
        source_name: str,
        *,
        detected: str | None,
        accepted: tuple[str, ...],
        reason: str | None = None,
    ) -> None:
        wanted = _join(accepted)
        if reason is None:
            what = f"the content is {detected}" if detected else "the content is not recognised"
            reason = f"{what}; this upload takes {wanted}"
        super().__init__(field, source_name, reason, detected)
        self.detected = detected
        self.accepted = accepted


class ExtensionMismatchError(UploadError):
    """The file name's extension says one format and the bytes are another.

    Example: ``cat.png: the extension says PNG but the content is JPEG``. Rename the file
    (or pass ``name=``) so the service and the content agree.
    """

    def __init__(
        self, field: str, source_name: str, *, extension: str, declared: str, detected: str
    ) -> None:
        rule = f"the extension says {declared} but the content is {detected}"
        super().__init__(field, source_name, rule, extension)
        self.extension = extension
        self.declared = declared
        self.detected = detected


class ImageDimensionsError(UploadError):
    """The image is wider or taller than the API allows (10000 x 10000 px)."""

    def __init__(
        self, field: str, source_name: str, *, width: int, height: int, max_side: int
    ) -> None:
        rule = (
            f"{width}x{height} px, images must be at most {max_side}x{max_side} px "
            f"(each side <= {max_side})"
        )
        super().__init__(field, source_name, rule, (width, height))
        self.width = width
        self.height = height
        self.max_side = max_side


class TruncatedFileError(UploadError):
    """The header cannot be read: the file stops before the header does, or it is corrupt.

    ``format`` is the format the first bytes announce; ``needed`` the number of bytes the
    header needed when the file was too short (``None`` for a corrupt header).
    """

    def __init__(
        self,
        field: str,
        source_name: str,
        *,
        format: str,
        size: int,
        needed: int | None = None,
        reason: str | None = None,
    ) -> None:
        if reason is None:
            reason = (
                f"truncated {format} file: it has {size} bytes but its header needs "
                f"at least {needed}"
            )
        else:
            reason = f"unreadable {format} header: {reason}"
        super().__init__(field, source_name, reason, size)
        self.format = format
        self.size = size
        self.needed = needed


class FileChangedError(UploadError):
    """The file's size is no longer the size measured by the preflight check.

    Raised while streaming (so the service never receives a half-old, half-new file):
    ``expected`` is the size measured before, ``actual`` what was found (for a file that
    grew while being read, a lower bound).
    """

    def __init__(
        self, field: str, source_name: str, *, expected: int, actual: int, detail: str
    ) -> None:
        rule = f"the file changed while uploading: {detail} (measured {expected} bytes before)"
        super().__init__(field, source_name, rule, actual)
        self.expected = expected
        self.actual = actual


class FileUnreadableError(UploadError, OSError):
    """The file cannot be opened or read (missing, a permission denied, an I/O error).

    Also an ``OSError`` carrying the original ``errno``, ``strerror`` and ``filename``, so
    ``except OSError`` keeps working. :func:`file_error` picks the subclass.
    """

    def __init__(self, field: str, source_name: str, cause: OSError) -> None:
        reason = cause.strerror or type(cause).__name__
        super().__init__(field, source_name, f"cannot read the file ({reason})")
        self.errno = cause.errno
        self.strerror = cause.strerror
        self.filename = cause.filename if cause.filename is not None else source_name

    def __reduce__(self) -> tuple[Any, ...]:
        cause = OSError(self.errno, self.strerror, self.filename)
        return (type(self), (self.field, self.source_name, cause))


class FileMissingError(FileUnreadableError, FileNotFoundError):
    """The path names no file; also a ``FileNotFoundError``.

    Example::

        await client.images.upload("missing.png")   # missing.png: cannot read the file (...)
    """


def file_error(field: str, source_name: str, cause: OSError) -> FileUnreadableError:
    """The upload error for an ``OSError`` met while opening or reading ``source_name``."""
    cls = FileMissingError if isinstance(cause, FileNotFoundError) else FileUnreadableError
    return cls(field, source_name, cause)


class SourceConsumedError(PixVerseError, RuntimeError):
    """A single-use stream (:meth:`AsyncSizedSource.from_iterable`) was read a second time.

    Give :class:`AsyncSizedSource` a factory instead so every attempt can start afresh.
    """


def _human(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            value = n / scale
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def _join(items: tuple[str, ...]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]
