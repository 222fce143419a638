#!/usr/bin/env bash
# Creates .venv and installs Oversight into it (editable), with the extras named in $1 (e.g. "test"),
# and the npm packages of package-lock.json into node_modules.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
extras=${1:-}
if [ -n "$extras" ]; then
  .venv/bin/python -m pip install -q -e ".[${extras}]"
else
  .venv/bin/python -m pip install -q -e .
fi
# The browser libraries the UI serves (MapLibre for the street map) from the lockfile; without npm
# the map page draws its plain canvas and says why.
if command -v npm >/dev/null; then
  npm ci --no-audit --no-fund --silent || echo "npm ci failed: the map page will use its plain canvas" >&2
fi
