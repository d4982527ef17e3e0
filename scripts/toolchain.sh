#!/usr/bin/env bash
# Make the toolchain that rust-toolchain.toml pins available without a download. These machines
# reach no toolchain server: where rustup has no toolchain of that name yet but an installed one
# (`stable`, say) is that very version, it is linked under the pinned name in rustup's toolchain
# folder (`rustup toolchain link` refuses names like `1.95.0`, which belong to official
# releases). Otherwise it says what is missing. Idempotent; scripts/test.sh runs it first.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v rustup >/dev/null 2>&1 || exit 0   # a toolchain without rustup: cargo is what it is
want="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)"
[ -n "$want" ] || { echo "rust-toolchain.toml: no channel" >&2; exit 2; }

installed="$(rustup toolchain list | cut -d' ' -f1)"
if printf '%s\n' "$installed" | grep -q "^$want-"; then
  exit 0
fi
for t in $installed; do
  # `rustup run NAME` picks that toolchain over the file's.
  version="$(rustup run "$t" rustc --version 2>/dev/null | cut -d' ' -f2 || true)"
  if [ "$version" = "$want" ]; then
    host="$(rustup run "$t" rustc -vV | sed -n 's/^host: //p')"
    sysroot="$(rustup run "$t" rustc --print sysroot)"
    ln -sfn "$sysroot" "${RUSTUP_HOME:-$HOME/.rustup}/toolchains/$want-$host"
    echo "toolchain $want: the installed $t ($sysroot)"
    exit 0
  fi
done
echo "rust-toolchain.toml pins Rust $want, and no installed toolchain is that version:" >&2
echo "install it (rustup toolchain install $want) or change the pin." >&2
exit 2
