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
# The default models (oversight-models: YOLOX-nano, YuNet) built from the shared assets when this
# checkout has them and the venv lacks a verified copy; without them cameras with no model configured
# run the HOG/Haar fallbacks and say so (degraded). `oversight models pack` refuses unpinned files.
models=../shared/assets/models
if [ -d "$models" ] && ! .venv/bin/python -c "import sys; from oversight.config.models import packaged_model as p; sys.exit(0 if p('detector') and p('faces') else 1)" 2>/dev/null; then
  dist=$(mktemp -d)
  if .venv/bin/oversight models pack --from "$models" --out "$dist" >/dev/null; then
    .venv/bin/python -m pip install -q --no-deps --force-reinstall "$dist"/oversight_models-*.whl
  else
    echo "oversight-models not built: cameras without a model run the degraded fallbacks" >&2
  fi
  rm -rf "$dist"
fi
# The browser libraries the UI serves (MapLibre for the street map) from the lockfile; without npm
# the map page draws its plain canvas and says why.
if command -v npm >/dev/null; then
  npm ci --no-audit --no-fund --silent || echo "npm ci failed: the map page will use its plain canvas" >&2
fi
