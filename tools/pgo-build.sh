#!/usr/bin/env bash
# Profile-guided build of Sluice: target/pgo/release/sluice.
#
#   tools/pgo-build.sh            # about 7 minutes on 2 cores from a clean tree
#
# 1. builds an instrumented Sluice (target/pgo-gen),
# 2. trains it with the load bench (benches/load.rs: small GET _search, 2 KB POST _search and
#    5 MB _bulk through the in-process fake node, audit off then on), never with the shared
#    bench rig's own tools,
# 3. builds Sluice again with that profile, which lays out the hot request path compactly
#    (fewer instruction-cache misses: the request path crosses hyper, tokio and Sluice).
#
# Needs the llvm-tools rustup component (installed here if missing). The plain
# `cargo build --release` stays the reference build; README "Performance" gives both.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
profiles="$root/target/pgo-profiles"

rustup component add llvm-tools >/dev/null 2>&1 || true
sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
[[ -x $profdata ]] || { echo "pgo-build: llvm-profdata not found (rustup component add llvm-tools)" >&2; exit 1; }

echo "== 1/3 instrumented build"
rm -rf "$profiles"
mkdir -p "$profiles"
RUSTFLAGS="-Cprofile-generate=$profiles/unused" cargo build --release --locked --bin sluice --target-dir target/pgo-gen

echo "== 2/3 training with the load bench"
for audit in false true; do
  SLUICE_BIN="$root/target/pgo-gen/release/sluice" LLVM_PROFILE_FILE="$profiles/sluice-%p.profraw" \
    SLUICE_AUDIT_ENABLED=$audit SLUICE_AUDIT_PATH="$profiles/audit.log" BENCH_SECS=${PGO_TRAIN_SECS:-3} BENCH_GIB=0 \
    cargo bench --locked --bench load
done
ls "$profiles"/sluice-*.profraw >/dev/null 2>&1 || { echo "pgo-build: the instrumented Sluice wrote no profile" >&2; exit 1; }
"$profdata" merge -o "$profiles/merged.profdata" "$profiles"/sluice-*.profraw

echo "== 3/3 optimised build with the profile"
RUSTFLAGS="-Cprofile-use=$profiles/merged.profdata" cargo build --release --locked --bin sluice --target-dir target/pgo
echo "built: target/pgo/release/sluice"
