#!/usr/bin/env bash
# Kotlin tests of the uniffi bindings on the JVM, against the host library. On a fresh Debian
# machine (as root) it installs what it needs: JNA, JUnit 4 and Hamcrest from Debian, the Kotlin
# compiler from npm into build/tools. Then it builds safehome-ffi (with the `test-hooks` and
# `provisioning` features, and `bench-hooks` so that the benchmark harness compiles), generates
# the Kotlin bindings from the built library with the workspace's uniffi-bindgen, compiles them
# with the tests in android/jvm-tests (and the benchmark harness of android/jvm-bench, which is
# not run here) once, and runs the tests with JUnit 4. The tests
# read photos from testdata/photos (they fail loudly if one is missing). The last line is
# `N passed, N failed`. The tools and the build steps are shared with scripts/kotlin-bench.sh
# (scripts/lib/kotlin-env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

KOTLIN_ENV_NAME=kotlin-tests
# shellcheck source=lib/kotlin-env.sh
source scripts/lib/kotlin-env.sh
OUT="build/kotlin"
JARS="$JAVA_LIBS/jna.jar:$JAVA_LIBS/junit4.jar:$JAVA_LIBS/hamcrest.jar"
TESTS_SRC="android/jvm-tests/src/test/kotlin"
# The benchmark harness (scripts/kotlin-bench.sh) is compiled here too, so that an API change
# that breaks it fails the tests; it is not run.
BENCH_SRC="android/jvm-bench/src/main/kotlin"
# The app's glue that needs only the JDK (the HTTP transport) is compiled and tested here too.
GLUE_SRC="android/core/src/main/kotlin/org/safehome/android/HttpUrlConnectionTransport.kt"

# --- tools -------------------------------------------------------------------------------------
kotlin_env_tools jna.jar:libjna-java junit4.jar:junit4 hamcrest.jar:libhamcrest-java

# --- host library and bindings -----------------------------------------------------------------
kotlin_env_bindings "$OUT" debug --features test-hooks,bench-hooks,provisioning

# --- compile once: the generated Kotlin and the tests together ---------------------------------
kotlin_env_compile "$OUT" "$JARS" "$TESTS_SRC" "$BENCH_SRC" "$GLUE_SRC"

# --- the server the sync tests upload to (a real process on a loopback port) --------------------
step "cargo build -p safehome-server"
cargo build -q -p safehome-server --locked
SERVER_EXE="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/debug/safehome-server"

# --- run ---------------------------------------------------------------------------------------
mapfile -t CLASSES < <(cd "$OUT/classes" && find . -name '*Test.class' ! -name '*$*' \
  | sed 's|^\./||; s|\.class$||; s|/|.|g' | LC_ALL=C sort)
step "JUnit: ${CLASSES[*]}"
status=0
RUST_BACKTRACE=0 java -Djna.library.path="$OUT/lib" -Dsafehome.repoRoot="$PWD" \
  -Dsafehome.serverExe="$SERVER_EXE" \
  -cp "$OUT/classes:$KOTLIN_LIB/kotlin-stdlib.jar:$JARS" \
  org.safehome.core.TestRunnerKt "${CLASSES[@]}" || status=$?
exit "$status"
