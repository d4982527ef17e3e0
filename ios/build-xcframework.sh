#!/usr/bin/env bash
# Build SafeHomeCoreFFI.xcframework (the Rust core as static libraries for iOS devices and the
# simulator) and the generated Swift API that goes with it. Needs macOS with Xcode and rustup.
#
#   ios/build-xcframework.sh [--test-hooks] [--profile release|dev]
#
# Slices: aarch64-apple-ios (devices), and a fat simulator library made with lipo from
# aarch64-apple-ios-sim (Apple silicon Macs) and x86_64-apple-ios (Intel Macs).
# --test-hooks  adds SafeHomeStore.openForTesting & co. and generateRecipientIdentity (features
#               test-hooks and provisioning) for the XCTest suite; never ship it.
#
# Output:
#   ios/build/SafeHomeCoreFFI.xcframework          binary target of Package.swift
#   ios/Sources/SafeHomeCore/Generated/*.swift     generated Swift (SafeHomeCore target)
set -euo pipefail
cd "$(dirname "$0")/.."

# (macOS ships bash 3.2: no empty arrays under `set -u`, hence plain strings.)
PROFILE=release
HOOKS=""
while [ $# -gt 0 ]; do
  case "$1" in
    --test-hooks) HOOKS="--test-hooks"; shift ;;
    --profile) PROFILE="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
PROFILE_DIR="$PROFILE"
[ "$PROFILE" = dev ] && PROFILE_DIR=debug

[ "$(uname -s)" = Darwin ] || { echo "build-xcframework.sh needs macOS with Xcode" >&2; exit 2; }
command -v xcodebuild >/dev/null || { echo "xcodebuild not found (install Xcode)" >&2; exit 2; }

TARGET="${CARGO_TARGET_DIR:-target}"
BUILD="ios/build"
DEVICE=aarch64-apple-ios
SIMULATORS=(aarch64-apple-ios-sim x86_64-apple-ios)
LIB=libsafehome_ffi.a
MODULE=SafeHomeCoreFFI           # the C module (bindings/uniffi.toml: ffi_module_name)
HEADER=safehome_ffiFFI.h         # ffi_module_filename + .h
GENERATED_SWIFT="ios/Sources/SafeHomeCore/Generated"

# Minimum iOS version of the Rust objects: the same as Package.swift's platforms.
export IPHONEOS_DEPLOYMENT_TARGET=15.0

echo "== rustup targets"
rustup target add "$DEVICE" "${SIMULATORS[@]}" >/dev/null

FEATURE_ARGS=""
[ -n "$HOOKS" ] && FEATURE_ARGS="--features test-hooks,provisioning"
echo "== cargo build ($PROFILE${HOOKS:+, test hooks})"
for t in "$DEVICE" "${SIMULATORS[@]}"; do
  # shellcheck disable=SC2086 # FEATURE_ARGS is empty or two words
  cargo build --locked -p safehome-ffi --lib --target "$t" --profile "$PROFILE" $FEATURE_ARGS
done

echo "== lipo: one simulator library for both Mac architectures"
rm -rf "$BUILD"
mkdir -p "$BUILD/ios" "$BUILD/ios-simulator"
cp "$TARGET/$DEVICE/$PROFILE_DIR/$LIB" "$BUILD/ios/$LIB"
lipo -create \
  "$TARGET/aarch64-apple-ios-sim/$PROFILE_DIR/$LIB" \
  "$TARGET/x86_64-apple-ios/$PROFILE_DIR/$LIB" \
  -output "$BUILD/ios-simulator/$LIB"
lipo -info "$BUILD/ios-simulator/$LIB"

echo "== generate the Swift API from the device library (same code and features as the slices)"
# shellcheck disable=SC2086 # HOOKS is empty or one word
bash ios/generate-swift.sh --lib "$BUILD/ios/$LIB" --out "$BUILD/generated" --check $HOOKS

# Headers in a folder named after the module: every uniffi XCFramework otherwise ships a
# top-level module.modulemap, and two of them in one app collide in Xcode's include path.
# Clang finds <include dir>/SafeHomeCoreFFI/module.modulemap when `import SafeHomeCoreFFI`.
HEADERS="$BUILD/headers"
mkdir -p "$HEADERS/$MODULE"
cp "$BUILD/generated/$HEADER" "$HEADERS/$MODULE/$HEADER"
cp "$BUILD/generated/safehome_ffiFFI.modulemap" "$HEADERS/$MODULE/module.modulemap"

echo "== xcodebuild -create-xcframework"
xcodebuild -create-xcframework \
  -library "$BUILD/ios/$LIB" -headers "$HEADERS" \
  -library "$BUILD/ios-simulator/$LIB" -headers "$HEADERS" \
  -output "$BUILD/$MODULE.xcframework"

rm -rf "$GENERATED_SWIFT"
mkdir -p "$GENERATED_SWIFT"
cp "$BUILD/generated/SafeHomeCore.swift" "$GENERATED_SWIFT/"

echo "built $BUILD/$MODULE.xcframework and $GENERATED_SWIFT/SafeHomeCore.swift"
