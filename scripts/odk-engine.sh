#!/usr/bin/env bash
# ODK's JavaScript form engine (@getodk/xforms-engine, the engine of ODK Web Forms), pinned, for
# the test that fills the household form through it and through SafeHome's engine and compares
# the calculated values (cli/tests/odk_engine.rs, driven by scripts/odk/fill.mjs). Installed once
# with npm into build/odk (Node 20 or later is needed); prints the directory.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="build/odk"
# jsdom gives the engine (built for browsers) the DOM it parses XForms with.
WANT="@getodk/xforms-engine@0.22.0 jsdom@26.1.0"

command -v node >/dev/null 2>&1 || { echo "node (20 or later) is required" >&2; exit 2; }
if [ "$(cat "$DIR/.installed" 2>/dev/null)" != "$WANT" ]; then
  mkdir -p "$DIR"
  # shellcheck disable=SC2086 # two packages
  (cd "$DIR" && npm install --no-audit --no-fund --silent --no-save $WANT >&2)
  echo "$WANT" > "$DIR/.installed"
fi
echo "$PWD/$DIR"
