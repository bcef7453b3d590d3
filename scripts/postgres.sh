#!/usr/bin/env bash
# postgres.sh runs a throwaway PostgreSQL cluster for tests.
#
#   scripts/postgres.sh start DIR PORT   # init (if needed), start, print the DSN
#   scripts/postgres.sh stop DIR
#
# The cluster listens only on 127.0.0.1:PORT and trusts loopback connections,
# so it must never hold anything that matters. Use the printed DSN as
# COUNTERSIGN_TEST_POSTGRES_DSN for `go test ./...`.
#
# PostgreSQL refuses to run as root, so when this script runs as root (CI, a
# fresh Debian box) the server runs as the `postgres` system user that
# Debian's package creates, and DIR is handed to that user.
set -euo pipefail

usage() {
	echo "usage: $0 start DIR PORT | stop DIR" >&2
	exit 2
}

# pgbin finds the newest PostgreSQL install's bin directory. Debian keeps
# initdb and pg_ctl out of PATH, under /usr/lib/postgresql/<major>/bin.
pgbin() {
	local dir
	dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [[ -z "$dir" ]]; then
		# Not Debian's layout: fall back to PATH, resolving symlinks so the
		# sibling tools (pg_isready, psql) are found beside pg_ctl.
		if command -v pg_ctl >/dev/null 2>&1; then
			dir=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
		fi
	fi
	if [[ -z "$dir" || ! -x "$dir/pg_ctl" || ! -x "$dir/initdb" || ! -x "$dir/pg_isready" ]]; then
		echo "postgres.sh: no PostgreSQL binaries found (install the postgresql package)" >&2
		exit 1
	fi
	echo "$dir"
}

# as_pg runs a command as the cluster's owner: the postgres user when we are
# root, else ourselves.
as_pg() {
	if [[ $(id -u) -eq 0 ]]; then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u postgres -- "$@"
		else
			su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
		fi
	else
		"$@"
	fi
}

start() {
	local dir=$1 port=$2 bin data
	bin=$(pgbin)
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	data="$dir/data"
	if [[ $(id -u) -eq 0 ]]; then
		if ! id postgres >/dev/null 2>&1; then
			echo "postgres.sh: running as root but there is no postgres user to run the server as" >&2
			exit 1
		fi
		chown -R postgres: "$dir"
		# The postgres user must be able to reach DIR; t.TempDir-style parents
		# such as /tmp are world-traversable, but a parent under /root is not.
		local p=$dir
		while [[ "$p" != "/" ]]; do
			p=$(dirname "$p")
			if ! runuser -u postgres -- test -x "$p" 2>/dev/null; then
				echo "postgres.sh: user postgres cannot enter $p; choose a DIR under /tmp" >&2
				exit 1
			fi
		done
	fi

	if [[ ! -f "$data/PG_VERSION" ]]; then
		as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 || {
			cat "$dir/initdb.log" >&2
			exit 1
		}
		# Throwaway test cluster: losing it in a crash costs nothing, so trade
		# durability for speed (fsync and synchronous_commit off, no
		# full-page writes). Never copy these settings to a real server.
		cat >>"$data/postgresql.conf" <<-EOF
			listen_addresses = '127.0.0.1'
			port = $port
			unix_socket_directories = '$dir'
			fsync = off
			synchronous_commit = off
			full_page_writes = off
			max_connections = 200
		EOF
		# Trust only loopback TCP and the socket in DIR; nothing else connects.
		cat >"$data/pg_hba.conf" <<-EOF
			local all all trust
			host all all 127.0.0.1/32 trust
		EOF
	fi

	if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		echo "postgres.sh: already running in $dir" >&2
	else
		# -o -p keeps the port right even when DIR was initialised with another.
		as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -o "-p $port -k $dir" -w -t 60 start >/dev/null || {
			cat "$dir/server.log" >&2
			exit 1
		}
	fi

	local i
	for i in $(seq 1 60); do
		if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; then
			break
		fi
		sleep 0.5
	done
	"$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres || {
		echo "postgres.sh: server did not become ready; see $dir/server.log" >&2
		exit 1
	}

	# initdb -U postgres makes the superuser and the postgres database; this
	# keeps a reused DIR from an older layout working too.
	if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
		echo "postgres.sh: cannot connect as postgres; see $dir/server.log" >&2
		exit 1
	fi

	echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
}

stop() {
	local dir=$1 bin
	bin=$(pgbin)
	if [[ ! -f "$dir/data/PG_VERSION" ]]; then
		echo "postgres.sh: no cluster in $dir" >&2
		exit 1
	fi
	if as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	fi
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
