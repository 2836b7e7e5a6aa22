"""The same tests, run by anyio's pytest plugin instead of pytest-asyncio."""

import pytest
from test_clips import (  # noqa: F401
    test_a_failed_generation_raises,
    test_a_moderated_generation_raises,
    test_gives_up_on_a_rate_limit_without_retries,
    test_makes_a_clip,
    test_retries_after_a_rate_limit,
)

pytestmark = pytest.mark.anyio
