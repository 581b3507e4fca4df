#!/usr/bin/env bash
# Run every benchmark (or those matching $1) in one session and print the ratio table.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
mkdir -p benchmarks/results
out=benchmarks/results/latest.json
"$py" -m pytest benchmarks -p no:randomly -o testpaths=benchmarks -o python_files='bench_*.py' \
  --benchmark-only --benchmark-json="$out" ${1:+-k "$1"} -q
"$py" benchmarks/ratio.py "$out"
