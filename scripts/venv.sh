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
  # the virtual ONVIF camera the PTZ tests drive; --no-deps: it asks for opencv-python, which would
  # shadow the headless OpenCV already installed (its numpy and cv2 needs are met by ours)
  case ",$extras," in *,test,*) .venv/bin/python -m pip install -q --no-deps "ipycam>=1.3,<2" ;; esac
else
  .venv/bin/python -m pip install -q -e .
fi
# The browser libraries the UI serves (MapLibre for the street map) from the lockfile; without npm
# the map page draws its plain canvas and says why.
if command -v npm >/dev/null; then
  npm ci --no-audit --no-fund --silent || echo "npm ci failed: the map page will use its plain canvas" >&2
fi
