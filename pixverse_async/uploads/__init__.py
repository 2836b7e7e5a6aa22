"""Uploads: preflight checks, type sniffing and streaming multipart bodies.

The endpoint code calls these; nothing here talks to the network::

    from pixverse_async.uploads import build_multipart, inspect_upload, is_url

    if is_url(source):
        form = {"image_url": source}                       # not inspected
    else:
        info = await inspect_upload(source, kind="image")  # raises before any byte is sent
        form = build_multipart(info.field, info, source, progress=on_progress)

Modules: :mod:`.formats` (magic bytes, image headers), :mod:`.preflight` (size, type,
extension and dimension checks; :class:`AsyncSizedSource`), :mod:`.payload` (aiohttp
payloads), :mod:`.exceptions` (the typed errors).

May import: the foundation only.
"""

from __future__ import annotations

from .exceptions import (
    EmptyFileError,
    ExtensionMismatchError,
    FileChangedError,
    FileMissingError,
    FileTooLargeError,
    FileUnreadableError,
    ImageDimensionsError,
    SourceConsumedError,
    TruncatedFileError,
    UnsupportedFileTypeError,
    UploadError,
    file_error,
)
from .formats import FORMATS, SniffedType, format_for_extension, sniff
from .payload import (
    CHUNK_SIZE,
    AsyncIterableUploadPayload,
    BytesUploadPayload,
    FileUploadPayload,
    ProgressCallback,
    UploadPayload,
    build_multipart,
    make_payload,
    upload_error_from,
)
from .preflight import (
    HEADER_READ_LIMIT,
    AsyncSizedSource,
    UploadInfo,
    UploadKind,
    UploadSource,
    field_for,
    inspect_upload,
    is_url,
)

__all__ = [
    "CHUNK_SIZE",
    "FORMATS",
    "HEADER_READ_LIMIT",
    "AsyncIterableUploadPayload",
    "AsyncSizedSource",
    "BytesUploadPayload",
    "EmptyFileError",
    "ExtensionMismatchError",
    "FileChangedError",
    "FileMissingError",
    "FileTooLargeError",
    "FileUnreadableError",
    "FileUploadPayload",
    "ImageDimensionsError",
    "ProgressCallback",
    "SniffedType",
    "SourceConsumedError",
    "TruncatedFileError",
    "UnsupportedFileTypeError",
    "UploadError",
    "UploadInfo",
    "UploadKind",
    "UploadPayload",
    "UploadSource",
    "build_multipart",
    "field_for",
    "file_error",
    "format_for_extension",
    "inspect_upload",
    "is_url",
    "make_payload",
    "sniff",
    "upload_error_from",
]
