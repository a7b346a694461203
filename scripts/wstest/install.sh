#!/usr/bin/env bash
# Install Autobahn|Testsuite's `wstest` (Python 2.7 only) on Debian 12, idempotently.
#
#   sudo ./install-wstest.sh            # installs into /opt/autobahn-wstest, prints the wstest path
#   WSTEST_PREFIX=/some/dir ./install-wstest.sh
#
# What it does (each step checks first and is skipped when already done):
#   1. Python 2.7 from Debian 11 "bullseye" (Debian 12 has no python2): adds the bullseye suite
#      as an extra apt source (reusing the mirror of the existing bookworm source), pins bullseye
#      to priority 100 so nothing else is ever pulled from it, installs python2.7 python2.7-dev.
#   2. gcc + libc6-dev (wsaccel, autobahn's C accelerator, is built from source).
#   3. pip 20.3.4 / setuptools 44.1.1 / wheel 0.37.1 for Python 2.7: the py2.py3 wheels are
#      downloaded with the machine's Python 3 pip, then pip installs itself from its own wheel
#      into the prefix (PYTHONUSERBASE=<prefix>, i.e. `pip install --user` into the prefix).
#   4. autobahntestsuite 25.10.1 + its fully pinned dependency closure (wstest-requirements.txt).
#   5. A wrapper <prefix>/wstest that sets PYTHONUSERBASE and runs wstest; smoke-tested.
# Exit status: 0 on success (last line: the wstest path), 1 with a message naming the failed step.
{ # the whole script is parsed before it runs, so editing it during a long run is safe
set -euo pipefail

PREFIX="${WSTEST_PREFIX:-/opt/autobahn-wstest}"
PY2="${PYTHON2:-/usr/bin/python2.7}"
KIT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQ="$KIT_DIR/requirements.txt"
BOOT_WHEELS="$PREFIX/bootstrap-wheels"
SRC_FILE=/etc/apt/sources.list.d/bullseye-python2.sources
PIN_FILE=/etc/apt/preferences.d/bullseye-python2.pref
export DEBIAN_FRONTEND=noninteractive
# never let the caller's Python environment leak into the py2 installs
unset PYTHONHOME PYTHONPATH PYTHONNOUSERSITE PIP_USER PIP_TARGET PIP_PREFIX PIP_REQUIRE_VIRTUALENV || true

step() { echo "==> $*"; }
ok() { echo "    ok: $*"; }
fail() { echo "install-wstest: FAILED: $*" >&2; exit 1; }
py2() { PYTHONUSERBASE="$PREFIX" "$PY2" "$@"; }

[ "$(id -u)" = 0 ] || fail "must run as root (apt-get install, writes $PREFIX)"
[ -f "$REQ" ] || fail "missing $REQ (it belongs beside this script)"
if [ -r /etc/os-release ]; then
  . /etc/os-release
  [ "${ID:-}" = debian ] && [ "${VERSION_ID:-}" = 12 ] || echo "warning: written for Debian 12, this is ${PRETTY_NAME:-unknown}" >&2
fi

apt_updated=0
apt_update() { [ "$apt_updated" = 1 ] || { apt-get update -qq || fail "apt-get update"; apt_updated=1; }; }

# ---------------------------------------------------------------- 1. python2.7
step "1/5 Python 2.7 ($PY2)"
py2_ok() { "$PY2" -c 'import sys; assert sys.version_info[:2] == (2, 7)' 2>/dev/null && [ -f /usr/include/python2.7/Python.h ]; }
if py2_ok && [ "${FORCE_APT:-0}" != 1 ]; then
  ok "$("$PY2" --version 2>&1) with headers already installed"
else
  [ "$PY2" = /usr/bin/python2.7 ] || fail "PYTHON2=$PY2 is not a working Python 2.7 with headers"
  if grep -rqsE '^[[:space:]]*Suites:.*\bbullseye\b|^[[:space:]]*deb[[:space:]].*[[:space:]]bullseye[[:space:]]' \
       /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
    ok "an apt source for bullseye is already configured: $(grep -rlsE 'bullseye' /etc/apt/sources.list /etc/apt/sources.list.d/ | tr '\n' ' ')"
  else
    # Reuse the mirror URI of the configured bookworm (main archive, not security) source.
    mirror="$(awk '
      FNR == 1         { if (u != "" && s ~ /bookworm( |$)/) { print u; exit } u=""; s="" }
      /^[[:space:]]*$/ { if (u != "" && s ~ /bookworm( |$)/) { print u; exit } u=""; s=""; next }
      /^URIs:/   { u=$2 }
      /^Suites:/ { $1=""; s=$0 " " }
      END { if (u != "" && s ~ /bookworm( |$)/) print u }' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)"
    if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
      mirror="$(awk '$1=="deb" && $3=="bookworm" { for (i=2;i<=NF;i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list | head -1)"
    fi
    [ -n "$mirror" ] || fail "could not find the bookworm mirror URI in /etc/apt to derive a bullseye source from"
    printf 'Types: deb\nURIs: %s\nSuites: bullseye\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$mirror" > "$SRC_FILE"
    ok "added $SRC_FILE (bullseye from $mirror)"
    apt_updated=0
  fi
  if [ ! -f "$PIN_FILE" ]; then
    printf '# Only install from bullseye what bookworm lacks (python2.7 and its libs).\nPackage: *\nPin: release n=bullseye\nPin-Priority: 100\n' > "$PIN_FILE"
    ok "added $PIN_FILE (bullseye pinned to priority 100)"
  fi
  apt_update
  apt-get install -y -qq --no-install-recommends python2.7 python2.7-dev >/dev/null \
    || fail "apt-get install python2.7 python2.7-dev (from bullseye)"
  py2_ok || fail "python2.7 still not usable after apt-get install"
  ok "installed $("$PY2" --version 2>&1)"
fi

# ---------------------------------------------------------------- 2. compiler
step "2/5 C compiler for wsaccel"
if command -v gcc >/dev/null && [ -f /usr/include/stdio.h ]; then
  ok "gcc present"
else
  apt_update
  apt-get install -y -qq --no-install-recommends gcc libc6-dev >/dev/null || fail "apt-get install gcc libc6-dev"
  ok "installed gcc"
fi

# ---------------------------------------------------------------- 3. pip for py2
step "3/5 pip 20.3.4 for Python 2.7 in $PREFIX"
mkdir -p "$PREFIX" || fail "cannot create $PREFIX"
if py2 -m pip --version 2>/dev/null | grep -q "^pip 20.3.4 from $PREFIX/"; then
  ok "$(py2 -m pip --version 2>/dev/null)"
else
  PIP_WHL="$BOOT_WHEELS/pip-20.3.4-py2.py3-none-any.whl"
  if [ ! -f "$PIP_WHL" ] || [ ! -f "$BOOT_WHEELS/setuptools-44.1.1-py2.py3-none-any.whl" ] \
     || [ ! -f "$BOOT_WHEELS/wheel-0.37.1-py2.py3-none-any.whl" ]; then
    if ! python3 -m pip --version >/dev/null 2>&1; then
      apt_update
      apt-get install -y -qq --no-install-recommends python3-pip >/dev/null || fail "apt-get install python3-pip"
    fi
    mkdir -p "$BOOT_WHEELS"
    python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 2.7 -d "$BOOT_WHEELS" \
      pip==20.3.4 setuptools==44.1.1 wheel==0.37.1 || fail "downloading the py2 pip/setuptools/wheel wheels with python3 -m pip"
  fi
  # pip runs from its own wheel to install itself (no get-pip.py needed)
  py2 "$PIP_WHL/pip" install --quiet --user --no-warn-script-location --no-index --find-links "$BOOT_WHEELS" \
    pip==20.3.4 setuptools==44.1.1 wheel==0.37.1 2>&1 | grep -v DEPRECATION || true
  py2 -m pip --version 2>/dev/null | grep -q "^pip 20.3.4 from $PREFIX/" || fail "pip 20.3.4 bootstrap for python2.7 into $PREFIX"
  ok "$(py2 -m pip --version 2>/dev/null)"
fi

# ---------------------------------------------------------------- 4. autobahntestsuite
step "4/5 autobahntestsuite + pinned dependencies (wstest-requirements.txt)"
reqs_satisfied() {
  py2 -m pip freeze --all --user 2>/dev/null | python3 -c '
import re, sys
norm = lambda n: re.sub(r"[-_.]+", "-", n).lower()
have = {}
for l in sys.stdin:
    m = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", l.strip())
    if m: have[norm(m.group(1))] = m.group(2)
missing = []
for l in open(sys.argv[1]):
    l = l.split("#")[0].strip()
    if not l: continue
    n, v = l.split("==")
    n = norm(re.sub(r"\[.*\]", "", n))
    if have.get(n) != v: missing.append("%s==%s (have %s)" % (n, v, have.get(n)))
if missing:
    print("    not yet satisfied: " + ", ".join(missing)); sys.exit(1)
' "$REQ"
}
if reqs_satisfied && [ -x "$PREFIX/bin/wstest" ]; then
  ok "all pins satisfied"
else
  py2 -m pip install --user --no-warn-script-location --progress-bar off -r "$REQ" 2>&1 \
    | grep -vE '^DEPRECATION|^  (Using cached|Downloading)' || true
  reqs_satisfied || fail "pip install -r $REQ for python2.7 (see output above)"
  [ -x "$PREFIX/bin/wstest" ] || fail "$PREFIX/bin/wstest was not installed"
  ok "installed"
fi

# ---------------------------------------------------------------- 5. wrapper + smoke test
step "5/5 wrapper $PREFIX/wstest"
WRAP="$PREFIX/wstest"
want="#!/bin/sh
# Generated by install-wstest.sh: runs Autobahn|Testsuite's wstest with its private Python 2.7 site.
PYTHONUSERBASE='$PREFIX'; export PYTHONUSERBASE
unset PYTHONHOME PYTHONPATH PYTHONNOUSERSITE
exec '$PY2' '$PREFIX/bin/wstest' \"\$@\""
if [ -f "$WRAP" ] && [ "$(cat "$WRAP")" = "$want" ]; then
  ok "wrapper up to date"
else
  printf '%s\n' "$want" > "$WRAP" && chmod 755 "$WRAP" || fail "writing $WRAP"
  ok "wrote wrapper"
fi
"$WRAP" --help >/dev/null 2>&1 || fail "'$WRAP --help' does not run"
(cd / && PYTHONUSERBASE="$PREFIX" "$PY2" -c 'import autobahntestsuite, autobahn, wsaccel, twisted; print("    autobahntestsuite %s, autobahn %s, twisted %s, wsaccel ok" % (autobahntestsuite.version, autobahn.version, twisted.__version__))') \
  || fail "importing autobahntestsuite/autobahn/wsaccel/twisted"
echo "wstest installed: $WRAP"
exit
}
