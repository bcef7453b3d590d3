#!/usr/bin/env bash
# build-agent.sh cross-builds the Windows agent and packages it:
#   bin/countersign-agent.exe   windows/amd64, CGO off, GUI subsystem
#   bin/countersign-agent.msi   wixl MSI: LocalSystem service, tray Run key,
#                               SERVERURL / ACTIVATIONKEY properties, upgrades
# Both are Authenticode-signed with osslsigncode (SHA-256) when a PKCS#12
# certificate is given:
#   COUNTERSIGN_SIGN_PFX=path/to/codesign.pfx COUNTERSIGN_SIGN_PASS=... \
#   [COUNTERSIGN_SIGN_TS=http://timestamp.example] scripts/build-agent.sh
# Order (agent-and-ad.md §9): build exe → sign exe → build MSI → patch
# SecureCustomProperties → sign MSI last.
#
# Usage: scripts/build-agent.sh [version]   (default 0.1.0)
set -euo pipefail
cd "$(dirname "$0")/.."
version=${1:-${VERSION:-0.1.0}}
out=${OUT:-bin}
mkdir -p "$out"

echo "==> go build countersign-agent.exe ($version, windows/amd64)"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -trimpath \
	-ldflags "-H=windowsgui -s -w -X github.com/countersign/countersign/agent.Version=$version" \
	-o "$out/countersign-agent.exe" ./cmd/countersign-agent

sign() { # sign IN: replaces IN with its signed copy
	[[ -n ${COUNTERSIGN_SIGN_PFX:-} ]] || return 0
	local ts=()
	[[ -n ${COUNTERSIGN_SIGN_TS:-} ]] && ts=(-ts "$COUNTERSIGN_SIGN_TS")
	osslsigncode sign -pkcs12 "$COUNTERSIGN_SIGN_PFX" -pass "${COUNTERSIGN_SIGN_PASS:-}" -h sha256 \
		-n "Countersign Agent" -i "https://countersign.example" "${ts[@]}" -in "$1" -out "$1.signed" >/dev/null
	mv "$1.signed" "$1"
	echo "    signed $1"
}
sign "$out/countersign-agent.exe"

echo "==> wixl countersign-agent.msi"
# wixl needs a four-part-free version: Windows Installer compares the first three fields.
wixl -a x64 -D Version="$version" -D Exe="$(realpath --relative-to=. "$out/countersign-agent.exe")" \
	-o "$out/countersign-agent.msi" packaging/msi/countersign-agent.wxs
# wixl 0.101 ignores Property Secure="yes"; patch the table instead (§9).
msibuild "$out/countersign-agent.msi" -q "UPDATE \`Property\` SET \`Value\`='WIX_DOWNGRADE_DETECTED;WIX_UPGRADE_DETECTED;SERVERURL;ACTIVATIONKEY' WHERE \`Property\`='SecureCustomProperties'"
sign "$out/countersign-agent.msi"
echo "==> $out/countersign-agent.exe, $out/countersign-agent.msi"
