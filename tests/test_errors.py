"""The ErrCode table: every row maps to its class, unknown codes fall back by HTTP status."""

from __future__ import annotations

import pickle

import pytest

from pixverse_async import errors
from pixverse_async.constants import ErrCode

# PixVerse's own error table, as docs/api-notes.md ("Error codes") lists it, with the
# family each code belongs to; written out independently of errors.py so a wrong row there
# fails here.
LIVE_API_TABLE = {
    400011: errors.InvalidParameterError,  # empty parameter
    400012: errors.AuthenticationError,  # invalid account
    400013: errors.InvalidParameterError,  # wrong parameter type or value
    400017: errors.InvalidParameterError,  # invalid parameter
    400018: errors.InvalidParameterError,  # prompt over 2048 characters
    400019: errors.InvalidParameterError,  # negative prompt over 2048 characters
    400032: errors.InvalidParameterError,  # invalid image id
    500008: errors.NotFoundError,  # requested data not found
    500020: errors.PermissionDeniedError,  # no permission
    500030: errors.InvalidParameterError,  # image over 20 MB / 4000 px
    500031: errors.InvalidParameterError,  # image information unreadable
    500032: errors.InvalidParameterError,  # invalid image format
    500033: errors.InvalidParameterError,  # invalid image width or height
    500041: errors.ServerError,  # image upload failed
    500042: errors.ServerError,  # invalid image path
    500044: errors.ConcurrencyLimitError,  # concurrent generation limit
    500054: errors.ContentModerationError,  # image moderation failed
    500060: errors.QuotaExceededError,  # monthly effects-activation limit
    500063: errors.ContentModerationError,  # video, image or text moderation failed
    500064: errors.NotFoundError,  # content deleted
    500069: errors.RateLimitError,  # system under high load
    500070: errors.InvalidParameterError,  # template not activated
    500071: errors.InvalidParameterError,  # effect does not support 720p/1080p
    500090: errors.InsufficientCreditsError,  # insufficient balance
    500100: errors.ServerError,  # database error (server side)
    99999: errors.ServerError,  # unknown error
    701002: errors.InvalidParameterError,  # motion-control input rejected
    701003: errors.InvalidParameterError,  # motion-control input rejected
}
# Not in PixVerse's table, kept from the spec pages' examples (docs/api-notes.md says which).
SPEC_PAGE_CODES = {
    10002: errors.AuthenticationError,
    10003: errors.AuthenticationError,
    10005: errors.AuthenticationError,
    500043: errors.InsufficientCreditsError,
    500052: errors.ContentModerationError,
}
EXPECTED = {**LIVE_API_TABLE, **SPEC_PAGE_CODES}


def test_table_covers_exactly_the_documented_codes() -> None:
    documented = {v for k, v in vars(ErrCode).items() if k.isupper() and v != 0}
    assert set(errors.ERROR_CODE_TABLE) == documented == set(EXPECTED)


@pytest.mark.parametrize("http_status", [200, 400, 500])
@pytest.mark.parametrize(("code", "cls"), sorted(EXPECTED.items()))
def test_every_code_maps_to_its_family_whatever_the_http_status(
    code: int, cls: type[errors.APIError], http_status: int
) -> None:
    msg = "  Verbatim ErrMsg: 余额不足 <b>!</b>  "
    err = errors.error_for_code(err_code=code, err_msg=msg, http_status=http_status, trace_id="t")
    assert type(err) is cls
    assert (err.err_code, err.err_msg, err.http_status, err.trace_id) == (
        code,
        msg,
        http_status,
        "t",
    )
    assert msg in str(err)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, errors.InvalidParameterError),
        (401, errors.AuthenticationError),
        (403, errors.AuthenticationError),
        (404, errors.NotFoundError),
        (422, errors.InvalidParameterError),
        (429, errors.RateLimitError),
        (500, errors.ServerError),
        (503, errors.ServerError),
    ],
)
def test_unknown_code_falls_back_by_http_status_and_keeps_its_code(
    status: int, cls: type[errors.APIError]
) -> None:
    err = errors.error_for_code(err_code=777777, err_msg="new", http_status=status, trace_id="t")
    assert type(err) is cls
    assert err.err_code == 777777


def test_unknown_code_on_http_200_uses_the_code_family() -> None:
    four = errors.error_for_code(err_code=400999, err_msg="x", http_status=200, trace_id=None)
    five = errors.error_for_code(err_code=599999, err_msg="x", http_status=200, trace_id=None)
    assert type(four) is errors.InvalidParameterError
    assert type(five) is errors.ServerError


def test_str_shows_code_message_status_and_trace_id() -> None:
    err = errors.error_for_code(
        err_code=500044, err_msg="limit", http_status=200, trace_id="abc-123", retry_after=3
    )
    text = str(err)
    for part in ("500044", "limit", "200", "abc-123", "retry_after=3s"):
        assert part in text


def test_validation_error_is_a_value_error_naming_the_field() -> None:
    err = errors.ValidationError("seed", "must be between 0 and 2147483647", -1)
    assert isinstance(err, ValueError) and isinstance(err, errors.PixVerseError)
    assert str(err).startswith("seed:")


def test_an_error_raised_before_any_call_shows_only_its_message() -> None:
    err = errors.AuthenticationError(
        err_code=None, err_msg="no API key: pass api_key=...", http_status=0, trace_id=None
    )
    assert str(err) == "no API key: pass api_key=..."


def test_response_decoding_error_is_not_a_transport_error() -> None:
    # an answer arrived: whoever catches "no answer" must not swallow an unreadable one
    err = errors.ResponseDecodingError("bad body", http_status=200)
    assert isinstance(err, errors.PixVerseError)
    assert not isinstance(err, errors.TransportError)
    assert err.http_status == 200


def test_download_error_is_a_transport_error_exported_at_the_top_level() -> None:
    import pixverse_async

    assert pixverse_async.DownloadError is errors.DownloadError
    assert issubclass(errors.DownloadError, errors.TransportError)
    assert "DownloadError" in pixverse_async.__all__


def test_api_errors_pickle_round_trip() -> None:
    err = errors.error_for_code(err_code=500052, err_msg="no", http_status=500, trace_id="t")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is errors.ContentModerationError
    assert str(again) == str(err)
