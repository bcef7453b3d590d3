#!/usr/bin/env bash
# wine-test.sh runs the agent's Windows test binary (named pipe, service
# handler, DPAPI, machine report) under wine64, as Windows would run it:
#   GOOS=windows go test -exec wine64 ./agent/winagent/
#
# Debian 12's wine (8.0) lacks bcryptprimitives.dll, which every Go ≥ 1.22
# Windows binary needs at start-up; scripts/wine/bcryptprimitives.c is a
# small stand-in, built here with mingw-w64 into a throwaway WINEPREFIX.
#
# Usage: scripts/wine-test.sh [extra go test flags]
set -euo pipefail
cd "$(dirname "$0")/.."

wine64=${WINE64:-/usr/lib/wine/wine64}
[[ -x $wine64 ]] || wine64=$(command -v wine64)
prefix=${WINEPREFIX:-$(mktemp -d /tmp/countersign-wine.XXXXXX)}
export WINEPREFIX=$prefix WINEDEBUG=${WINEDEBUG:--all} WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
trap '[[ -z ${KEEP_WINEPREFIX:-} ]] && { "${wine64%64}server" -k 2>/dev/null || true; rm -rf "$prefix"; }' EXIT

echo "==> wine prefix $prefix"
"$wine64" wineboot --init >/dev/null 2>&1 || true
sys32=$prefix/drive_c/windows/system32
x86_64-w64-mingw32-gcc -shared -O2 -o "$sys32/bcryptprimitives.dll" \
	scripts/wine/bcryptprimitives.c scripts/wine/bcryptprimitives.def -lbcrypt

echo "==> go test (GOOS=windows, -exec wine64) ./agent/winagent/"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go test -count=1 -exec "$wine64" "$@" ./agent/winagent/
