"""The emulator's answers: the success envelope and the error shapes PixVerse uses."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..constants import ErrCode
from .validation import Rejection


class ErrorResponse(web.Response):
    """A JSON error answer that remembers its ErrCode for the request records."""

    err_code: int | None = None


def error_json(body: dict[str, Any], status: int, code: int) -> ErrorResponse:
    """A JSON error answer of any shape, recording ``code`` for the request records."""
    response = ErrorResponse(text=json.dumps(body), status=status, content_type="application/json")
    response.err_code = code
    return response


def envelope(resp: Any) -> web.Response:
    """A success answer: ``{"ErrCode": 0, "ErrMsg": "success", "Resp": resp}``, HTTP 200."""
    return web.json_response({"ErrCode": ErrCode.SUCCESS, "ErrMsg": "success", "Resp": resp})


def error(code: int, message: str, *, status: int = 200) -> web.Response:
    """An error answer with ``ErrCode`` ``code`` and a null ``Resp`` (HTTP 200 by default)."""
    return error_json({"ErrCode": code, "ErrMsg": message, "Resp": None}, status, code)


def moderation_error(message: str) -> web.Response:
    """The moderation failure as the spec shows it: HTTP 500, lowercase envelope."""
    body = {"err_code": ErrCode.MODERATION_REJECTED, "err_msg": message, "resp": ""}
    return error_json(body, 500, ErrCode.MODERATION_REJECTED)


def rejection(rej: Rejection) -> web.Response:
    """The error answer for a request the validation refused."""
    return error(rej.err_code, rej.err_msg)
