"""W3C Trace Context (level 2) parsing, exactly as the specification and its test suite say.

The API's ``TraceState.from_header`` discards the whole header for one duplicated key and
uses the level-1 key grammar, so ``foo@=1`` or ``t@`` + 15 characters are refused; it
also logs every bad member in full. Here:

* ``traceparent``: version ``00`` must be exactly ``00-<32 hex>-<16 hex>-<2 hex>``
  (lower-case hex, optional spaces/tabs around it); a higher version (not ``ff``) is parsed
  from its first 55 characters when they are followed by nothing or ``-``; all-zero ids
  are invalid. Only the flags this level defines (sampled ``01``, random ``02``) are kept.
* ``tracestate`` (parsed only when ``traceparent`` is valid): repeated headers are
  combined with ``","``; empty members are skipped; keys follow the level-2 grammar
  ``(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@")``; values are
  1-256 printable ASCII characters without ``,``/``=``, ending in a non-space. A list
  with a malformed member or more than :data:`MAX_MEMBERS` members is discarded whole (the
  test suite's strict level 2); the ``traceparent`` is kept. A repeated key keeps its first
  value. A list longer than :data:`MAX_TRACESTATE_CHARS` is truncated by whole members:
  members over :data:`LARGE_MEMBER_CHARS` first, then from the end.

Every problem logs one rate-limited warning per kind quoting a short prefix.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators import textmap
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState

from otelkit._warn import short, warn_limited

__all__ = [
    "LARGE_MEMBER_CHARS",
    "MAX_MEMBERS",
    "MAX_TRACESTATE_CHARS",
    "W3CTraceContextPropagator",
    "W3CTraceState",
    "parse_traceparent",
    "parse_tracestate",
]

_logger = logging.getLogger("otelkit.propagation")

MAX_MEMBERS = 32
"""Most list members a ``tracestate`` may hold."""
MAX_TRACESTATE_CHARS = 512
"""Longest ``tracestate`` otelkit propagates (the spec's minimum); longer lists are truncated."""
LARGE_MEMBER_CHARS = 128
"""Members longer than this are the first removed when truncating."""

_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_KEY = re.compile(r"[a-z0-9][_0-9a-z\-*/@]{0,255}")
_VALUE = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_KNOWN_FLAGS = 0x03  # sampled | random-trace-id


def parse_traceparent(value: str) -> tuple[int, int, int] | None:
    """``(trace_id, span_id, flags)`` of a ``traceparent`` value, or ``None`` when invalid."""
    text = value.strip(" \t")
    match = _TRACEPARENT.match(text)
    if match is None:
        return None
    version, rest = match.group(1), text[55:]
    if version == "ff" or (version == "00" and rest) or (rest and rest[0] != "-"):
        return None
    trace_id, span_id = int(match.group(2), 16), int(match.group(3), 16)
    if not trace_id or not span_id:
        return None
    return trace_id, span_id, int(match.group(4), 16) & _KNOWN_FLAGS


def valid_member(key: str, value: str) -> bool:
    """Whether ``key=value`` is a valid level-2 list member."""
    return _KEY.fullmatch(key) is not None and _VALUE.fullmatch(value) is not None


def parse_tracestate(headers: Iterable[str]) -> tuple[list[tuple[str, str]], str | None]:
    """The members to keep from ``tracestate`` header values, and the problem kind if any.

    Returns:
        ``(members, problem)``: ``problem`` is ``None``, ``"member"`` (a malformed member:
        nothing kept), ``"count"`` (over 32 members: nothing kept), ``"duplicate"`` (later
        values of a repeated key dropped) or ``"length"`` (truncated to 512 characters).
    """
    members: list[tuple[str, str]] = []
    seen: set[str] = set()
    problem: str | None = None
    count = 0
    for raw in ",".join(headers).split(","):
        member = raw.strip(" \t")
        if not member:
            continue
        count += 1
        if count > MAX_MEMBERS:
            return [], "count"
        key, sep, value = member.partition("=")
        if not sep or not valid_member(key, value):
            return [], "member"
        if key in seen:
            problem = "duplicate"
            continue
        seen.add(key)
        members.append((key, value))
    if _length(members) > MAX_TRACESTATE_CHARS:
        return _truncate(members), "length"
    return members, problem


def _length(members: Sequence[tuple[str, str]]) -> int:
    return sum(len(k) + len(v) + 1 for k, v in members) + max(len(members) - 1, 0)


def _truncate(members: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Remove whole members: large ones (from the end) first, then from the end."""
    kept = list(members)
    for i in range(len(kept) - 1, -1, -1):
        if _length(kept) <= MAX_TRACESTATE_CHARS:
            return kept
        if len(kept[i][0]) + len(kept[i][1]) + 1 > LARGE_MEMBER_CHARS:
            del kept[i]
    while _length(kept) > MAX_TRACESTATE_CHARS:
        kept.pop()
    return kept


class W3CTraceState(TraceState):
    """A ``TraceState`` that accepts level-2 keys (``foo@``, ``1a``, ``t@`` + 15 chars).

    The API class validates with the level-1 grammar in its constructor and in
    ``add``/``update``/``delete`` (which build a base ``TraceState``), so a level-2 key
    would be dropped at the first mutation (a sampler writing ``ot=th:...``). This subclass
    keeps its entries through all three. Invalid entries are skipped quietly.
    """

    def __init__(self, entries: Sequence[tuple[str, str]] | None = None) -> None:
        super().__init__()
        for key, value in entries or ():
            if len(self._dict) < MAX_MEMBERS and key not in self._dict and valid_member(key, value):
                self._dict[key] = value

    def add(self, key: str, value: str) -> TraceState:
        """A new state with ``key=value`` first; unchanged if invalid, present or full."""
        if key in self._dict or len(self._dict) >= MAX_MEMBERS or not valid_member(key, value):
            return self
        return W3CTraceState([(key, value), *self._dict.items()])

    def update(self, key: str, value: str) -> TraceState:
        """A new state with ``key=value`` moved first (upsert, like the API); unchanged if invalid."""
        if not valid_member(key, value) or (key not in self._dict and len(self._dict) >= MAX_MEMBERS):
            return self
        return W3CTraceState([(key, value), *((k, v) for k, v in self._dict.items() if k != key)])

    def delete(self, key: str) -> TraceState:
        """A new state without ``key`` (unchanged if absent)."""
        if key not in self._dict:
            return self
        return W3CTraceState([(k, v) for k, v in self._dict.items() if k != key])


class W3CTraceContextPropagator(TraceContextTextMapPropagator):
    """The W3C ``traceparent``/``tracestate`` propagator with exact level-2 parsing.

    Injection is the API's. otelkit's carriers use it in place of the API propagator
    (see :func:`otelkit.propagation._context.extract_context`); it can also be set as the
    global propagator directly.
    """

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        """``context`` with the remote parent from ``carrier``; unchanged when there is none."""
        ctx = Context() if context is None else context
        sent = getter.get(carrier, "traceparent")
        if not sent:
            return ctx
        parsed = parse_traceparent(",".join(sent))  # two headers join into an invalid value
        if parsed is None:
            return ctx
        trace_id, span_id, flags = parsed
        state = getter.get(carrier, "tracestate") or []
        members, problem = parse_tracestate(state)
        if problem is not None:
            _warn_tracestate(problem, state)
        span_context = trace.SpanContext(
            trace_id, span_id, is_remote=True, trace_flags=trace.TraceFlags(flags),
            trace_state=W3CTraceState(members),
        )
        return trace.set_span_in_context(trace.NonRecordingSpan(span_context), ctx)


_PROBLEMS = {
    "member": "has a malformed member; allowed: key=value with key [a-z0-9][a-z0-9_*/@-]{0,255} and "
              "value of 1-256 printable ASCII characters except ',' and '='; discarding the tracestate",
    "count": f"has more than {MAX_MEMBERS} members; discarding the tracestate",
    "duplicate": "repeats a key; keeping its first value",
    "length": f"is longer than {MAX_TRACESTATE_CHARS} characters; truncated by whole members",
}


def _warn_tracestate(problem: str, headers: Sequence[str]) -> None:
    warn_limited(_logger, "tracestate:" + problem, "tracestate %r " + _PROBLEMS[problem], short(",".join(headers)))
