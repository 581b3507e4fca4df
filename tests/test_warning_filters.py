"""The pytest warning filters in pyproject.toml silence kafka-python's deprecation noise only."""

from __future__ import annotations

import warnings

import pytest
from _pytest.config import parse_warning_filter


def test_kafka_python_read_text_deprecation_is_filtered_narrowly(pytestconfig: pytest.Config) -> None:
    from kafka.protocol.schemas.load_json import load_json  # kafka-python's real code path

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for entry in pytestconfig.getini("filterwarnings"):  # applied as pytest applies them
            warnings.filterwarnings(*parse_warning_filter(entry, escape=False))
        assert load_json("ApiVersionsRequest")["name"] == "ApiVersionsRequest"
        # the same message from anyone else, and any other kafka warning, stay visible
        warnings.warn_explicit("read_text is deprecated", DeprecationWarning, "app.py", 1, module="app")
        warnings.warn_explicit("a real problem", DeprecationWarning, "conn.py", 1, module="kafka.conn")
    assert sorted(str(w.message) for w in caught) == ["a real problem", "read_text is deprecated"]
