#!/usr/bin/env bash
# Run the fuzz targets (fuzz/fuzz_targets: the envelope reader, the photo pipeline, the upload
# protocol's readers, form definitions, expressions, assigned areas, points files and the
# XLSForm importer) under
# libFuzzer with AddressSanitizer, SECONDS each (default 300): `bash scripts/fuzz.sh [SECONDS]`.
# `bash scripts/fuzz.sh --ci [RUNS]` runs each target for a bounded number of inputs instead
# (default 20000), as the test command does.
#
# cargo-fuzz wants a nightly compiler for the sanitizer flags. Where only stable is installed
# (as on the team's build machines), RUSTC_BOOTSTRAP=1 lets the stable compiler accept them;
# the code under test is the same either way. Not part of the test command: the same target
# bodies run on every test run as property tests (core/tests/evidence_fuzz.rs).
#
# Seeds: the repository's photo fixtures under 400 KB (testdata/photos: every format and oddity)
# and a few envelope-builder inputs. Findings land in fuzz/artifacts/<target>/; the corpora grow in
# fuzz/corpus/<target>/ (both ignored by git).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
if [ "${1:-}" = "--ci" ]; then
  LIMIT="-runs=${2:-20000}"
else
  LIMIT="-max_total_time=${1:-300}"
fi
FIXTURES="../testdata/photos"
TARGETS="envelope_open photo_pipeline protocol_reader form_json expression areas_geojson points_csv xlsform_import"

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

for t in $TARGETS; do mkdir -p "corpus/$t"; done
[ -d "$FIXTURES/camera" ] || { echo "photo fixtures missing at $FIXTURES" >&2; exit 2; }
find "$FIXTURES" -type f -size -400k -name '*.*' ! -name '*.md' ! -name '*.py' \
  -exec cp {} corpus/photo_pipeline/ \;
# Envelope seeds: mode byte 1 builds a valid envelope of (byte 1 x 600) bytes, then mutates it.
printf '\x01\x00' > corpus/envelope_open/empty-payload
printf '\x01\x02' > corpus/envelope_open/small-payload
printf '\x01\xff' > corpus/envelope_open/three-chunks
printf '\x01\x02\x00\x30\x01' > corpus/envelope_open/header-flip
printf '\x01\x02\x80' > corpus/envelope_open/truncated
# Protocol seeds: a submission body's start, a receipt-shaped and a config-shaped document.
printf 'SHSUB\x01\x00\x00\x00\x02{}' > corpus/protocol_reader/body-start
printf '{"receipt":{"schema":"safehome.receipt.v1"},"signature":"00"}' > corpus/protocol_reader/receipt
printf '{"config":{"server_public_key":"shserver1"},"signature":"00"}' > corpus/protocol_reader/config

# Form seeds: the built-in templates; expression seeds: one per line of the expressions file;
# location seeds: the communes and points fixtures.
cp ../core/src/templates/*.json corpus/form_json/
n=0
while IFS= read -r e; do
  n=$((n + 1)); printf '%s' "$e" > "corpus/expression/seed-$n"
done < ../core/tests/data/expressions.txt
cp ../core/tests/data/geo/communes.geojson corpus/areas_geojson/
cp ../core/tests/data/geo/points.csv corpus/points_csv/

# XLSForm seeds: pyxform's test spreadsheets (testdata/xlsforms).
cp ../testdata/xlsforms/*.xlsx corpus/xlsform_import/

export RUSTC_BOOTSTRAP=1
for target in $TARGETS; do
  echo "== fuzz $target ($LIMIT)"
  cargo fuzz run -O "$target" "corpus/$target" -- \
    "$LIMIT" -rss_limit_mb=2048 -max_len=1048576 -print_final_stats=1
done
