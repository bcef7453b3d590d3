#!/usr/bin/env bash
# samba-ad.sh runs a throwaway Samba Active Directory domain controller for
# the directory tests (agent/directory): real AD semantics — uSNChanged,
# tombstones, msDS-UserPasswordExpiryTimeComputed, unicodePwd resets, lockout
# — on loopback, in its own directory.
#
#   scripts/samba-ad.sh start DIR ADDR   # provision (if needed), start, print the test environment
#   scripts/samba-ad.sh stop DIR
#
# Samba's LDAP server has no port setting (389 and 636 are fixed), so each
# instance gets its own loopback address instead of its own ports: ADDR is
# any 127.x.y.z other than 127.0.0.1 (Linux routes all of 127/8 to lo, and
# "interfaces = ADDR/8" with "bind interfaces only" makes Samba bind to it
# alone). Every file — databases, TLS keys, sockets, pid, logs — stays under
# DIR, so two instances on one machine do not meet.
#
# start prints shell `export` lines for the tests (COUNTERSIGN_TEST_AD_URL,
# …_BIND, …_PASSWORD, …_CA, …_SERVERNAME); eval them. The domain is
# CORP.EXAMPLE.TEST; its Administrator password is in the output, so the DC
# must never hold anything that matters. Samba's AD DC runs as root.
#
# Debian packages: samba samba-ad-dc samba-ad-provision ldb-tools ldap-utils.
set -euo pipefail

usage() {
	echo "usage: $0 start DIR ADDR | stop DIR" >&2
	exit 2
}

realm=CORP.EXAMPLE.TEST
domain=CORP
host=dc1
# The provision password must pass the default complexity rules.
adminpass='Countersign!Test1'

start() {
	local dir=$1 addr=$2
	if [[ ! $addr =~ ^127\.[0-9]+\.[0-9]+\.[0-9]+$ || $addr == 127.0.0.1 ]]; then
		echo "samba-ad.sh: ADDR must be a loopback address other than 127.0.0.1 (got $addr)" >&2
		exit 2
	fi
	if [[ $(id -u) -ne 0 ]]; then
		echo "samba-ad.sh: the Samba AD DC must run as root" >&2
		exit 1
	fi
	for tool in samba samba-tool ldapsearch openssl; do
		command -v $tool >/dev/null 2>&1 || {
			echo "samba-ad.sh: $tool not found (apt-get install samba samba-ad-dc samba-ad-provision ldb-tools ldap-utils)" >&2
			exit 1
		}
	done
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local conf="$dir/etc/smb.conf"
	if [[ ! -f $conf ]]; then
		mkdir -p "$dir/run" "$dir/log" "$dir/tls"
		# Samba's own self-signed certificate has a negative serial number,
		# which Go's x509 refuses to parse; make a CA and a server
		# certificate (for the DC's name and ADDR) instead.
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Countersign test AD CA" \
			-keyout "$dir/tls/ca-key.pem" -out "$dir/tls/ca.pem" >/dev/null 2>&1
		openssl req -newkey rsa:2048 -nodes -subj "/CN=$host.${realm,,}" \
			-keyout "$dir/tls/key.pem" -out "$dir/tls/req.pem" >/dev/null 2>&1
		printf 'subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=serverAuth\n' "$host.${realm,,}" "$addr" >"$dir/tls/ext.cnf"
		openssl x509 -req -in "$dir/tls/req.pem" -CA "$dir/tls/ca.pem" -CAkey "$dir/tls/ca-key.pem" \
			-CAcreateserial -days 3650 -extfile "$dir/tls/ext.cnf" -out "$dir/tls/cert.pem" >/dev/null 2>&1
		chmod 600 "$dir/tls/key.pem"
		samba-tool domain provision --realm=$realm --domain=$domain \
			--adminpass="$adminpass" --server-role=dc --dns-backend=NONE --use-rfc2307 \
			--targetdir="$dir" --host-name=$host \
			--option="interfaces=$addr/8" --option="bind interfaces only=yes" \
			--option="pid directory=$dir/run" --option="ncalrpc dir=$dir/run/ncalrpc" \
			--option="winbindd socket directory=$dir/run/winbindd" \
			--option="log file=$dir/log/log.%m" --option="logging=file" \
			--option="tls enabled=yes" --option="tls cafile=$dir/tls/ca.pem" \
			--option="tls certfile=$dir/tls/cert.pem" --option="tls keyfile=$dir/tls/key.pem" \
			>"$dir/provision.log" 2>&1 || {
			cat "$dir/provision.log" >&2
			exit 1
		}
		# A policy the tests can rely on: complexity on (a weak password is
		# refused), no history or minimum age (a test may reset twice), three
		# bad binds lock an account for 30 minutes.
		samba-tool domain passwordsettings set -H "$dir/private/sam.ldb" -s "$conf" \
			--complexity=on --min-pwd-length=7 --history-length=0 --min-pwd-age=0 \
			--max-pwd-age=42 --account-lockout-threshold=3 --account-lockout-duration=30 \
			--reset-account-lockout-after=30 >>"$dir/provision.log" 2>&1 || {
			cat "$dir/provision.log" >&2
			exit 1
		}
	fi
	if [[ -f $dir/samba.pid ]] && kill -0 "$(cat "$dir/samba.pid")" 2>/dev/null; then
		echo "samba-ad.sh: already running in $dir" >&2
	else
		# Only the LDAP service: no KDC, SMB, DNS or replication. -i keeps
		# samba in the foreground of its own background job, so $! is the
		# root process (SIGTERM to it stops its children too).
		samba -s "$conf" -i --option="server services=ldap" >"$dir/samba.log" 2>&1 </dev/null &
		echo $! >"$dir/samba.pid"
	fi

	local i ok=
	for i in $(seq 1 120); do
		if LDAPTLS_REQCERT=never ldapsearch -LLL -o nettimeout=2 -H "ldaps://$addr" -x \
			-D "Administrator@${realm,,}" -w "$adminpass" -b '' -s base highestCommittedUSN >/dev/null 2>&1; then
			ok=1
			break
		fi
		kill -0 "$(cat "$dir/samba.pid")" 2>/dev/null || break
		sleep 0.5
	done
	if [[ -z $ok ]]; then
		echo "samba-ad.sh: the DC did not answer on ldaps://$addr; see $dir/samba.log" >&2
		cat "$dir/samba.log" >&2
		exit 1
	fi
	cat <<-EOF
		export COUNTERSIGN_TEST_AD_URL=ldaps://$addr:636
		export COUNTERSIGN_TEST_AD_BIND=Administrator@${realm,,}
		export COUNTERSIGN_TEST_AD_PASSWORD='$adminpass'
		export COUNTERSIGN_TEST_AD_CA=$dir/tls/ca.pem
		export COUNTERSIGN_TEST_AD_SERVERNAME=$host.${realm,,}
	EOF
}

stop() {
	local dir=$1 pid
	[[ -f $dir/samba.pid ]] || {
		echo "samba-ad.sh: no DC in $dir" >&2
		exit 1
	}
	pid=$(cat "$dir/samba.pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill "$pid"
		for _ in $(seq 1 40); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.25
		done
	fi
	rm -f "$dir/samba.pid"
}

case "${1:-}" in
start)
	[[ $# -eq 3 ]] || usage
	start "$2" "$3"
	;;
stop)
	[[ $# -eq 2 ]] || usage
	stop "$2"
	;;
*) usage ;;
esac
