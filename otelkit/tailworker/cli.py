"""The ``otelkit tail-worker`` command: flags override the environment."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Mapping
from typing import Any

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", help="Kafka brokers (default OTELKIT_KAFKA_BOOTSTRAP_SERVERS)")
    parser.add_argument("--topic", help="spans topic (default OTELKIT_KAFKA_TOPIC)")
    parser.add_argument("--group", help="consumer group (default OTELKIT_TAIL_WORKER_GROUP, otelkit-tail)")
    parser.add_argument("--decisions-topic", help="decisions topic (default <topic>_decisions)")
    parser.add_argument("--policies", help="tail policies, compact form or file (default OTELKIT_TAIL_POLICIES)")
    parser.add_argument("--decision-wait-ms", type=float, help="default OTELKIT_TAIL_DECISION_WAIT_MS")


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Run one worker until SIGTERM/SIGINT; it then hands its partitions over and exits 0."""
    from otelkit import config
    from otelkit.tailworker._meters import meter_provider
    from otelkit.tailworker.worker import TailWorker

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # no application around the command: its self-metrics need a provider of their own
    meters = meter_provider(environ) if config.OTELKIT_SELF_METRICS.get(environ) else None
    worker = TailWorker(
        bootstrap_servers=args.bootstrap_servers,
        topic=args.topic,
        group=args.group,
        decisions_topic=args.decisions_topic,
        policies=args.policies,
        decision_wait_ms=args.decision_wait_ms,
        environ=environ,
        meter_provider=meters,
    )

    def _stop(signum: int, frame: Any) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        worker.run()
    finally:
        if meters is not None:
            meters.shutdown()  # exports the last values
    print("otelkit tail-worker stats: " + json.dumps(worker.stats(), default=str), file=sys.stderr, flush=True)
    return 0
