#!/usr/bin/env bash
# Build guard's wheel, install it into a fresh virtual environment (no checkout on its path) and run
# `guard demo` with it: proves an installed guard has its bundled rules, templates and migrations,
# and works end to end offline. Run after scripts/setup.sh (it uses .venv's Python and pip cache).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$(mktemp -d "${TMPDIR:-/tmp}/guard-wheel-XXXXXX")
trap 'rm -rf "$WORK"' EXIT
say() { printf '==> %s\n' "$*" >&2; }

PY=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
say "building the wheel"
# Build from a clean export of the committed tree, so the wheel is what a release would ship.
mkdir -p "$WORK/src"
git archive --format=tar HEAD | tar -x -C "$WORK/src"
.venv/bin/python -m pip wheel -q --no-deps --no-build-isolation -w "$WORK/dist" "$WORK/src"
WHEEL=$(ls "$WORK"/dist/guard_dlp-*.whl)
say "installing $(basename "$WHEEL") into a fresh venv"
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$WORK/venv/bin/python" -m pip install -q "$WHEEL"
say "running guard demo from the installed wheel"
mkdir -p "$WORK/run"
cd "$WORK/run"
# No checkout on the path, no proxy variables, no API keys: the demo must work from the wheel alone.
env -u PYTHONPATH -u HTTPS_PROXY -u HTTP_PROXY -u https_proxy -u http_proxy -u OPENAI_API_KEY -u ANTHROPIC_API_KEY \
    GUARD_HOME="$WORK/run/var" "$WORK/venv/bin/guard" rules check
env -u PYTHONPATH -u HTTPS_PROXY -u HTTP_PROXY -u https_proxy -u http_proxy -u OPENAI_API_KEY -u ANTHROPIC_API_KEY \
    GUARD_HOME="$WORK/run/var" "$WORK/venv/bin/guard" demo
"$WORK/venv/bin/python" - "$ROOT" <<'PYEOF'
import sys, guard
from pathlib import Path
# The installed package must not be the checkout's.
assert not Path(guard.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), guard.__file__
print(f"guard imported from {Path(guard.__file__).parent}")
PYEOF
say "wheel demo passed"
