#!/usr/bin/env bash
# Checks that the crates are ready to publish, without publishing anything:
#
# 1. the documentation of every crate builds without a warning, with every feature and with the
#    default ones (`RUSTDOCFLAGS=-D warnings`);
# 2. each published crate's package holds its sources, README and both license texts, and no
#    tests, benches or test data (`cargo package --list`);
# 3. `cargo publish --workspace --dry-run` packages every published crate, builds each from its
#    package against the others' packages, in dependency order, and warns of nothing but the
#    two things every such run says (see below).
#
# Exits non-zero on any warning or failure. Run it on a clean checkout: a crate whose files have
# uncommitted changes is refused by cargo, as a real `cargo publish` would refuse it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The crates `cargo publish --workspace` publishes (ws-tests is `publish = false`).
CRATES=(ws-proto ws-adapter ws-runtime-std ws-runtime-smol ws-api)

section() { printf '\n==== %s ====\n' "$*"; }

section "cargo doc, every feature"
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --no-deps --workspace --all-features

section "cargo doc, default features"
RUSTDOCFLAGS="${RUSTDOCFLAGS:-} -D warnings" cargo doc --no-deps --workspace

section "package contents"
status=0
for crate in "${CRATES[@]}"; do
  files=$(cargo package --list -p "$crate")
  for required in Cargo.toml README.md LICENSE-MIT LICENSE-APACHE src/lib.rs; do
    if ! grep -qxF "$required" <<<"$files"; then
      echo "publish-check: the package of $crate lacks $required" >&2
      status=1
    fi
  done
  unwanted=$(grep -E '^(tests|benches|fuzz)/|(^|/)(seeds|corpus)/' <<<"$files" || true)
  if [ -n "$unwanted" ]; then
    echo "publish-check: the package of $crate holds files it should not:" >&2
    echo "$unwanted" >&2
    status=1
  fi
  echo "$crate: $(wc -l <<<"$files") files"
done
[ "$status" = 0 ] || exit 1

section "cargo publish --workspace --dry-run"
# The dry run verifies each crate against the others' packages, which cargo unpacks from a
# temporary local registry into its own registry sources, keyed by that registry's path and the
# version. A copy left there by an earlier run of the same version would be reused as it is, and
# an older state of the crates verified: drop those copies first (local registries only, whose
# directories have no host name; never crates.io's).
cargo_home=${CARGO_HOME:-$HOME/.cargo}
for crate in "${CRATES[@]}"; do
  rm -rf "$cargo_home"/registry/src/-*/"$crate"-[0-9]*
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
CARGO_TERM_COLOR=never cargo publish --workspace --dry-run 2>&1 | tee "$log"
# Every dry run says it skipped the upload, and cargo names each test target the `include`
# lists leave out of the packages on purpose; any other warning fails the check.
unexpected=$(grep '^warning' "$log" \
  | grep -vxF 'warning: aborting upload due to dry run' \
  | grep -vx 'warning: ignoring test `[^`]*` as `tests/[^`]*` is not included in the published package' \
  || true)
if [ -n "$unexpected" ]; then
  echo "publish-check: cargo publish warned:" >&2
  echo "$unexpected" >&2
  exit 1
fi
echo "publish-check: ${#CRATES[@]} crates ready to publish"
