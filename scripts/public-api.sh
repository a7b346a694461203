#!/usr/bin/env bash
# The public API of each published crate, compared with the lists committed under api/.
#
#   scripts/public-api.sh          check: fails, showing the difference, when a crate's public
#                                  surface differs from its api/<crate>.txt
#   scripts/public-api.sh --bless  rewrites api/*.txt after a deliberate change (review the diff)
#
# The lists come from rustdoc's JSON output (an unstable rustdoc format, enabled on the stable
# toolchain with RUSTC_BOOTSTRAP) through scripts/public_api.py. Each crate is documented with
# its default features.
set -euo pipefail
cd "$(dirname "$0")/.."

CRATES="ws-proto ws-adapter ws-runtime-std ws-runtime-smol ws-api"
bless=0
[ "${1:-}" = "--bless" ] && bless=1

command -v python3 >/dev/null || { echo "public-api: python3 is needed" >&2; exit 1; }
target_dir=$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

mkdir -p api
failed=0
for crate in $CRATES; do
  RUSTC_BOOTSTRAP=1 cargo rustdoc -q -p "$crate" -- -Z unstable-options --output-format json
  json="$target_dir/doc/${crate//-/_}.json"
  current=$(python3 scripts/public_api.py "$json")
  if [ "$bless" = 1 ]; then
    printf '%s\n' "$current" > "api/$crate.txt"
    echo "public-api: $crate: $(grep -c . "api/$crate.txt") items written to api/$crate.txt"
  elif ! diff -u "api/$crate.txt" <(printf '%s\n' "$current") > "$target_dir/public-api-$crate.diff"; then
    echo "public-api: $crate: the public surface changed (- committed, + now):"
    cat "$target_dir/public-api-$crate.diff"
    failed=1
  else
    echo "public-api: $crate: unchanged ($(grep -c . "api/$crate.txt") items)"
  fi
done
if [ "$failed" = 1 ]; then
  echo "public-api: if the change is deliberate, run scripts/public-api.sh --bless and commit api/" >&2
  exit 1
fi
