#!/usr/bin/env bash
# Kotlin tests of the uniffi bindings on the JVM, against the host library. On a fresh Debian
# machine (as root) it installs what it needs: JNA, JUnit 4 and Hamcrest from Debian, the Kotlin
# compiler from npm into build/tools. Then it builds safehome-ffi (with the `test-hooks`
# feature), generates the Kotlin bindings from the built library with the workspace's
# uniffi-bindgen, compiles them with the tests in android/jvm-tests once, and runs the tests
# with JUnit 4. The tests read photos from ../shared/fixtures (they fail loudly if it is
# missing). The last line is `N passed, N failed`.
set -euo pipefail
cd "$(dirname "$0")/.."

KOTLIN_VERSION="2.4"                       # npm kotlin-compiler, any 2.4.x
TOOLS="build/tools"
KOTLINC="$TOOLS/node_modules/kotlin-compiler/bin/kotlinc"
KOTLIN_LIB="$TOOLS/node_modules/kotlin-compiler/lib"
OUT="build/kotlin"
TARGET="${CARGO_TARGET_DIR:-target}"
JAVA_LIBS=/usr/share/java
JARS="$JAVA_LIBS/jna.jar:$JAVA_LIBS/junit4.jar:$JAVA_LIBS/hamcrest.jar"
TESTS_SRC="android/jvm-tests/src/test/kotlin"

step() { printf '== kotlin-tests: %s (%ss)\n' "$1" "$SECONDS"; }

# --- tools -------------------------------------------------------------------------------------
apt_install() {
  apt-get install -y --no-install-recommends "$@" >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "$@" >/dev/null; }
}

missing=()
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
[ -f "$JAVA_LIBS/jna.jar" ] || missing+=(libjna-java)
[ -f "$JAVA_LIBS/junit4.jar" ] || missing+=(junit4)
[ -f "$JAVA_LIBS/hamcrest.jar" ] || missing+=(libhamcrest-java)
if [ "${#missing[@]}" -gt 0 ]; then
  step "apt-get install ${missing[*]}"
  apt_install "${missing[@]}"
fi

command -v npm >/dev/null 2>&1 || { echo "npm (Node.js) is required for kotlin-compiler" >&2; exit 2; }

installed_kotlin() {
  sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$TOOLS/node_modules/kotlin-compiler/package.json" \
    2>/dev/null || true
}
case "$(installed_kotlin)" in
  "$KOTLIN_VERSION".*) ;;
  *)
    step "npm install kotlin-compiler@$KOTLIN_VERSION"
    mkdir -p "$TOOLS"
    npm install --prefix "$TOOLS" --no-audit --no-fund --no-save --loglevel=error \
      "kotlin-compiler@$KOTLIN_VERSION" >/dev/null
    ;;
esac
echo "kotlinc $(installed_kotlin), $(java -version 2>&1 | head -n 1)"

# --- host library and bindings -----------------------------------------------------------------
step "cargo build -p safehome-ffi --features test-hooks"
cargo build --locked -p safehome-ffi --features test-hooks
cargo build --locked -p safehome-uniffi-bindgen

case "$(uname -s)" in
  Darwin) LIBNAME=libsafehome_ffi.dylib ;;
  *) LIBNAME=libsafehome_ffi.so ;;
esac
# A private copy: another cargo build in the workspace (without `test-hooks`) may replace
# target/debug/$LIBNAME while the tests run; the bindings and the JVM use this copy only.
mkdir -p "$OUT/lib"
cp "$TARGET/debug/$LIBNAME" "$OUT/lib/$LIBNAME.tmp"
mv "$OUT/lib/$LIBNAME.tmp" "$OUT/lib/$LIBNAME"
LIB="$OUT/lib/$LIBNAME"

step "uniffi-bindgen generate (library mode, kotlin)"
rm -rf "$OUT/generated"
"$TARGET/debug/uniffi-bindgen" generate "$LIB" --language kotlin --out-dir "$OUT/generated" \
  --no-format >/dev/null

# --- compile once: the generated Kotlin and the tests together ---------------------------------
mapfile -t SOURCES < <(find "$OUT/generated" "$TESTS_SRC" -name '*.kt' | LC_ALL=C sort)
stamp="$( (installed_kotlin; cat "${SOURCES[@]}") | sha256sum | cut -d' ' -f1)"
if [ -f "$OUT/classes/.stamp" ] && [ "$(cat "$OUT/classes/.stamp")" = "$stamp" ]; then
  step "kotlinc: sources unchanged, reusing $OUT/classes"
else
  step "kotlinc (${#SOURCES[@]} files)"
  rm -rf "$OUT/classes"
  mkdir -p "$OUT/classes"
  "$KOTLINC" -nowarn -jvm-target 17 -cp "$JARS" -d "$OUT/classes" "${SOURCES[@]}"
  echo "$stamp" > "$OUT/classes/.stamp"
fi

# --- run ---------------------------------------------------------------------------------------
mapfile -t CLASSES < <(cd "$OUT/classes" && find . -name '*Test.class' ! -name '*$*' \
  | sed 's|^\./||; s|\.class$||; s|/|.|g' | LC_ALL=C sort)
step "JUnit: ${CLASSES[*]}"
status=0
RUST_BACKTRACE=0 java -Djna.library.path="$OUT/lib" -Dsafehome.repoRoot="$PWD" \
  -cp "$OUT/classes:$KOTLIN_LIB/kotlin-stdlib.jar:$JARS" \
  org.safehome.core.TestRunnerKt "${CLASSES[@]}" || status=$?
exit "$status"
