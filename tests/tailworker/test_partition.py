"""One partition's buffer, decisions and committable offset, on a fake clock."""

from __future__ import annotations

from typing import Any

from otelkit.sampling.threshold import read_ot
from otelkit.tail import POLICY_ATTRIBUTE, policies_from_string
from otelkit.tailworker._decode import decode, readable
from otelkit.tailworker._partition import Partition, Verdict

POLICIES = "errors=status_code(status_codes=ERROR)"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make(clock: Clock, wall: Clock | None = None, policies: str = POLICIES) -> Partition:
    return Partition(
        policies_from_string(policies), ttl_s=60.0, cache_size=100, decision_wait_ms=500,
        environ={"OTELKIT_TAIL_MAX_WAIT_MS": "5000"}, clock=clock, wall=wall or clock,
    )


def spans(outcome: Any) -> list[Any]:
    """The kept spans of ``outcome`` (bytes with th and the policy label spliced in) as SDK spans."""
    return [readable(data, route) for data, route in outcome.spans]


def msg(otlp: Any, service: str, *spans: Any) -> Any:
    return decode(otlp.request(service, *spans), 1 << 20)


def test_error_trace_is_kept_whole_and_holds_offsets_until_released(otlp: Any) -> None:
    clock = Clock()
    part = make(clock)
    assert part.add(0, msg(otlp, "a", otlp.span(1, 11, 10))) == []
    assert part.add(1, msg(otlp, "b", otlp.span(2, 21))) == []  # an ok root: dropped
    assert part.add(2, msg(otlp, "b", otlp.span(1, 12, 11, error=True))) == []
    assert part.add(3, msg(otlp, "a", otlp.span(1, 10))) == []  # the root of trace 1
    assert part.committable() == 0
    assert part.decide() == []  # not due yet
    clock.now += 0.6
    outcomes = {o.trace_id: o for o in part.decide()}
    kept, dropped = outcomes[1], outcomes[2]
    assert kept.verdict.keep and kept.verdict.label == "errors" and kept.publish
    assert sorted(s.context.span_id for s in spans(kept)) == [10, 11, 12]
    assert all(s.attributes[POLICY_ATTRIBUTE] == "errors" for s in spans(kept))
    assert sorted(kept.offsets) == [0, 2, 3]
    assert not dropped.verdict.keep and dropped.offsets == [1]
    part.release(dropped.offsets)
    assert part.committable() == 0  # the kept trace is not exported yet
    part.release(kept.offsets)
    assert part.committable() == 4


def test_late_spans_follow_the_first_decision(otlp: Any) -> None:
    clock = Clock()
    part = make(clock, policies="p=probabilistic(sampling_percentage=50);errors=status_code(status_codes=ERROR)")
    part.add(0, msg(otlp, "a", otlp.span(1, 10, error=True)))
    part.add(1, msg(otlp, "a", otlp.span(2, 20)))
    clock.now += 1
    decided = {o.trace_id: o for o in part.decide()}
    for o in decided.values():
        part.release(o.offsets)
    kept = decided[1]
    late = part.add(2, msg(otlp, "b", otlp.span(1, 13, 10)))
    (follow,) = late
    assert follow.trace_id == 1 and not follow.publish and follow.offsets == [2]
    (span,) = spans(follow)
    assert span.attributes[POLICY_ATTRIBUTE] == kept.verdict.label
    assert read_ot(span.context.trace_state).th == kept.verdict.threshold
    assert span.context.trace_flags.sampled
    assert part.committable() == 2  # held until exported
    part.release(follow.offsets)
    assert not decided[2].verdict.keep  # R = 2 is below the 50% threshold
    assert part.add(3, msg(otlp, "b", otlp.span(2, 21, 20, error=True))) == []  # dropped: stays dropped
    assert part.stats()["late_dropped_spans"] == 1
    clock.now += 10
    assert part.decide() == []
    assert part.committable() == 4


def test_replayed_decision_is_followed_not_redecided(otlp: Any) -> None:
    clock = Clock()
    part = make(clock)
    assert part.remember(7, Verdict(False, "", None, clock.now - 1))
    assert part.remember(8, Verdict(True, "errors", 0, clock.now - 1))
    assert part.add(0, msg(otlp, "a", otlp.span(7, 70, error=True))) == []  # an error, but dropped before
    (late,) = part.add(1, msg(otlp, "a", otlp.span(8, 80)))
    assert spans(late)[0].attributes[POLICY_ATTRIBUTE] == "errors"
    clock.now += 10
    assert part.decide() == []
    assert part.committable() == 1


def test_expired_replayed_decision_is_ignored(otlp: Any) -> None:
    clock = Clock()
    part = make(clock)
    assert not part.remember(7, Verdict(False, "", None, clock.now - 61))
    part.add(0, msg(otlp, "a", otlp.span(7, 70, error=True)))
    clock.now += 1
    (outcome,) = part.decide()
    assert outcome.verdict.keep


def test_bad_message_advances_the_offset(otlp: Any) -> None:
    part = make(Clock())
    part.add(0, None)
    assert part.committable() == 1



def test_spans_following_a_replayed_kept_decision_are_counted_as_duplicates(otlp: Any) -> None:
    clock = Clock()
    part = make(clock)
    assert part.remember(5, Verdict(True, "errors", None, clock.now))  # an earlier owner kept 5
    late = part.add(0, msg(otlp, "a", otlp.span(5, 50), otlp.span(5, 51, 50)))
    assert [len(o.spans) for o in late] == [2]
    part.add(1, msg(otlp, "a", otlp.span(6, 60, error=True)))  # decided here, then a late span
    clock.now += 6.0
    assert [o.verdict.keep for o in part.decide()] == [True]
    assert part.add(2, msg(otlp, "b", otlp.span(6, 61, 60)))[0].spans
    stats = part.stats()
    assert stats["duplicate_spans"] == 2  # only those that followed the replayed decision
    assert stats["late_kept_spans"] == 3
