#!/usr/bin/env bash
# A Python virtual environment with the third-party peers the tests run against: tuspy (the tus
# project's Python client, for the evidence-upload interoperability test), cryptography (its
# Ed25519, to sign tuspy's requests), pyxform (the XLSForm converter ODK runs, for the XLSForm
# importer's comparison tests and benchmark), Selenium (to drive Debian's chromium-driver in
# the console's browser test) and moto in server mode (an S3-compatible peer for the evidence
# object-store test, server/tests/objects.rs). Made once in build/pyenv; prints the
# interpreter's path.
# Installs python3-venv from Debian when the venv module is missing (fresh machine, as root).
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_DIR="build/pyenv"
PY="$ENV_DIR/bin/python3"
WANT="tuspy==1.1.0 cryptography==44.0.3 requests==2.32.3 pyxform==4.5.0 selenium==4.38.0 moto[server]==5.2.1"

if [ ! -x "$PY" ] || [ "$(cat "$ENV_DIR/.installed" 2>/dev/null)" != "$WANT" ]; then
  if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
    apt-get install -y -q python3-venv >/dev/null \
      || { apt-get update -q >/dev/null && apt-get install -y -q python3-venv >/dev/null; }
  fi
  rm -rf "$ENV_DIR"
  python3 -m venv "$ENV_DIR" >&2
  # Split into packages, never globbed (moto[server]).
  set -f
  # shellcheck disable=SC2086
  "$ENV_DIR/bin/pip" install -q --disable-pip-version-check $WANT >&2
  echo "$WANT" > "$ENV_DIR/.installed"
fi
echo "$PWD/$PY"
