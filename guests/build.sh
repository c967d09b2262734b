#!/usr/bin/env bash
# Rebuilds the bundled guests (release) and copies the ELFs to elf/<name>.elf.
# Usage: guests/build.sh   (from anywhere)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

TARGET=riscv32im-unknown-none-elf
GUESTS=(fibonacci cpubench io keccak sha2 bigint)

# An outer RUSTFLAGS would replace the rustflags of .cargo/config.toml (our linker script!), and an
# outer target dir or build target would put the ELFs elsewhere: use ours.
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_BUILD_TARGET
export CARGO_TARGET_DIR="$PWD/target"

if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed | grep -qx "$TARGET"; then
        echo "build.sh: installing the $TARGET target" >&2
        rustup target add "$TARGET"
    fi
fi

cargo build --release --locked --target "$TARGET" --workspace

mkdir -p elf
for g in "${GUESTS[@]}"; do
    src="target/$TARGET/release/$g"
    [[ -f "$src" ]] || { echo "build.sh: $src was not built" >&2; exit 1; }
    cp "$src" "elf/$g.elf"
done

# Sanity checks: ELF32 little-endian RISC-V executables entered at 0x10000.
for g in "${GUESTS[@]}"; do
    f="elf/$g.elf"
    magic=$(head -c 7 "$f" | od -An -tx1 | tr -d ' \n')
    [[ "$magic" == "7f454c46010101" ]] || { echo "build.sh: $f is not a little-endian ELF32" >&2; exit 1; }
    machine=$(od -An -tu2 -j18 -N2 "$f" | tr -d ' ')
    [[ "$machine" == "243" ]] || { echo "build.sh: $f is not RISC-V (e_machine=$machine)" >&2; exit 1; }
    entry=$(od -An -tx4 -j24 -N4 "$f" | tr -d ' ')
    [[ "$entry" == "00010000" ]] || { echo "build.sh: $f entry is 0x$entry, not 0x00010000" >&2; exit 1; }
    echo "built $f ($(wc -c <"$f") bytes)"
done
