"""Settings of the tail-sampling processor (``OTELKIT_TAIL_*``).
"""

from __future__ import annotations

from otelkit.config import HOUR_MS, bool_setting, enum_setting, int_setting, size_setting, str_setting

__all__ = [
    "OTELKIT_TAIL_ENABLED",
    "OTELKIT_TAIL_DECISION_WAIT_MS",
    "OTELKIT_TAIL_MAX_WAIT_MS",
    "OTELKIT_TAIL_MAX_SPANS",
    "OTELKIT_TAIL_MAX_BYTES",
    "OTELKIT_TAIL_MAX_SPANS_PER_TRACE",
    "OTELKIT_TAIL_OVERFLOW",
    "OTELKIT_TAIL_DECISION_CACHE_SIZE",
    "OTELKIT_TAIL_POLICIES",
]

OTELKIT_TAIL_ENABLED = bool_setting(
    "OTELKIT_TAIL_ENABLED",
    False,
    "Put the TailSamplingProcessor in front of the export processor.",
    component="tail",
)

OTELKIT_TAIL_DECISION_WAIT_MS = int_setting(
    "OTELKIT_TAIL_DECISION_WAIT_MS",
    1000,
    "Tail sampling: wait after a trace's local root span ends before deciding (ms), to "
    "collect straggling child spans.",
    min=0,
    max=HOUR_MS,
    component="tail",
)

OTELKIT_TAIL_MAX_WAIT_MS = int_setting(
    "OTELKIT_TAIL_MAX_WAIT_MS",
    30000,
    "Tail sampling: a trace whose local root never ends is decided this long after its "
    "first span ended (ms).",
    min=1,
    max=HOUR_MS,
    component="tail",
)

OTELKIT_TAIL_MAX_SPANS = int_setting(
    "OTELKIT_TAIL_MAX_SPANS",
    50000,
    "Tail sampling: most spans buffered across all undecided traces.",
    min=1,
    component="tail",
)

OTELKIT_TAIL_MAX_BYTES = size_setting(
    "OTELKIT_TAIL_MAX_BYTES",
    64 * 1024 * 1024,
    "Tail sampling: most bytes the held spans keep in memory (encoded span plus summary), undecided and awaiting a decision together.",
    min=1024,
    component="tail",
)

OTELKIT_TAIL_MAX_SPANS_PER_TRACE = int_setting(
    "OTELKIT_TAIL_MAX_SPANS_PER_TRACE",
    10000,
    "Tail sampling: most spans buffered for one trace; a bigger trace overflows.",
    min=1,
    component="tail",
)

OTELKIT_TAIL_OVERFLOW = enum_setting(
    "OTELKIT_TAIL_OVERFLOW",
    "decide",
    ("decide", "evict"),
    "Tail sampling: what happens to the oldest (or an oversize) trace when a buffer limit "
    "is hit: `decide` it early or `evict` (drop) it. Both are counted.",
    component="tail",
)

OTELKIT_TAIL_DECISION_CACHE_SIZE = int_setting(
    "OTELKIT_TAIL_DECISION_CACHE_SIZE",
    100000,
    "Tail sampling: trace IDs remembered in each of the kept and dropped decision caches; "
    "late spans of a remembered trace follow its decision.",
    min=0,
    component="tail",
)

OTELKIT_TAIL_POLICIES = str_setting(
    "OTELKIT_TAIL_POLICIES",
    "",
    "Tail sampling policies: a compact string such as "
    "`errors=status_code(status_codes=ERROR);rest=probabilistic(sampling_percentage=10)` or "
    "the path of a .json/.yaml/.yml policy file (docs/tail-sampling.md). Empty: keep errors, "
    "keep traces slower than 1 s, keep what the head sampler kept.",
    allowed="a compact policy string or a policy file path",
    validate=lambda raw: _policies(raw),
    explain=True,
    component="tail",
)



def _policies(raw: str) -> object:
    from otelkit.tail.policy_config import policies_from_string  # lazy: the processor imports this

    return policies_from_string(raw)
