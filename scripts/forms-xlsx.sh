#!/usr/bin/env bash
# The built-in templates as XLSForm spreadsheets, for form authors: docs/forms/ID.xlsx, written
# by `safehome form export builtin:ID`. Export is deterministic (fixed creation time, cells as
# text), so core/tests/xlsform_roundtrip.rs checks byte for byte that the files are current:
# run this script after changing a template.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p docs/forms
cargo build -q -p safehome-cli --bin safehome
BIN="${CARGO_TARGET_DIR:-target}/debug/safehome"
for id in $("$BIN" form list | sed -n 's/^builtin:\([a-z_]*\).*/\1/p'); do
  "$BIN" form export "builtin:$id" -o "docs/forms/$id.xlsx"
  echo "docs/forms/$id.xlsx"
done
