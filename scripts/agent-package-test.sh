#!/usr/bin/env bash
# agent-package-test.sh builds the agent's exe and MSI signed with a test
# certificate made here (a throwaway CA and code-signing leaf), then checks:
#   - the exe is a PE32+ for x64, and both files verify with osslsigncode
#     against the test CA; a copy with one changed byte does not;
#   - the MSI is x64 and has the LocalSystem auto-start service with
#     start/stop/remove control, the SERVERURL / ACTIVATIONKEY properties
#     remembered in the registry, the tray Run key, MajorUpgrade, and the
#     activation key hidden from logs and marked secure.
# CI runs it from scripts/test.sh. The real certificate comes from the
# environment (COUNTERSIGN_SIGN_PFX, see scripts/build-agent.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/countersign-pkg.XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

echo "==> test code-signing certificate"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Countersign Test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=Countersign Agent Test Signer" \
	-keyout "$work/sign.key" -out "$work/sign.csr" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=codeSigning\n' >"$work/ext"
openssl x509 -req -in "$work/sign.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
	-extfile "$work/ext" -out "$work/sign.pem" 2>/dev/null
openssl pkcs12 -export -inkey "$work/sign.key" -in "$work/sign.pem" -certfile "$work/ca.pem" \
	-passout pass:test -out "$work/sign.pfx"

OUT=$work/bin COUNTERSIGN_SIGN_PFX=$work/sign.pfx COUNTERSIGN_SIGN_PASS=test scripts/build-agent.sh 1.2.3
exe=$work/bin/countersign-agent.exe msi=$work/bin/countersign-agent.msi

echo "==> checks"
grep -q 'PE32+ executable (GUI) x86-64' <<<"$(file "$exe")" || fail "exe is not a 64-bit GUI PE: $(file "$exe")"
for f in "$exe" "$msi"; do
	osslsigncode verify -CAfile "$work/ca.pem" -in "$f" >"$work/verify.log" 2>&1 ||
		{ cat "$work/verify.log"; fail "signature of $f does not verify"; }
	grep -q 'Signature verification: ok' "$work/verify.log" || fail "no ok verification for $f"
done
# One byte in the middle of the exe, inverted: writing a fixed byte would
# change nothing where the file already holds it (it did, once the exe's
# middle byte happened to be 0).
cp "$exe" "$work/tampered.exe"
off=$(( $(stat -c %s "$exe") / 2 ))
byte=$(od -An -tu1 -j "$off" -N1 "$exe" | tr -d ' ')
printf "\\$(printf '%03o' $(( byte ^ 0xff )))" | dd of="$work/tampered.exe" bs=1 seek="$off" conv=notrunc status=none
cmp -s "$exe" "$work/tampered.exe" && fail "the tampered copy is the same as the exe"
if osslsigncode verify -CAfile "$work/ca.pem" -in "$work/tampered.exe" >/dev/null 2>&1; then
	fail "a tampered exe still verifies"
fi

grep -q 'Template: x64;1033' <<<"$(msiinfo suminfo "$msi")" || fail "MSI is not x64"
tables=$(msiinfo tables "$msi")
for t in ServiceInstall ServiceControl Registry RegLocator AppSearch Upgrade; do
	grep -qx "$t" <<<"$tables" || fail "MSI has no $t table"
done
svc=$(msiinfo export "$msi" ServiceInstall | tail -1)
# Name, DisplayName, Type 16 (own process), Start 2 (auto), ErrorControl 1, account LocalSystem, argument "service"
awk -F'\t' '$1=="AgentService" && $2=="CountersignAgent" && $4==16 && $5==2 && $6==1 && $9=="LocalSystem" && $11=="service" {ok=1} END {exit !ok}' <<<"$svc" ||
	fail "service install row is wrong: $svc"
ctl=$(msiinfo export "$msi" ServiceControl | tail -1)
# Event 161 = start on install, stop on install and uninstall, remove on uninstall (+ wait)
awk -F'\t' '$2=="CountersignAgent" && ($3==161 || $3==163) && $5==1 {ok=1} END {exit !ok}' <<<"$ctl" ||
	fail "service control row is wrong: $ctl"
reg=$(msiinfo export "$msi" Registry)
grep -q $'SOFTWARE\\\\Countersign\\\\Agent\tServerURL\t\\[SERVERURL\\]' <<<"$reg" || fail "SERVERURL is not stored: $reg"
grep -q $'ActivationKey\t\\[ACTIVATIONKEY\\]' <<<"$reg" || fail "ACTIVATIONKEY is not stored"
grep -q 'CurrentVersion\\Run.CountersignTray."\[INSTALLDIR\]countersign-agent.exe" tray' <<<"$reg" || fail "no tray Run key: $reg"
grep -q 'SERVERURL' <<<"$(msiinfo export "$msi" AppSearch)" || fail "SERVERURL is not read back on repair/upgrade"
props=$(msiinfo export "$msi" Property)
grep -q $'MsiHiddenProperties\tACTIVATIONKEY' <<<"$props" || fail "ACTIVATIONKEY is not hidden from logs"
grep -q $'SecureCustomProperties\t.*SERVERURL;ACTIVATIONKEY' <<<"$props" || fail "properties are not secure"
grep -q $'ProductVersion\t1.2.3' <<<"$props" || fail "wrong ProductVersion"
grep -q '6C1F5E0A-3B7D-4F4B-9C2E-7A5D2B8E4F10' <<<"$(msiinfo export "$msi" Upgrade)" || fail "no MajorUpgrade on the UpgradeCode"
echo "agent package: exe and MSI built, signed, verified (tampered copy refused), MSI tables checked"
