#!/usr/bin/env bash
# screenshots.sh takes README's pictures (docs/console.png, docs/pod.png)
# from a fresh `countersign demo` in headless Chromium: see
# scripts/screenshots/main.go. Needs Debian's chromium (make test installs it).
#
# Usage: scripts/screenshots.sh [-chromium PATH] [-out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d /tmp/countersign-shots-bin.XXXXXX)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/countersign" ./cmd/countersign
go run ./scripts/screenshots -countersign "$bin/countersign" -chromium "${COUNTERSIGN_TEST_CHROMIUM:-/usr/bin/chromium}" "$@"
