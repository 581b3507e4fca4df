"""header_text: any carrier value as text, never raising."""

from __future__ import annotations

import json

import pytest

from otelkit.propagation._common import header_text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (json.loads('"\\ud800x"'), "?x"),  # a lone surrogate, as json.loads gives for a WebSocket envelope
        ("k=\udcff" + json.loads('"\\udbff"'), "k=??"),  # aiohttp's escapes mixed with another surrogate
        (b"00-\xff".decode("utf-8", "surrogateescape"), "00-\xff"),  # aiohttp's escapes alone: Latin-1
    ],
)
def test_text_with_surrogates_never_raises(value: str, expected: str) -> None:
    assert header_text(value, "baggage") == expected
