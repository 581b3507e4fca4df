"""The stock side's head probability comes from its configuration (the SDK reports none);
the run settles only when what the servers expect arrived."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from otelkit.demo.runner import _fixed_ratio, _settle
from otelkit.demo.servers import pipeline_env

URL = "http://127.0.0.1:4318/v1/traces"


def test_stock_ratio_is_the_configured_one_and_otelkit_reports_its_own() -> None:
    assert _fixed_ratio(pipeline_env("stock", URL, target=50, rate=200).env) == 0.25
    assert _fixed_ratio(pipeline_env("otelkit", URL, target=50, rate=200).env) is None


@pytest.mark.parametrize("arg", ["abc", ""])
def test_unparseable_ratio_is_unknown(arg: str) -> None:
    assert _fixed_ratio({"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": arg}) is None


def test_the_otelkit_pipeline_spools_and_the_others_have_no_spool() -> None:
    env = pipeline_env("otelkit", URL, target=50, rate=200, spool_dir="/tmp/spool").env
    assert env["OTELKIT_SPOOL_DIR"] == "/tmp/spool"
    for mode in ("stock", "fastotel"):
        assert "OTELKIT_SPOOL_DIR" not in pipeline_env(mode, URL, target=50, rate=200, spool_dir="/tmp/spool").env


def test_fastotel_pipeline_is_the_stock_one_with_fastotel_tracing() -> None:
    stock = pipeline_env("stock", URL, target=50, rate=200).env
    fast = pipeline_env("fastotel", URL, target=50, rate=200).env
    assert fast == {**stock, "OTELKIT_EXAMPLE_TRACING": "fastotel"}
    with pytest.raises(ValueError, match="allowed: otelkit, stock, fastotel"):
        pipeline_env("rust", URL, target=50, rate=200)


class _Reply:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    async def __aenter__(self) -> _Reply:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def json(self) -> dict[str, Any]:
        return self.data

    async def read(self) -> bytes:
        return b"{}"


class _Session:
    """Answers ``/_otelkit/stats`` with the next of ``polls`` (the last one repeats)."""

    def __init__(self, polls: list[dict[str, Any]]) -> None:
        self.polls, self.gets = polls, 0

    def get(self, url: str) -> _Reply:
        self.gets += 1
        return _Reply(self.polls[min(self.gets, len(self.polls)) - 1])

    def post(self, url: str) -> _Reply:
        return _Reply({})


def test_settle_waits_until_the_liveroom_consumer_has_every_published_message() -> None:
    room = {"spans_sampled": 5, "transport": "kafka", "published": 10}
    session = _Session([{**room, "consumed": 9}, {**room, "consumed": 9}, {**room, "consumed": 10}])
    server = SimpleNamespace(base_url="http://127.0.0.1:1")
    receiver = SimpleNamespace(stats=lambda: {"spans": 5})  # every span expected so far arrived
    asyncio.run(_settle(session, [server], receiver))  # type: ignore[arg-type]
    assert session.gets == 3  # not done while a message was still in Kafka
