#!/usr/bin/env bash
# Every test of the project, on a fresh machine: formatting, lints, the dependency tree's
# licences and bans, the Rust test suites (unit, integration, property, end-to-end) and the
# benchmarks compiled and run once as tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is required (https://rustup.rs)" >&2
  exit 2
fi
# rust-toolchain.toml pins the toolchain; name an installed one of that version, offline.
bash scripts/toolchain.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The harness-only exports of the bindings (test-hooks, bench-hooks, provisioning) are linted too.
cargo clippy -p safehome-ffi --all-targets --features test-hooks,bench-hooks,provisioning --locked -- -D warnings

echo "== cargo deny: licences and bans (deny.toml; advisories need a network this machine lacks)"
command -v cargo-deny >/dev/null 2>&1 || cargo install cargo-deny --locked --version "~0.20"
cargo deny --locked check --hide-inclusion-graph licenses bans

echo "== Python peers of the interoperability tests (tuspy, pyxform, Selenium, moto[server] for S3; in build/pyenv)"
SAFEHOME_PYTHON="$(bash scripts/python-env.sh)"
export SAFEHOME_PYTHON

echo "== ODK's form engine (@getodk/xforms-engine, in build/odk) for the XLSForm comparison"
SAFEHOME_ODK_ENGINE="$(bash scripts/odk-engine.sh)"
export SAFEHOME_ODK_ENGINE

echo "== Chromium and chromium-driver (Debian) for the console's browser test"
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  apt-get install -y -q chromium chromium-driver >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null; }
fi
SAFEHOME_CHROMEDRIVER="$(command -v chromedriver)"
export SAFEHOME_CHROMEDRIVER
# The browser test's screenshots (desktop and phone widths); CI keeps this folder.
SAFEHOME_SCREENSHOTS="$PWD/build/screenshots"
export SAFEHOME_SCREENSHOTS
rm -rf "$SAFEHOME_SCREENSHOTS"

echo "== cargo test (SQLite, the embedded default)"
cargo test --workspace --all-targets --locked

echo "== the server's whole suite again on PostgreSQL (a throwaway cluster on loopback, or yours)"
# SAFEHOME_TEST_POSTGRES already set: a developer's own PostgreSQL (a database the tests may
# connect to and create databases from). Otherwise scripts/postgres.sh installs PostgreSQL from
# Debian's packages if needed, starts a cluster on 127.0.0.1 in build/pg, and it is stopped and
# deleted when this script ends, whatever the outcome.
if [ -z "${SAFEHOME_TEST_POSTGRES:-}" ]; then
  SAFEHOME_TEST_POSTGRES="$(bash scripts/postgres.sh start)"
  trap 'bash scripts/postgres.sh stop' EXIT
fi
export SAFEHOME_TEST_POSTGRES
SAFEHOME_TEST_POSTGRES="$SAFEHOME_TEST_POSTGRES" cargo test -p safehome-server --all-targets --locked

echo "   console screenshots: $(find "$SAFEHOME_SCREENSHOTS" -name '*.png' | wc -l) in build/screenshots/"

echo "== fuzz targets under libFuzzer and AddressSanitizer, briefly (scripts/fuzz.sh --ci)"
bash scripts/fuzz.sh --ci 20000

echo "== doc tests"
cargo test --workspace --doc --locked

echo "== Kotlin tests of the bindings (JVM, JUnit 4)"
bash scripts/kotlin-tests.sh

echo "== Swift bindings: generated and checked (no Swift toolchain here: docs/bindings.md)"
bash ios/generate-swift.sh --check

echo "== a fresh clone: nothing refers outside the repository; the demo runs in a clone alone"
bash scripts/fresh-clone.sh
