#!/usr/bin/env bash
# Benchmarks of the Kotlin API on the JVM (issue 5), against the RELEASE build of the host
# library: a trivial call's overhead, one answer with recompute through FormSession, and
# attaching an 8 MP (and a 9 MP) camera photo to a stored draft. The same operations are timed
# in Rust first (bindings/benches/api.rs: the core directly and the bindings' Rust objects), so
# the table ends with Kotlin / Rust ratios from one run. Installs what it needs like
# scripts/kotlin-tests.sh (shared: scripts/lib/kotlin-env.sh), but only JNA from Debian.
#
#   bash scripts/kotlin-bench.sh            # full run: about a minute of measuring after the builds
#   bash scripts/kotlin-bench.sh --quick    # a few iterations of each, to check it works
#
# Output: one JSON line per benchmark (build/kotlin-bench/rust.jsonl, stock.jsonl and kotlin.jsonl),
# then a table; exit code 0 even when a target is missed (the table says so), 1 if Kotlin and
# Rust did not answer on the same filled form. Figures: docs/bindings.md, "Benchmarks". Not part
# of scripts/test.sh (CI only compiles Bench.kt, with the Kotlin tests).
set -euo pipefail
cd "$(dirname "$0")/.."

QUICK=()
case "${1:-}" in
  --quick) QUICK=(--quick) ;;
  "") ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

KOTLIN_ENV_NAME=kotlin-bench
# shellcheck source=lib/kotlin-env.sh
source scripts/lib/kotlin-env.sh
OUT="build/kotlin-bench"
JARS="$JAVA_LIBS/jna.jar"
BENCH_SRC="android/jvm-bench/src/main/kotlin"

kotlin_env_tools jna.jar:libjna-java
# One release build of the library and of the Rust benchmark (the same compiled core). The
# benchmark is built with `cargo build --release` rather than `cargo bench`, whose `bench`
# profile would compile the core a second time.
# `provisioning`: the harness makes its archive key with generateRecipientIdentity.
kotlin_env_bindings "$OUT" release --release --features bench-hooks,provisioning --lib --bench api
RUST_BENCH="$(cargo build --locked --release -p safehome-ffi --features bench-hooks,provisioning --bench api \
  --message-format=json-render-diagnostics | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)"
[ -x "$RUST_BENCH" ] || { echo "kotlin-bench: no Rust benchmark executable" >&2; exit 1; }
kotlin_env_compile "$OUT" "$JARS" "$BENCH_SRC"
# The same benchmark against uniffi's own Kotlin (no call-layer rewrite), for the speed-up column.
step "uniffi-bindgen generate --language kotlin (uniffi's own, for comparison)"
rm -rf "$OUT/stock/generated"
"$TARGET/debug/uniffi-bindgen" generate "$LIB" --language kotlin --no-format \
  --out-dir "$OUT/stock/generated" >/dev/null
kotlin_env_compile "$OUT/stock" "$JARS" "$BENCH_SRC"

step "Rust: bindings/benches/api.rs (release)"
"$RUST_BENCH" --bench --out "$OUT/rust.jsonl" "${QUICK[@]}"

step "Kotlin, uniffi's own bindings (JNA Structures): org.safehome.bench.BenchKt"
RUST_BACKTRACE=0 java -Djna.library.path="$OUT/lib" -Dsafehome.repoRoot="$PWD" \
  -cp "$OUT/stock/classes:$KOTLIN_LIB/kotlin-stdlib.jar:$JARS" \
  org.safehome.bench.BenchKt --out "$OUT/stock.jsonl" --no-table "${QUICK[@]}"

step "Kotlin, SafeHome's call layer: org.safehome.bench.BenchKt (JNA, $LIB)"
RUST_BACKTRACE=0 java -Djna.library.path="$OUT/lib" -Dsafehome.repoRoot="$PWD" \
  -cp "$OUT/classes:$KOTLIN_LIB/kotlin-stdlib.jar:$JARS" \
  org.safehome.bench.BenchKt --rust "$OUT/rust.jsonl" --stock "$OUT/stock.jsonl" \
  --out "$OUT/kotlin.jsonl" "${QUICK[@]}"
