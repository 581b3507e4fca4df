# Sourced by scripts/test and scripts/demo: create .venv and install otelkit with the
# pinned, pip-check-clean set in constraints.txt; install the Debian tools tests use.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
VENV=${OTELKIT_VENV:-$root/.venv}
PY=$VENV/bin/python
extras=${1:-dev}
stamp=$VENV/.otelkit-installed-$extras
if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
  echo "==> installing otelkit[$extras] into $VENV (pinned by constraints.txt; a few minutes the first time)"
  # One line per package as pip resolves it, so a first run never looks stuck.
  "$PY" -m pip install --progress-bar off --disable-pip-version-check -c constraints.txt -e ".[$extras]" 2>&1 \
    | grep --line-buffered -v "is ignored: it is neither a file nor a directory" \
    | awk '/^Collecting /{n++; printf "    [%d] %s\n", n, $2; fflush(); next}
           /^Installing collected packages/{print "    installing..."; fflush(); next}
           /^(Successfully installed|ERROR|error)/{print "    " substr($0, 1, 200); fflush()}' || true
  "$PY" -m pip check
  touch "$stamp"
fi
