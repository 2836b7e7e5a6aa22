"""The ErrCode table: every row maps to its class, unknown codes fall back by HTTP status."""

from __future__ import annotations

import pickle

import pytest

from pixverse_async import errors
from pixverse_async.constants import ErrCode

# The families of ../shared/spec/NOTES.md's error table, written out independently of the
# table in errors.py so a wrong row there fails here.
EXPECTED = {
    10002: errors.AuthenticationError,
    10003: errors.AuthenticationError,
    10005: errors.AuthenticationError,
    400011: errors.InvalidParameterError,
    400012: errors.AuthenticationError,
    400013: errors.InvalidParameterError,
    400017: errors.InvalidParameterError,
    400018: errors.InvalidParameterError,
    400019: errors.InvalidParameterError,
    400032: errors.InvalidParameterError,
    500008: errors.NotFoundError,
    500020: errors.PermissionDeniedError,
    500030: errors.InvalidParameterError,
    500031: errors.InvalidParameterError,
    500032: errors.InvalidParameterError,
    500033: errors.InvalidParameterError,
    500041: errors.ServerError,
    500042: errors.ServerError,
    500043: errors.InsufficientCreditsError,
    500044: errors.ConcurrencyLimitError,
    500052: errors.ContentModerationError,
    500054: errors.ContentModerationError,
    500063: errors.ContentModerationError,
    500060: errors.QuotaExceededError,
    500064: errors.NotFoundError,
    500069: errors.RateLimitError,
    500070: errors.InvalidParameterError,
    500071: errors.InvalidParameterError,
    500090: errors.InsufficientCreditsError,
}


def test_table_covers_exactly_the_documented_codes() -> None:
    documented = {v for k, v in vars(ErrCode).items() if k.isupper() and v != 0}
    assert set(errors.ERROR_CODE_TABLE) == documented == set(EXPECTED)


@pytest.mark.parametrize(("code", "cls"), sorted(EXPECTED.items()))
def test_every_row_maps_to_its_family(code: int, cls: type[errors.APIError]) -> None:
    err = errors.error_for_code(err_code=code, err_msg="m", http_status=200, trace_id="t")
    assert type(err) is cls
    assert (err.err_code, err.err_msg, err.http_status, err.trace_id) == (code, "m", 200, "t")


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


def test_api_errors_pickle_round_trip() -> None:
    err = errors.error_for_code(err_code=500052, err_msg="no", http_status=500, trace_id="t")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is errors.ContentModerationError
    assert str(again) == str(err)
