#!/usr/bin/env bash
# Generate the Swift bindings of safehome-ffi: SafeHomeCore.swift (the API), safehome_ffiFFI.h
# (the C interface) and the module map of the C module SafeHomeCoreFFI.
#
#   ios/generate-swift.sh [--lib PATH] [--out DIR] [--test-hooks] [--check]
#
# --lib         read the API from this built library (.a, .dylib, .so); default: build the host
#               library (debug) and read it. build-xcframework.sh passes the iOS static library,
#               so the Swift always matches the slices it ships.
# --out         where to write (default ios/build/generated).
# --test-hooks  build the host library with the `test-hooks` and `provisioning` features (for
#               XCTest builds: the fixtures make their archive key with generateRecipientIdentity).
# --check       after generating, check that the expected declarations are present (and, without
#               --test-hooks, that no test hook or key generator leaked into an app build). Runs
#               on Linux too: it is how CI checks the Swift API without a Swift toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."

# (macOS ships bash 3.2: no empty arrays under `set -u`, hence plain strings.)
LIB=""
OUT="ios/build/generated"
FEATURE_ARGS=""
CHECK=0
TEST_HOOKS=0
while [ $# -gt 0 ]; do
  case "$1" in
    --lib) LIB="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --test-hooks) FEATURE_ARGS="--features test-hooks,provisioning"; TEST_HOOKS=1; shift ;;
    --check) CHECK=1; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

TARGET="${CARGO_TARGET_DIR:-target}"
cargo build --locked -p safehome-uniffi-bindgen
if [ -z "$LIB" ]; then
  # shellcheck disable=SC2086 # FEATURE_ARGS is empty or two words
  cargo build --locked -p safehome-ffi $FEATURE_ARGS
  case "$(uname -s)" in
    Darwin) LIB="$TARGET/debug/libsafehome_ffi.dylib" ;;
    *) LIB="$TARGET/debug/libsafehome_ffi.so" ;;
  esac
fi
[ -f "$LIB" ] || { echo "no library at $LIB" >&2; exit 2; }

rm -rf "$OUT"
mkdir -p "$OUT"
"$TARGET/debug/uniffi-bindgen" generate "$LIB" --language swift --out-dir "$OUT" --no-format >/dev/null
SWIFT="$OUT/SafeHomeCore.swift"
for f in "$SWIFT" "$OUT/safehome_ffiFFI.h" "$OUT/safehome_ffiFFI.modulemap"; do
  [ -s "$f" ] || { echo "uniffi-bindgen did not write $f" >&2; exit 1; }
done
echo "generated $(wc -l < "$SWIFT") lines of Swift in $OUT"

[ "$CHECK" = 1 ] || exit 0

# --- check: the API the iOS app is written against --------------------------------------------
missing=0
expect() {
  if ! grep -qE "$1" "$SWIFT" "$OUT/safehome_ffiFFI.h" "$OUT/safehome_ffiFFI.modulemap"; then
    echo "missing: $1" >&2
    missing=$((missing + 1))
  fi
}
for cls in SafeHomeStore ProfileSession DraftSession FormSession FormDefinition AssignedAreas; do
  expect "^open class $cls: ${cls}Protocol"
done
# Forms from JSON and from XLSForm spreadsheets (docs/forms.md).
expect "static func fromXlsform\\(path: String\\)"
for proto in LogSink ProgressListener; do
  expect "^public protocol $proto: AnyObject, Sendable"
done
for rec in AnswerValue AreaPlacement; do expect "^public enum $rec: Equatable"; done
# The store's enums cross as the core's own (`#[uniffi::remote(Enum)]`), never as strings.
for e in RiskLevel RecordKind RecordState OutboxItemKind OutboxState Role RecipientKind; do
  expect "^public enum $e: Equatable"
done
for rec in Prompt Assessment FinalizeResult GpsFix AcceptedFix QualityFlag Household NewHousehold \
    ProfileInfo AttachmentInfo OutboxEntry StorageStatus AuditReport LogRecord; do
  expect "^public struct $rec: Equatable"
done
expect '^enum ApiError: Swift.Error'
# ApiError is a rich error: each case has the fields an app acts on, then `detail` (for logs).
for case_ in WrongKey StoreClosed LockedOut DiskFull NoRecipients; do
  expect "case $case_\\(detail: String($|\\))"
done
expect 'case WrongPin\(attemptsRemaining: Int32, detail: String($|\))'
expect 'case PinDelay\(retryAtMs: Int64, detail: String($|\))'
expect 'case NotValid\(count: Int32, firstPath: String, detail: String($|\))'
expect 'case UnsupportedFormat\(format: String, detail: String($|\))'
expect 'case InvalidFix\(reason: FixRefusal, detail: String($|\))'
expect 'case InvalidPath\(path: String, detail: String($|\))'
expect 'case InvalidAnswer\(path: String, detail: String($|\))'
expect 'case InvalidForm\(line: Int32\?, column: Int32\?, path: String\?, detail: String($|\))'
expect 'case InvalidAreas\(featureIndex: Int32\?, featureCode: String\?, detail: String($|\))'
expect 'case NotFound\(entity: String, id: String, detail: String($|\))'
expect 'case Forbidden\(role: String, action: String, detail: String($|\))'
expect '^public enum FixRefusal: Equatable'
expect 'public static func `open`\(path: String, dataKey: Data, utcOffsetMinutes: Int32\)'
expect 'func attachPhoto\(fieldPath: String, filePath: String, progress: ProgressListener\? = nil\)'
expect 'func closeStore\(\)'
expect 'func setAssignedAreas\(geojson: String\?\)'
expect 'func assignedAreas\(\) *throws *-> AssignedAreas\?'
expect 'public var qualityFlags: \[QualityFlag\]'
expect 'public var qualityFlags: \[QualityFlagCode\]'
expect 'public var state: RecordState$'
expect 'public var state: OutboxState$'
expect 'public var itemKind: OutboxItemKind$'
expect 'public var riskLevel: RiskLevel\?$'
expect 'public var assessment: Assessment\?$'
expect 'public var kind: RecipientKind$'
expect 'public var recordsByState: \[RecordStateCount\]$'
expect 'public var outboxByState: \[OutboxStateCount\]$'
expect '^public func setLogSink\(sink: LogSink\?, minLevel: LogLevel\)'
expect '^module SafeHomeCoreFFI \{'
if [ "$TEST_HOOKS" = 1 ]; then
  expect 'openForTesting'
  expect '^public func generateRecipientIdentity\(\)'
  expect '^public struct RecipientIdentity: Equatable'
else
  if grep -q 'openForTesting\|testPanicWhileLocked\|testAdvanceClock\|benchAnswerInRust' "$SWIFT"; then
    echo "test or bench hooks leaked into a build without the test-hooks feature" >&2
    missing=$((missing + 1))
  fi
  # An app must not be able to make a recipient's private key (feature `provisioning`).
  if grep -q 'generateRecipientIdentity\|RecipientIdentity' "$SWIFT"; then
    echo "the key generator leaked into a build without the provisioning feature" >&2
    missing=$((missing + 1))
  fi
fi
# Large data never crosses as bytes: the only `Data` parameters of the API are the data key and
# the HTTP transport's response pieces (`HttpResponseSink.appendBody`: a response is at most
# 1 MiB, refused past it; requests are at most one 256 KiB chunk). Photos cross as file paths.
bytes_params=$(grep -nE '^ *(public )?(static )?func [a-zA-Z`]+\(.*: Data[,)]' "$SWIFT" \
  | grep -vE 'dataKey: Data|func appendBody\(chunk: Data\)|buf: inout|FfiConverter|func (lift|lower|read|write)\(' || true)
if [ -n "$bytes_params" ]; then
  echo "a function takes bytes other than the data key and HTTP response pieces:" >&2
  echo "$bytes_params" >&2
  missing=$((missing + 1))
fi
if [ "$missing" -gt 0 ]; then
  echo "Swift bindings check: $missing problem(s)" >&2
  exit 1
fi
echo "Swift bindings check: expected types present"
