"""The ``otelkit`` command: ``otelkit config`` checks the environment, ``otelkit demo`` runs the demo."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from otelkit import config

__all__ = ["main"]


def _config_command(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    if args.markdown:
        sys.stdout.write(config.markdown_table())
        return 0
    if args.file:
        return _file_command(args.file)
    # The checks call the runtime's own parsers and constructors, which warn through logging;
    # here every problem is printed once below instead.
    otelkit_logger = logging.getLogger("otelkit")
    level = otelkit_logger.level
    otelkit_logger.setLevel(logging.CRITICAL)
    try:
        rows = config.effective(environ)
        bad = config.problems(environ)
    finally:
        otelkit_logger.setLevel(level)
    if args.json:
        payload = [{"name": r.name, "value": r.value, "source": r.source, "error": r.error} for r in rows]
        extra = [{"name": p.name, "value": None, "source": "check", "error": p.message}
                 for p in bad if p.message not in {r.error for r in rows}]
        json.dump(payload + extra, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        shown = rows if args.all else [r for r in rows if r.source != "default" or not r.setting.standard]
        width = max(len(r.name) for r in shown) if shown else 10
        vwidth = min(40, max((len(r.value) for r in shown), default=5))
        print(f"{'variable':<{width}}  {'value':<{vwidth}}  source")
        print(f"{'-' * width}  {'-' * vwidth}  -------")
        for r in shown:
            print(f"{r.name:<{width}}  {r.value:<{vwidth}}  {r.source}")
    if bad:
        print(f"\n{len(bad)} problem(s):", file=sys.stderr)
        for problem in bad:
            print(f"  {problem.message}", file=sys.stderr)
        return 2
    return 0


def _file_command(path: str) -> int:
    from otelkit._config_file_pipeline import check_file

    lines, problems = check_file(path)
    for line in lines:
        print(line)
    if problems:
        print(f"\n{len(problems)} problem(s) in {path}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    return 0


def _build_parser() -> argparse.ArgumentParser:
    return _parsers()[0]


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``otelkit`` parser and its subcommands' parsers by name."""
    parser = argparse.ArgumentParser(prog="otelkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    cfg = sub.add_parser(
        "config",
        help="print the effective configuration; exit 2 listing every invalid value, inconsistent "
        "setting, missing extra and unknown OTELKIT_* name",
    )
    cfg.add_argument("--all", action="store_true", help="also list standard OTEL_* variables left at their default")
    cfg.add_argument("--json", action="store_true", help="print JSON instead of a table")
    cfg.add_argument("--file", metavar="PATH", help="check a declarative configuration file (OTEL_CONFIG_FILE) "
                     "and print the pipeline it describes; exit 2 listing every problem")
    cfg.add_argument("--markdown", action="store_true", help="print the documentation table of every variable")
    from otelkit.tailworker import cli as tail_worker_cli

    tw = sub.add_parser("tail-worker", help="tail-sample whole traces from Kafka as one worker of a consumer group")
    tail_worker_cli.add_arguments(tw)
    try:
        demo = importlib.import_module("otelkit.demo")
    except ImportError:
        demo = None
    if demo is not None:
        demo_parser = sub.add_parser("demo", help="run an example server under load with the whole pipeline")
        demo.add_arguments(demo_parser)
    return parser, dict(sub.choices)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    parser, commands = _parsers()
    args = parser.parse_args(argv)
    env = os.environ if environ is None else environ
    if args.command == "config":
        return _config_command(args, env)
    if args.command == "tail-worker":
        from otelkit.tailworker import cli as tail_worker_cli

        return tail_worker_cli.run(args, env)
    if args.command == "demo":
        demo = importlib.import_module("otelkit.demo")
        problem = demo.check_arguments(args)
        if problem:
            commands["demo"].error(problem)  # usage and the problem on stderr, exit 2
        return int(demo.run(args))
    return 2  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
