# shellcheck shell=bash
# What scripts/kotlin-tests.sh and scripts/kotlin-bench.sh share: the tools (a JRE and Debian's
# Java libraries from apt-get, the Kotlin compiler from npm into build/tools), the host build of
# safehome-ffi with its generated Kotlin bindings, and one cached kotlinc run. Sourced from the
# repository root, after `set -euo pipefail`, with KOTLIN_ENV_NAME set (it prefixes the step
# lines: `== NAME: what (seconds)`).

KOTLIN_VERSION="2.4"                       # npm kotlin-compiler, any 2.4.x
TOOLS="build/tools"
KOTLINC="$TOOLS/node_modules/kotlin-compiler/bin/kotlinc"
KOTLIN_LIB="$TOOLS/node_modules/kotlin-compiler/lib"
TARGET="${CARGO_TARGET_DIR:-target}"
JAVA_LIBS=/usr/share/java

case "$(uname -s)" in
  Darwin) LIBNAME=libsafehome_ffi.dylib ;;
  *) LIBNAME=libsafehome_ffi.so ;;
esac

step() { printf '== %s: %s (%ss)\n' "${KOTLIN_ENV_NAME:-kotlin}" "$1" "$SECONDS"; }

apt_install() {
  apt-get install -y --no-install-recommends "$@" >/dev/null \
    || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "$@" >/dev/null; }
}

installed_kotlin() {
  sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$TOOLS/node_modules/kotlin-compiler/package.json" \
    2>/dev/null || true
}

# kotlin_env_tools JAR:DEBIAN_PACKAGE...
# Installs a JRE and each Debian package whose jar is missing from /usr/share/java, then the
# Kotlin compiler (npm kotlin-compiler $KOTLIN_VERSION.x) into build/tools unless it is there.
kotlin_env_tools() {
  local missing=() spec
  command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
  for spec in "$@"; do
    [ -f "$JAVA_LIBS/${spec%%:*}" ] || missing+=("${spec#*:}")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    apt_install "${missing[@]}"
  fi

  command -v npm >/dev/null 2>&1 || { echo "npm (Node.js) is required for kotlin-compiler" >&2; exit 2; }

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
}

# kotlin_env_bindings OUT PROFILE_DIR [CARGO_BUILD_ARGS...]
# Builds safehome-ffi (`cargo build --locked -p safehome-ffi CARGO_BUILD_ARGS...`, whose output
# is in $TARGET/PROFILE_DIR) and the workspace's uniffi-bindgen, copies the library to OUT/lib
# and generates the Kotlin bindings from that copy into OUT/generated. A private copy: another
# cargo build in the workspace (with other features) may replace the library in $TARGET while
# the JVM runs; the bindings and the JVM use this copy only. Sets LIB to the copy.
kotlin_env_bindings() {
  local out="$1" profile_dir="$2"
  shift 2
  step "cargo build -p safehome-ffi${*:+ $*}"
  cargo build --locked -p safehome-ffi "$@"
  cargo build --locked -p safehome-uniffi-bindgen

  mkdir -p "$out/lib"
  cp "$TARGET/$profile_dir/$LIBNAME" "$out/lib/$LIBNAME.tmp"
  mv "$out/lib/$LIBNAME.tmp" "$out/lib/$LIBNAME"
  LIB="$out/lib/$LIBNAME"

  step "uniffi-bindgen kotlin (library mode, then the call-layer rewrite)"
  rm -rf "$out/generated"
  "$TARGET/debug/uniffi-bindgen" kotlin "$LIB" "$out/generated"
}

# kotlin_env_compile OUT CLASSPATH SOURCE_DIR...
# Compiles OUT/generated and every .kt under the SOURCE_DIRs in one kotlinc run into
# OUT/classes, skipped when neither the sources nor the compiler changed since the last run.
kotlin_env_compile() {
  local out="$1" classpath="$2" stamp
  shift 2
  local sources=()
  mapfile -t sources < <(find "$out/generated" "$@" -name '*.kt' | LC_ALL=C sort)
  stamp="$( (installed_kotlin; cat "${sources[@]}") | sha256sum | cut -d' ' -f1)"
  if [ -f "$out/classes/.stamp" ] && [ "$(cat "$out/classes/.stamp")" = "$stamp" ]; then
    step "kotlinc: sources unchanged, reusing $out/classes"
  else
    step "kotlinc (${#sources[@]} files)"
    rm -rf "$out/classes"
    mkdir -p "$out/classes"
    "$KOTLINC" -nowarn -jvm-target 17 -cp "$classpath" -d "$out/classes" "${sources[@]}"
    echo "$stamp" > "$out/classes/.stamp"
  fi
}
