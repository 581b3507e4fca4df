"""``status_code``: keep traces with a span whose status is one of the given codes."""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.trace import StatusCode

from otelkit.tail.policies._check import check_name
from otelkit.tail.policy import NOT_SAMPLED, SAMPLED, Decision, TraceView

__all__ = ["StatusCodePolicy"]

_CODES = {"OK": StatusCode.OK, "ERROR": StatusCode.ERROR, "UNSET": StatusCode.UNSET}


class StatusCodePolicy:
    """Keep a trace if any span has one of ``status_codes``.

    Args:
        status_codes: names from OK, ERROR, UNSET (case-insensitive) or StatusCode values.
        name: label; default ``status_code``.

    Raises:
        ValueError: empty list or an unknown code, e.g.
            ``unknown status code "X", supported: OK, ERROR, UNSET``.
    """

    attribute_keys: frozenset[str] = frozenset()
    """Span attributes this policy reads: none."""

    def __init__(self, status_codes: Iterable[str | StatusCode], name: str | None = None) -> None:
        self.name = check_name(name, "status_code")
        if isinstance(status_codes, str):
            status_codes = [status_codes]
        codes: set[StatusCode] = set()
        for code in status_codes:
            if isinstance(code, StatusCode):
                codes.add(code)
                continue
            found = _CODES.get(str(code).strip().upper())
            if found is None:
                raise ValueError(f'unknown status code "{code}", supported: OK, ERROR, UNSET')
            codes.add(found)
        if not codes:
            raise ValueError("status_codes is empty: expected at least one of OK, ERROR, UNSET")
        self.status_codes = frozenset(codes)

    def evaluate(self, trace: TraceView) -> Decision:
        if self.status_codes == {StatusCode.ERROR}:
            return SAMPLED if trace.has_error else NOT_SAMPLED
        for span in trace.spans:
            if span.status.status_code in self.status_codes:
                return SAMPLED
        return NOT_SAMPLED
